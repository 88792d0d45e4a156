"""The playground in real headless Chromium: a person types ``/clue 8``, clicks buttons and pastes a link.

The whole app runs on a loopback port (sandbox CRM, fake Slack, playground) and the page talks to it as
in ``make run``. Needs the ``playwright`` package, Debian's ``chromium`` (no browser download) and a CJK
font (``fonts-noto-cjk``): when one is missing the tests fail and say so, since CI installs them.
Chinese is checked to be laid out by a font that has it (Chromium's own account of the fonts it used,
over the DevTools protocol), and a phone-sized screen to need no sideways scrolling; no pixels compared.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pytest

from bot.config import Settings
from bot.dev.launch import create_playground_app
from bot.dev.loopback import LoopbackServer
from bot.dev.sandbox.seed import HOSTILE_CLUE_ID, MISSING_CLUE_ID, RICH_CLUE_ID

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Playwright adds --headless and its own --user-data-dir; the rest keeps Chromium off the network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
BUILDER = "https://app.slack.com/block-kit-builder/#"
MASKED_PHONE = re.compile(r"\d+\*+\d+")
# Families that hold Chinese: Noto/Source Han (fonts-noto-cjk), WenQuanYi, Droid Sans Fallback, and the like.
CJK_FAMILY = re.compile(r"CJK|Han Sans|Han Serif|WenQuanYi|Droid Sans Fallback|Hei|Song|Ming|Kai|PingFang|YaHei")
HAN = re.compile(r"[\u3400-\u9fff]")


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
    yield from open_page(browser, server, viewport={"width": 1280, "height": 900})


@pytest.fixture
def phone(browser: Browser, server: LoopbackServer) -> Iterator[Page]:
    """The playground on a 390 px wide phone screen."""
    yield from open_page(browser, server, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)


def open_page(browser: Browser, server: LoopbackServer, **options: Any) -> Iterator[Page]:
    context = browser.new_context(locale="en-US", timezone_id="America/New_York", **options)
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


def clue_link(page: Page, clue_id: int) -> str:
    """A link to a clue as the app knows them: the sandbox CRM's page (CLUE_URL_TEMPLATE left at its default)."""
    config: dict[str, Any] = page.evaluate("fetch('/playground/config').then((answer) => answer.json())")
    return str(config["clue_url_template"]).replace("{id}", str(clue_id))


def fonts_for(page: Page, selector: str) -> dict[str, int]:
    """The fonts Chromium laid the first ``selector`` element's text out with: family -> glyphs drawn."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    finally:
        cdp.detach()
    return {font["familyName"]: font["glyphCount"] for font in fonts}


def assert_chinese_is_laid_out(page: Page, selector: str) -> None:
    """The element's own text (its child text nodes, what Chromium reports fonts for) is Chinese, drawn by a
    font that has it (not one box per character)."""
    text = page.locator(selector).first.evaluate(
        "(node) => [...node.childNodes].filter((child) => child.nodeType === Node.TEXT_NODE)"
        ".map((child) => child.textContent).join('')")
    han = len(HAN.findall(text))
    assert han > 0, f"no Chinese in {selector}: {text!r}"
    fonts = fonts_for(page, selector)
    cjk = sum(count for family, count in fonts.items() if CJK_FAMILY.search(family))
    assert cjk >= han, f"{selector} {text!r} laid out with {fonts}: install a CJK font (apt-get install fonts-noto-cjk)"


def assert_fits(page: Page, width: int = 390) -> None:
    """Nothing wider than the screen: the page needs no sideways scrolling."""
    widths = page.evaluate("[document.documentElement.scrollWidth, document.body.scrollWidth]")
    assert max(widths) <= width, widths


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

    card.get_by_role("button", name="More actions").click()  # Refresh is in the card's overflow menu
    card.get_by_role("menuitem", name="Refresh").click()
    expect(page.locator("#log")).to_contain_text("replace_original")
    expect(card).to_have_count(1)
    expect(card.locator(".b-header")).to_have_text("打马赛克就")

    link = clue_link(page, 8)
    send(page, link)
    unfurl = page.locator(".msg.user .unfurl")
    expect(unfurl.locator(".b-header")).to_have_text("打马赛克就")
    assert unfurl.get_attribute("data-url") == link
    expect(unfurl.locator(".b-fields")).to_contain_text(MASKED_PHONE)
    expect(unfurl.get_by_role("link", name="Open in CRM")).to_have_attribute("target", "_blank")


def test_share_posts_the_card_to_the_channel(page: Page) -> None:
    from playwright.sync_api import expect

    send(page, "/clue 8")
    ephemeral = page.locator(".msg.bot.ephemeral")
    ephemeral.get_by_role("button", name="More actions").click()
    ephemeral.get_by_role("menuitem", name="Share to channel").click()
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

    send(page, clue_link(page, 1))
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



def test_the_first_chip_is_a_rich_clue_whose_card_timeline_and_details_render(page: Page) -> None:
    from playwright.sync_api import expect

    chips = page.locator("#examples button")
    expect(chips.first).to_have_text(re.compile(rf"^/clue {RICH_CLUE_ID}\b"))
    chips.first.click()
    card = page.locator(".msg.bot.ephemeral")
    expect(card.locator(".b-header")).to_have_text("张伟")
    expect(card.locator(".blocks")).to_contain_text("overdue")  # its next follow-up, 2025-03-12, has passed
    expect(card.locator(".blocks")).to_contain_text("已加企微，约了周三下午线上演示。")  # the latest follow-up
    card.get_by_role("button", name="Follow-ups").click()
    modal = page.locator(".modal")
    expect(modal.locator(".b-section")).to_have_count(3)
    expect(modal.locator(".b-section").first).to_contain_text("张三")
    modal.get_by_role("button", name="Close").click()

    page.get_by_role("button", name="paste a clue link").click()
    work_object = page.locator(".msg.user .unfurl .wo-card")
    expect(work_object.locator(".wo-title")).to_have_text("张伟")
    work_object.locator(".wo-title").click()
    expect(page.locator("#flexpane .wo-fields")).to_contain_text("上海市浦东新区张江路 88 号")
    assert_chinese_is_laid_out(page, "#flexpane .fp-title")


def test_chinese_viewers_get_chinese_cards_drawn_with_a_real_font(page: Page) -> None:
    from playwright.sync_api import expect

    page.get_by_label("Language").select_option("zh")
    expect(page.locator("#viewer-status")).to_contain_text("U0PLAYERZH")
    send(page, f"/clue {RICH_CLUE_ID}")
    card = page.locator(".msg.bot.ephemeral")
    expect(card.locator(".b-fields")).to_contain_text("阶段")
    expect(card.locator(".blocks")).to_contain_text(re.compile(r"逾期 \d+ 天"))  # days since the due date
    assert_chinese_is_laid_out(page, ".msg.bot.ephemeral .b-header")
    assert_chinese_is_laid_out(page, ".msg.bot.ephemeral .b-field strong")
    card.get_by_role("button", name="跟进记录").click()
    expect(page.locator(".modal .modal-title")).to_have_text("跟进记录")
    assert_chinese_is_laid_out(page, ".modal .modal-title")
    page.locator(".modal .modal-footer button").click()

    page.get_by_label("Language").select_option("zh-TW")
    send(page, clue_link(page, RICH_CLUE_ID))
    page.locator(".msg.user .unfurl .wo-title").click()
    pane = page.locator("#flexpane")
    expect(pane.locator(".wo-fields")).to_contain_text("階段")  # the flexpane speaks the viewer's zh-TW
    assert_chinese_is_laid_out(page, "#flexpane .wo-fields dt")


def test_the_time_zone_switch_renders_dates_again(page: Page) -> None:
    from playwright.sync_api import expect

    send(page, "/clue 8")
    latest = page.locator(".msg.bot.ephemeral .b-section time").first
    # The latest follow-up was written 2021-05-11 15:20 in Shanghai: 07:20 UTC.
    expect(latest).to_have_text(re.compile(r"May 11, 2021,? 3:20\sAM"))  # this browser's New York
    zone = page.get_by_label("Time zone")
    expect(zone.locator("option").first).to_have_text("Browser's (America/New_York)")
    for name, hour in (("Asia/Shanghai", r"3:20\sPM"), ("America/Los_Angeles", r"12:20\sAM"), ("UTC", r"7:20\sAM"),
                       ("", r"3:20\sAM")):
        zone.select_option(name)
        expect(latest).to_have_text(re.compile(r"May 11, 2021,? " + hour))
    zone.select_option("Asia/Shanghai")
    page.reload()
    page.wait_for_selector("body[data-ready]")
    expect(page.get_by_label("Time zone")).to_have_value("Asia/Shanghai")  # the choice outlives a reload


def test_a_link_that_gets_no_preview_says_why(page: Page) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name="paste another link").click()
    note = page.locator(".msg.user").last.locator(".unfurl-skip")
    expect(note).to_contain_text("not a clue link")
    expect(note).to_contain_text("CLUE_URL_TEMPLATE")
    page.get_by_role("button", name="paste a link to a missing clue").click()
    note = page.locator(".msg.user").last.locator(".unfurl-skip")
    expect(note).to_contain_text(f"clue {MISSING_CLUE_ID} does not exist in the CRM")
    expect(page.locator("#log")).to_contain_text("unfurl.skipped: not_found")


def test_open_in_crm_opens_the_sandbox_page_of_the_clue(page: Page) -> None:
    from playwright.sync_api import expect

    send(page, f"/clue {RICH_CLUE_ID}")
    button = page.locator(".msg.bot.ephemeral").get_by_role("link", name="Open in CRM")
    assert button.get_attribute("href") == clue_link(page, RICH_CLUE_ID)
    with page.context.expect_page() as opened:
        button.click()
    crm = opened.value
    expect(crm.get_by_role("heading", level=1)).to_have_text("张伟")
    expect(crm.locator("body")).to_contain_text("138****5678")
    crm.close()


def test_a_390_px_screen_needs_no_sideways_scrolling(phone: Page) -> None:
    from playwright.sync_api import expect

    send(phone, f"/clue {RICH_CLUE_ID}")
    card = phone.locator(".msg.bot.ephemeral")
    expect(card.locator(".b-header")).to_be_visible()
    card.locator(".json summary").click()
    expect(card.locator(".json-body")).to_be_visible()
    assert_fits(phone)
    box = card.locator(".json-body").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    card.get_by_role("button", name="Follow-ups").click()
    expect(phone.locator(".modal .b-section").first).to_be_visible()
    assert_fits(phone)
    phone.locator(".modal .modal-footer button").click()
    send(phone, clue_link(phone, RICH_CLUE_ID))
    phone.locator(".msg.user .unfurl .wo-title").click()
    expect(phone.locator("#flexpane .fp-body")).to_be_visible()
    assert_fits(phone)
    phone.get_by_role("button", name="Close details").click()
    phone.locator("#log details").first.locator("summary").click()
    assert_fits(phone)
