"""README stays true: its first screen and install steps (the configuration table: tests/test_config.py)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_first_screen_has_the_two_commands() -> None:
    first_screen = (ROOT / "README.md").read_text().split("---", 1)[0]
    commands = re.findall(r"^make \w+", first_screen, flags=re.MULTILINE)
    assert commands == ["make run", "make test"]


def test_install_steps_verify_the_request_url_with_the_server_running() -> None:
    # Slack only accepts an events request URL that answered its url_verification: the server must be up
    # (with the signing secret it needs) before that check, and the steps must say so in that order.
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Installing into a Slack workspace", 1)[1].split("\n## ", 1)[0]
    steps = re.split(r"^\d+\. ", section, flags=re.MULTILINE)[1:]

    def step_of(needle: str) -> int:
        return next(i for i, step in enumerate(steps) if needle in step)

    secret, serve, verify = step_of("Signing Secret"), step_of("python -m bot serve"), step_of("url_verification")
    assert secret < serve < verify
    assert "running" in steps[verify]
