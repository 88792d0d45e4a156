"""Take the README's screenshots of the playground in headless Chromium: the card of a rich clue, its
follow-up timeline, its Work Object details pane (the flexpane, in Chinese), a batch of cards, a search's
pick list and a card picked in the Find a clue modal.

``python -m bench.screenshot_playground [--out-dir docs] [--chromium /usr/bin/chromium]``

Serves the whole app (sandbox CRM, fake Slack, playground) on a free loopback port and does what a person
would: types ``/clue 1``, pastes the clue's link, clicks Follow-ups, then switches to Chinese and opens the
link's details; then, each in a fresh conversation, ``/clue 1 8 40``, ``/clue 张三``, and Find a clue from
``/clue help`` with 张三 typed and picked. Writes ``playground.png``, ``playground-timeline.png``,
``playground-flexpane.png``, ``playground-batch.png``, ``playground-search.png`` and ``playground-pick.png``.
Uses the ``playwright`` package with the system Chromium and a CJK font (``apt-get install chromium
fonts-noto-cjk``, or ``make system-deps``); it downloads nothing. With ``pngquant`` on the PATH the images
are quantized to a palette (about a third of the size, text still crisp).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.dev.launch import create_playground_app
from bot.dev.loopback import LoopbackServer
from bot.dev.sandbox.seed import RICH_CLUE_ID

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 900}
SHOTS = ("playground.png", "playground-timeline.png", "playground-flexpane.png", "playground-batch.png",
         "playground-search.png", "playground-pick.png")
BATCH = "/clue 1 8 40"  # two cards and one not found, as one list
SEARCH = "/clue 张三"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.screenshot_playground", description=__doc__)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args(argv)
    if not Path(args.chromium).exists():
        print(f"no Chromium at {args.chromium}: apt-get install -y chromium fonts-noto-cjk", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright  # a dev dependency, only needed here

    args.out_dir.mkdir(parents=True, exist_ok=True)
    card, timeline, flexpane, batch, search, pick = (args.out_dir / name for name in SHOTS)
    # Settings.from_env({}): the defaults (sandbox CRM, fake Slack), whatever this shell has set.
    with LoopbackServer(create_playground_app(Settings.from_env({})), lifespan="on") as server, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT, locale="en-US", timezone_id="Asia/Shanghai")
            page.goto(server.url + "/")
            page.wait_for_selector("body[data-ready]")
            template = page.evaluate("fetch('/playground/config').then((r) => r.json())")["clue_url_template"]
            page.fill("#composer-input", f"/clue {RICH_CLUE_ID}")
            page.press("#composer-input", "Enter")
            answer = page.locator(".msg.bot").first
            answer.locator(".b-header").wait_for()
            page.fill("#composer-input", "Have a look: " + template.replace("{id}", str(RICH_CLUE_ID)))
            page.press("#composer-input", "Enter")
            page.locator(".unfurl .wo-card .wo-title").first.wait_for()
            page.evaluate("document.getElementById('conversation').scrollTop = 0")
            _as_slack_shows(page)
            page.screenshot(path=str(card), animations="disabled")

            answer.get_by_role("button", name="Follow-ups").click()
            page.locator(".modal .b-section").first.wait_for()
            _as_slack_shows(page)
            page.screenshot(path=str(timeline), animations="disabled")
            page.locator(".modal").get_by_role("button", name="Close").click()

            page.select_option("#viewer-locale", "zh")
            page.locator(".unfurl .wo-card .wo-title").first.click()
            page.locator("#flexpane .fp-body").wait_for()
            _as_slack_shows(page)
            page.screenshot(path=str(flexpane), animations="disabled")

            for text, path in ((BATCH, batch), (SEARCH, search)):
                page = _fresh_page(browser, server.url)
                page.fill("#composer-input", text)
                page.press("#composer-input", "Enter")
                page.locator(".msg.bot .b-section").first.wait_for()
                _as_slack_shows(page)
                page.screenshot(path=str(path), animations="disabled")

            page = _fresh_page(browser, server.url)
            page.fill("#composer-input", "/clue help")
            page.press("#composer-input", "Enter")
            page.locator(".msg.bot").get_by_role("button", name="Find a clue").click()
            page.locator(".modal .b-select").fill("张三")
            page.locator(".modal .b-select-option").first.click()
            page.locator(".modal .b-header").wait_for()
            _as_slack_shows(page)
            page.screenshot(path=str(pick), animations="disabled")
        finally:
            browser.close()
    quantize = shutil.which("pngquant")
    for path in (card, timeline, flexpane, batch, search, pick):
        if quantize:
            subprocess.run([quantize, "--quality", "85-98", "--speed", "1", "--strip", "--force", "--output",
                            str(path), str(path)], check=True)
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    return 0


def _as_slack_shows(page: Any) -> None:
    """The page as Slack would show it: no echo of a slash command (the playground shows what was typed; Slack
    shows nothing of an ephemeral command but its answer), and no pointer hovering."""
    page.evaluate("document.querySelectorAll('.msg.command').forEach((node) => node.remove())")
    page.mouse.move(0, 0)


def _fresh_page(browser: Any, url: str) -> Any:
    """A new tab on the playground: a conversation of its own, in English."""
    page = browser.new_page(viewport=VIEWPORT, locale="en-US", timezone_id="Asia/Shanghai")
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready]")
    return page


if __name__ == "__main__":
    raise SystemExit(main())
