"""Clue ids from what people type and paste: parse_clue_id, parse_command and LinkMatcher as tables."""

from __future__ import annotations

import pytest

from bot.domain.ids import MAX_CLUE_ID, parse_clue_id
from bot.errors import InvalidClueId
from bot.slack.links import MAX_COMMAND_TEXT, LinkMatcher, parse_command

TEMPLATE = "https://crm.example.com/clues/{id}"
MATCHER = LinkMatcher(TEMPLATE)

# ------------------------------------------------------------------------------------------ parse_clue_id


@pytest.mark.parametrize(("text", "clue_id"), [
    ("8", 8),
    ("  8\t", 8),
    ("#8", 8),
    ("0008", 8),
    ("410983932389440", 410983932389440),
    (str(MAX_CLUE_ID), MAX_CLUE_ID),
    ("1" * 19, int("1" * 19)),
])
def test_parse_clue_id_accepts(text: str, clue_id: int) -> None:
    assert parse_clue_id(text) == clue_id


@pytest.mark.parametrize(("text", "reason"), [
    ("", "not_a_number"),
    ("   ", "not_a_number"),
    ("#", "not_a_number"),
    ("##8", "not_a_number"),
    ("0", "zero"),
    ("#000", "zero"),
    ("-1", "not_a_number"),
    ("+8", "not_a_number"),
    ("1.5", "not_a_number"),
    ("8e3", "not_a_number"),
    ("0x10", "not_a_number"),
    ("8 9", "not_a_number"),
    ("1_000", "not_a_number"),
    ("abc", "not_a_number"),
    ("８", "not_a_number"),  # full-width digits are for /clue text only (see parse_command)
    ("٨", "not_a_number"),  # Arabic-Indic eight: \d would have matched it
    ("𝟖", "not_a_number"),  # mathematical bold eight
    ("²", "not_a_number"),  # isdigit() but int() refuses it
    ("8\u200b", "not_a_number"),
    (str(MAX_CLUE_ID + 1), "too_long"),
    ("9" * 19, "too_long"),
    ("9" * 20, "too_long"),
    ("#" + "1" * 25, "too_long"),
])
def test_parse_clue_id_refuses(text: str, reason: str) -> None:
    with pytest.raises(InvalidClueId) as caught:
        parse_clue_id(text)
    assert caught.value.reason == reason
    assert caught.value.text == text


def test_invalid_id_message_is_bounded() -> None:
    with pytest.raises(InvalidClueId) as caught:
        parse_clue_id("x" * 5000)
    assert len(str(caught.value)) < 100


# ------------------------------------------------------------------------------------------ LinkMatcher


@pytest.mark.parametrize(("url", "clue_id"), [
    ("https://crm.example.com/clues/8", 8),
    ("http://crm.example.com/clues/8", 8),  # http and https both
    ("HTTPS://CRM.EXAMPLE.COM/clues/8", 8),  # scheme and host are case-insensitive
    ("https://Crm.Example.Com/clues/8", 8),
    ("https://crm.example.com/clues/8/", 8),  # trailing slash
    ("https://crm.example.com/clues/8?tab=info", 8),  # query
    ("https://crm.example.com/clues/8#follow-ups", 8),  # fragment
    ("https://crm.example.com/clues/8/?tab=info&x=1#f", 8),
    ("https://crm.example.com/clues/8?tab=info&amp;x=1", 8),  # Slack HTML-escapes & in event links
    ("  https://crm.example.com/clues/8  ", 8),
    ("https://crm.example.com/clues/410983932389440", 410983932389440),
    (f"https://crm.example.com/clues/{MAX_CLUE_ID}", MAX_CLUE_ID),
    ("https://crm.example.com/clues/0008", 8),
])
def test_template_links_match(url: str, clue_id: int) -> None:
    assert MATCHER.match(url) == clue_id


@pytest.mark.parametrize("url", [
    "https://crm.example.com.evil.io/clues/8",  # look-alike host: the template's host plus a suffix
    "https://evil.com/crm.example.com/clues/8",  # the template's host inside another host's path
    "https://evil.com/?u=https://crm.example.com/clues/8",
    "https://crm.example.com@evil.io/clues/8",  # user info
    "https://evil.io#https://crm.example.com/clues/8",
    "https://xcrm.example.com/clues/8",
    "https://crm-example.com/clues/8",  # the dot is literal, not "any character"
    "https://crm.example.com:8443/clues/8",  # another port is another origin
    "ftp://crm.example.com/clues/8",
    "javascript:https://crm.example.com/clues/8",
    "//crm.example.com/clues/8",
    "crm.example.com/clues/8",
    "https://crm.example.com/clues/",
    "https://crm.example.com/clues/abc",
    "https://crm.example.com/clues/-8",
    "https://crm.example.com/clues/0",
    "https://crm.example.com/clues/8.5",
    "https://crm.example.com/clues/8abc",
    "https://crm.example.com/clues/8/edit",  # another page of the clue is not the template
    "https://crm.example.com/clues/８",  # full-width digit
    "https://crm.example.com/clues/٨",  # Arabic-Indic digit
    f"https://crm.example.com/clues/{MAX_CLUE_ID + 1}",
    "https://crm.example.com/clues/" + "9" * 20,
    "https://crm.example.com/other/8",
    "https://crm.example.com/clues/8\nhttps://evil.io",
    "",
])
def test_other_links_do_not_match(url: str) -> None:
    assert MATCHER.match(url) is None


@pytest.mark.parametrize(("template", "url", "clue_id"), [
    # The id in the middle of the path: the rest must follow.
    ("https://crm.example.com/clues/{id}/detail", "https://crm.example.com/clues/8/detail", 8),
    ("https://crm.example.com/clues/{id}/detail", "https://crm.example.com/clues/8/detail/?x=1", 8),
    ("https://crm.example.com/clues/{id}/detail", "https://crm.example.com/clues/8", None),
    ("https://crm.example.com/clues/{id}/detail", "https://crm.example.com/clues/8/other", None),
    # A path prefix, as with CRM_BASE_URL.
    ("https://crm.example.com/apiServer/web/clue/{id}", "https://crm.example.com/apiServer/web/clue/12", 12),
    ("https://crm.example.com/apiServer/web/clue/{id}", "https://crm.example.com/web/clue/12", None),
    # Hash routes of single-page CRMs.
    ("https://crm.example.com/#/clue/{id}", "https://crm.example.com/#/clue/12", 12),
    ("https://crm.example.com/#/clue/{id}", "https://crm.example.com/#/clue/12?tab=1", 12),
    # The id as a query parameter: other parameters may follow, escaped or not.
    ("https://crm.example.com/clue?id={id}", "https://crm.example.com/clue?id=12", 12),
    ("https://crm.example.com/clue?id={id}", "https://crm.example.com/clue?id=12&tab=1", 12),
    ("https://crm.example.com/clue?id={id}", "https://crm.example.com/clue?id=12&amp;tab=1", 12),
    ("https://crm.example.com/clue?id={id}", "https://crm.example.com/clue?id=12x", None),
    ("https://crm.example.com/clue?id={id}", "https://crm.example.com/clue?xid=12", None),
    # A port in the template is required; the template's own scheme does not matter.
    ("http://crm.example.com:8080/clues/{id}", "https://crm.example.com:8080/clues/5", 5),
    ("http://crm.example.com:8080/clues/{id}", "https://crm.example.com/clues/5", None),
    # A template whose host has regex metacharacters is matched literally.
    ("https://crm.example.com/c+l(u)e/{id}", "https://crm.example.com/c+l(u)e/5", 5),
    ("https://crm.example.com/c+l(u)e/{id}", "https://crm.example.com/cllue/5", None),
])
def test_template_shapes(template: str, url: str, clue_id: int | None) -> None:
    matcher = LinkMatcher(template)
    assert matcher.match(url) == clue_id
    if clue_id is not None:
        assert matcher.match(matcher.url_for(clue_id)) == clue_id


PATTERNS = [
    r"https://m\.crm\.example\.com/c/(?P<id>\d+)",
    r"https://crm\.example\.com/(?:list|clue-(?P<id>\d+))",  # the id group may not take part
    r"https://short\.example/(?P<id>[a-z0-9]+)",  # a group wider than the id grammar
]


@pytest.mark.parametrize(("url", "clue_id"), [
    ("https://crm.example.com/clues/8", 8),  # the template still works
    ("https://m.crm.example.com/c/12", 12),
    ("https://m.crm.example.com/c/12?x=1", None),  # extra patterns must match the whole URL
    ("https://crm.example.com/clue-7", 7),
    ("https://crm.example.com/list", None),  # matched, but without an id
    ("https://short.example/42", 42),
    ("https://short.example/abc", None),  # matched, but not an id: no error, no id
    ("https://short.example/0", None),
    ("https://short.example/" + "9" * 25, None),
])
def test_extra_patterns(url: str, clue_id: int | None) -> None:
    assert LinkMatcher(TEMPLATE, PATTERNS).match(url) == clue_id


def test_url_for_round_trips() -> None:
    assert MATCHER.url_for(8) == "https://crm.example.com/clues/8"
    assert MATCHER.match(MATCHER.url_for(MAX_CLUE_ID)) == MAX_CLUE_ID


# ------------------------------------------------------------------------------------------ parse_command

LINKED = LinkMatcher(TEMPLATE, [r"https://m\.crm\.example\.com/c/(?P<id>\d+)"])


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP", " Help ", "-h", "--help", "?", "帮助", ",", " , ，\t"])
def test_command_help(text: str) -> None:
    request = parse_command(text, LINKED, 10)
    assert request.help and request.ids == () and request.invalid == ()


@pytest.mark.parametrize(("text", "ids"), [
    ("8", (8,)),
    ("#8", (8,)),
    ("8 12 40", (8, 12, 40)),
    ("8,12,40", (8, 12, 40)),
    ("8, 12，40", (8, 12, 40)),  # full-width comma
    ("8\n12\t40", (8, 12, 40)),
    ("8 8 #8 0008", (8,)),  # duplicates once, first position kept
    ("12 8 12", (12, 8)),
    ("８", (8,)),  # full-width digits from a Chinese IME
    ("＃１２", (12,)),
    ("https://crm.example.com/clues/8", (8,)),
    ("<https://crm.example.com/clues/8>", (8,)),  # should_escape wraps links
    ("<https://crm.example.com/clues/8|https://crm.example.com/clues/8>", (8,)),
    ("<https://crm.example.com/clues/8|Clue 8 (张三)>", (8,)),  # a label with spaces is display text
    ("<https://crm.example.com/clues/8?a=1&amp;b=2|x>", (8,)),
    ("https://m.crm.example.com/c/12 8", (12, 8)),  # extra patterns, mixed with ids
    ("<https://crm.example.com/clues/410983932389440|clue>", (410983932389440,)),
])
def test_command_ids(text: str, ids: tuple[int, ...]) -> None:
    request = parse_command(text, LINKED, 10)
    assert not request.help
    assert request.ids == ids
    assert request.invalid == ()
    assert not request.too_many


@pytest.mark.parametrize(("text", "token", "reason"), [
    ("abc", "abc", "not_a_number"),
    ("0", "0", "zero"),
    ("-5", "-5", "not_a_number"),
    ("99999999999999999999", "99999999999999999999", "too_long"),
    ("1.5", "1.5", "not_a_number"),
    ("8;DROP", "8;DROP", "not_a_number"),
    ("٨", "٨", "not_a_number"),
    ("<@U0BOSS>", "@U0BOSS", "not_a_number"),
    ("<!channel>", "!channel", "not_a_number"),
    ("<#C0123|general>", "#C0123", "not_a_number"),
    ("https://evil.example.com/clues/8", "https://evil.example.com/clues/8", "not_a_clue_link"),
    ("<https://evil.example.com/clues/8|8>", "https://evil.example.com/clues/8", "not_a_clue_link"),  # label ignored
    ("https://crm.example.com.evil.io/clues/8", "https://crm.example.com.evil.io/clues/8", "not_a_clue_link"),
    ("crm.example.com/clues/8", "crm.example.com/clues/8", "not_a_clue_link"),
    ("https://crm.example.com/clues/0", "https://crm.example.com/clues/0", "not_a_clue_link"),
])
def test_command_invalid_tokens(text: str, token: str, reason: str) -> None:
    request = parse_command(f"8 {text} 12", LINKED, 10)
    assert request.ids == (8, 12)  # the valid ids are kept; the listener refuses on any invalid token
    [bad] = request.invalid
    assert (bad.text, bad.reason) == (token, reason)


def test_command_too_many_ids_is_capped() -> None:
    request = parse_command(" ".join(str(i) for i in range(1, 13)), LINKED, 10)
    assert request.too_many
    assert request.ids == tuple(range(1, 11))


def test_command_exactly_max_ids_is_fine() -> None:
    request = parse_command(" ".join(str(i) for i in range(1, 11)), LINKED, 10)
    assert not request.too_many and len(request.ids) == 10


def test_command_too_long_text_is_one_invalid_token() -> None:
    request = parse_command("8 " * MAX_COMMAND_TEXT, LINKED, 10)
    assert request.ids == ()
    [bad] = request.invalid
    assert bad.reason == "text_too_long"
