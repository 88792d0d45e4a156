"""Take ``docs/playground.png``: the playground page showing the card for ``/clue 8``, in headless Chromium.

``python -m bench.screenshot_playground [--out docs/playground.png] [--chromium /usr/bin/chromium]``

Serves the whole app (sandbox CRM, fake Slack, playground) on a free loopback port, types ``/clue 8``
and pastes a clue link the way a person would, and saves the screenshot. Uses the ``playwright``
package with the system Chromium (``apt-get install chromium fonts-noto-cjk``); it downloads nothing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import Settings
from bot.dev.launch import create_playground_app
from bot.dev.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.screenshot_playground", description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "playground.png")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args(argv)
    if not Path(args.chromium).exists():
        print(f"no Chromium at {args.chromium}: apt-get install -y chromium fonts-noto-cjk", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright  # a dev dependency, only needed here

    args.out.parent.mkdir(parents=True, exist_ok=True)
    # Settings.from_env({}): the defaults (sandbox CRM, fake Slack), whatever this shell has set.
    with LoopbackServer(create_playground_app(Settings.from_env({})), lifespan="on") as server, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1080}, locale="en-US",
                                    timezone_id="Asia/Shanghai")
            page.goto(server.url + "/")
            page.wait_for_selector("body[data-ready]")
            page.fill("#composer-input", "/clue 8")
            page.press("#composer-input", "Enter")
            page.locator(".msg.bot .b-header").first.wait_for()
            page.fill("#composer-input", "Have a look: https://crm.example.com/clues/8")
            page.press("#composer-input", "Enter")
            page.locator(".unfurl .b-header").first.wait_for()
            page.evaluate("document.getElementById('conversation').scrollTop = 0")
            page.mouse.move(0, 0)
            page.screenshot(path=str(args.out), animations="disabled")
        finally:
            browser.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
