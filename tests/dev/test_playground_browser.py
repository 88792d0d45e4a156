"""The playground in real headless Chromium: a person types ``/clue 8``, clicks buttons and pastes a link.

The whole app runs on a loopback port (sandbox CRM, fake Slack, playground) and the page talks to it as
in ``make run``. Needs the ``playwright`` package and Debian's ``chromium`` (no browser download): when
either is missing the tests fail and say so, since CI installs both.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

import pytest

from bot.config import Settings
from bot.dev.launch import create_playground_app
from bot.dev.loopback import LoopbackServer
from bot.dev.sandbox.seed import HOSTILE_CLUE_ID

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Playwright adds --headless and its own --user-data-dir; the rest keeps Chromium off the network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
LINK = "https://crm.example.com/clues/8"
BUILDER = "https://app.slack.com/block-kit-builder/#"
MASKED_PHONE = re.compile(r"\d+\*+\d+")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install -e '.[dev]' (never `playwright install`)",
                    pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(create_playground_app(Settings.from_env({})), lifespan="on") as running:
        yield running


@pytest.fixture
def page(browser: Browser, server: LoopbackServer) -> Iterator[Page]:
    """A fresh tab on the playground, in New York time; fails the test on any script error."""
    context = browser.new_context(locale="en-US", timezone_id="America/New_York")
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.goto(server.url + "/")
    tab.wait_for_selector("body[data-ready]")
    yield tab
    context.close()
    assert errors == []


def send(page: Page, text: str) -> None:
    page.get_by_label("Message #playground").fill(text)
    page.keyboard.press("Enter")


def test_clue_8_refresh_and_a_pasted_link(page: Page) -> None:
    from playwright.sync_api import expect

    send(page, "/clue 8")
    card = page.locator(".msg.bot.ephemeral")
    expect(card.locator(".b-header")).to_have_text("打马赛克就")
    expect(card.locator(".only-you")).to_have_text("Only visible to you")
    expect(card.locator(".b-fields")).to_contain_text(MASKED_PHONE)
    # The latest follow-up, 2021-05-11 15:20:00 in Shanghai, shown in this browser's zone.
    expect(card.locator(".b-section time").first).to_have_text(re.compile(r"May 11, 2021,? 3:20\sAM"))

    builder = card.locator(".builder-link")
    href = builder.get_attribute("href") or ""
    assert href.startswith(BUILDER)
    blocks = json.loads(unquote(href.removeprefix(BUILDER)))["blocks"]
    assert blocks[0]["text"]["text"] == "打马赛克就"

    card.get_by_role("button", name="Refresh").click()
    expect(page.locator("#log")).to_contain_text("replace_original")
    expect(card).to_have_count(1)
    expect(card.locator(".b-header")).to_have_text("打马赛克就")

    send(page, LINK)
    unfurl = page.locator(".msg.user .unfurl")
    expect(unfurl.locator(".b-header")).to_have_text("打马赛克就")
    assert unfurl.get_attribute("data-url") == LINK
    expect(unfurl.locator(".b-fields")).to_contain_text(MASKED_PHONE)
    expect(unfurl.get_by_role("link", name="Open in CRM")).to_have_attribute("target", "_blank")


def test_share_posts_the_card_to_the_channel(page: Page) -> None:
    from playwright.sync_api import expect

    send(page, "/clue 8")
    page.locator(".msg.bot.ephemeral").get_by_role("button", name="Share to channel").click()
    shared = page.locator(".msg.bot:not(.ephemeral)")
    expect(shared.locator(".b-header")).to_have_text("打马赛克就")
    expect(shared.locator(".m-mention")).to_have_text("@you")
    expect(page.locator(".msg.bot.ephemeral")).to_have_count(0)


def test_crm_text_is_shown_as_text(page: Page) -> None:
    from playwright.sync_api import expect

    send(page, f"/clue {HOSTILE_CLUE_ID}")
    card = page.locator(".msg.bot.ephemeral")
    expect(card.locator(".b-header")).to_have_text("<!channel> *bold* <https://evil.example|click>")
    expect(card.locator(".b-fields")).to_contain_text("<script>alert(1)</script> & Sons")
    # Entities the CRM itself wrote stay visible: decoding happens once, for Slack's own escaping.
    assert card.locator(".blocks").locator("script, a[href*='evil'], .m-mention").count() == 0
    card.get_by_role("button", name="More details").click()
    details = page.locator(".modal")
    expect(details.locator(".b-text").filter(has_text="Description")).to_contain_text(
        re.compile(r"R&D budget < 100k & > 50k.*&amp; &lt;b&gt;", re.S))
    assert details.locator(".modal-body").locator("script, a[href*='evil'], .m-mention").count() == 0


def test_follow_ups_modal_pages_with_load_more(page: Page) -> None:
    from playwright.sync_api import expect

    from bot.dev.sandbox import seed

    send(page, f"/clue {seed.LONG_ID_CLUE_ID}")
    card = page.locator(".msg.bot.ephemeral")
    expect(card.locator(".b-header")).to_be_visible()
    card.get_by_role("button", name="Follow-ups").click()
    modal = page.locator(".modal")
    expect(modal.locator(".modal-title")).to_have_text("Follow-ups")
    expect(modal.locator(".b-section")).to_have_count(10)
    modal.get_by_role("button", name="Load more").click()
    expect(modal.locator(".b-section")).to_have_count(20)
    modal.get_by_role("button", name="Close").click()
    expect(page.locator(".modal")).to_have_count(0)
    card.get_by_role("button", name="More details").click()
    expect(page.locator(".modal .modal-title")).to_have_text("Clue details")
    expect(page.locator(".modal")).to_contain_text("Created")


def test_a_pasted_link_is_a_work_object_whose_flexpane_opens(page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    send(page, "https://crm.example.com/clues/1")
    card = page.locator(".msg.user .unfurl .wo-card")
    expect(card.locator(".wo-title")).to_have_text("张伟")
    expect(card.locator(".wo-fields")).to_contain_text("上海云杉信息科技有限公司")
    expect(card.locator(".wo-fields time").first).to_be_visible()  # timestamps typed, shown in local time
    expect(page.locator(".msg.user .unfurl .blocks")).to_be_hidden()  # the Block Kit fallback, on request
    card.get_by_role("button", name="Block Kit fallback").click()
    expect(page.locator(".msg.user .unfurl .blocks")).to_be_visible()

    card.locator(".wo-title").click()
    pane = page.locator("#flexpane")
    expect(pane.locator(".fp-title")).to_have_text("张伟")
    expect(pane.locator(".wo-fields")).to_contain_text("1988-06-15")
    expect(pane.get_by_role("link", name="Open in CRM")).to_have_attribute("target", "_blank")
    expect(page.locator("#log")).to_contain_text("entity.presentDetails: flexpane metadata")
    page.screenshot(path=str(tmp_path / "flexpane.png"))  # renders without a script error (checked by the fixture)
    pane.get_by_role("button", name="Close details").click()
    expect(pane).to_be_hidden()

