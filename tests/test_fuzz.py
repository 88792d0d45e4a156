"""Property tests over hostile input: /clue text, links, CRM JSON and the cards built from it.

Each property runs the Hypothesis profile's number of examples (tests/scope.py: all of them under
``CI=true``, fewer locally) and has no deadline, so the file stays fast and stable. The card properties
go the whole way a CRM string travels: clue/get JSON → ``parse_clue`` → ``Catalog.resolve`` → every
renderer in ``bot/slack/cards.py``.
"""

from __future__ import annotations

import contextlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.crm.catalog import Catalog
from bot.crm.models import (
    parse_clue,
    parse_field_defs,
    parse_follow_ups,
    parse_search,
    parse_tag_tree,
)
from bot.domain.clue import PHONE, Clue
from bot.domain.ids import MAX_CLUE_ID
from bot.domain.text import clean, mask_phone
from bot.errors import CrmProtocolError
from bot.slack.cards import (
    AUDIENCE_CHANNEL,
    AUDIENCE_PRIVATE,
    CardOptions,
    clue_list_message,
    clue_message,
    clue_unfurl,
)
from bot.slack.links import LinkMatcher, parse_command
from tests.blockkit import assert_valid_message, assert_valid_unfurl, walk

FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
CARDS = settings(deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

TEMPLATE = "https://crm.example.com/clues/{id}"
MATCHER = LinkMatcher(TEMPLATE, [r"https://m\.crm\.example\.com/c/(?P<id>\d+)"])
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 3, 6, 8, 0, tzinfo=UTC)
_FULL_WIDTH = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "＃": "#"})

ids = st.integers(1, MAX_CLUE_ID)
# What a hostile CRM (or person) can put in a string: Slack control sequences, entities, mrkdwn, invisible
# and bidi characters, controls, emoji, CJK, lone surrogates (valid in JSON as \ud800), and lots of it.
INJECTIONS = [
    "<!channel>", "<!here>", "<!everyone>", "<@U123>", "<@U0BOSS>", "<#C123|general>", "<!subteam^S1|team>",
    "<https://x|y>", "<https://evil.example|click>", "<mailto:a@b.c|mail>", "<!date^1^{ago}|x>", "&", "&amp;",
    "&lt;", "&#60;", "<", ">", "|", "^", "*b*", "_i_", "~s~", "`code`", "```", "> quote", "\u202e", "\u202d",
    "\u2066", "\u200b", "\u200d", "\u2060", "\ufeff", "\u061c", "\x00", "\x07", "\x1b[31m", "\x7f", "\x85",
    "\r\n", "\n", "\t", "\u2028", "👩\u200d💻", "🇨🇳", "e\u0301", ":skull:", "打马赛克就", "\ud800", "\udfff",
    "javascript:alert(1)", "https://evil.example", "{id}", "%s", "\\", "\"", "'",
]
crm_text = st.lists(
    st.one_of(st.text(max_size=12), st.sampled_from(INJECTIONS),
              st.text(st.characters(categories=["Cs", "Cc", "Cf", "Zl", "Zp", "Mn"]), max_size=4)),
    max_size=8,
).map("".join)
any_text = st.one_of(crm_text, st.tuples(crm_text, st.integers(1, 600)).map(lambda p: p[0] * p[1]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | crm_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(crm_text, children, max_size=4),
    max_leaves=20,
)

# ------------------------------------------------------------------------------------------ /clue text

command_atoms = st.one_of(
    st.text(max_size=8),
    st.text(alphabet="0123456789#,，  \t\n-+.０１２３４５６７８９＃٨𝟖²", max_size=25),
    st.from_regex(r"#?[0-9]{1,22}", fullmatch=True),
    ids.map(str),
    ids.map(MATCHER.url_for),
    ids.map(lambda i: f"<{MATCHER.url_for(i)}|Clue {i} label>"),
    st.sampled_from(["help", "<@U0BOSS>", "<!channel>", "<#C1|x>", "https://evil.example/clues/8",
                     "https://crm.example.com.evil.io/clues/8", "0", "-1", ",", "<", ">", "|"]),
)
command_texts = st.one_of(st.text(), st.lists(command_atoms, max_size=14).map(" ".join))


def _digit_runs(text: str) -> set[int]:
    return {int(run) for run in re.findall(r"[0-9]+", text.translate(_FULL_WIDTH)) if len(run) <= 25}


@FAST
@given(command_texts, st.integers(1, 20))
def test_command_parser_never_raises_and_only_finds_real_ids(text: str, max_ids: int) -> None:
    request = parse_command(text, MATCHER, max_ids)
    assert len(request.ids) <= max_ids
    assert len(set(request.ids)) == len(request.ids)
    assert all(isinstance(i, int) and 1 <= i <= MAX_CLUE_ID for i in request.ids)
    # Junk never becomes an id: each id is a run of (ASCII or full-width) digits the person typed.
    assert set(request.ids) <= _digit_runs(text)
    if request.help:
        assert not request.ids and not request.invalid and request.search is None
    elif request.search is not None:
        assert not request.ids and not request.invalid  # a search is never mixed with lookups
    elif not request.invalid and not request.too_many:
        assert request.ids, "a request that is not help, a search or an error looks something up"
    assert all(len(str(bad)) < 200 for bad in request.invalid)


@FAST
@given(st.text(alphabet=st.characters(blacklist_characters="0123456789０１２３４５６７８９"), max_size=60))
def test_text_without_digits_never_yields_an_id(text: str) -> None:
    assert parse_command(text, MATCHER, 10).ids == ()


@FAST
@given(st.lists(ids, min_size=1, max_size=25, unique=True), st.integers(1, 20),
       st.sampled_from([" ", ",", ", ", "，", "\n"]))
def test_listed_ids_come_back_in_order_capped(clue_ids: list[int], max_ids: int, sep: str) -> None:
    request = parse_command(sep.join(f"#{i}" if i % 2 else str(i) for i in clue_ids), MATCHER, max_ids)
    assert request.ids == tuple(clue_ids[:max_ids])
    assert request.too_many == (len(clue_ids) > max_ids)
    assert request.invalid == ()


# ------------------------------------------------------------------------------------------ links

url_like = st.one_of(
    st.text(),
    st.builds(lambda s, h, p: f"{s}://{h}/{p}", st.sampled_from(["http", "https", "HTTPS", "ftp", "javascript"]),
              st.text(max_size=30), st.text(max_size=40)),
    ids.map(lambda i: MATCHER.url_for(i) + "/" + "x" * (i % 5)),
    st.from_regex(r"https?://[a-z.]{0,20}/clues/[0-9a-z&;#?]{0,30}", fullmatch=True),
)


@FAST
@given(url_like)
def test_link_matcher_never_raises(url: str) -> None:
    found = MATCHER.match(url)
    assert found is None or 1 <= found <= MAX_CLUE_ID


suffixes = st.sampled_from(["", "/", "?tab=info", "/?tab=info", "#follow-ups", "?a=1&b=2", "?a=1&amp;b=2#x"])


@FAST
@given(ids, suffixes, st.sampled_from(["https", "http", "HTTPS"]), st.booleans())
def test_template_urls_round_trip(clue_id: int, suffix: str, scheme: str, upper_host: bool) -> None:
    host = "CRM.EXAMPLE.COM" if upper_host else "crm.example.com"
    url = f"{scheme}://{host}/clues/{clue_id}{suffix}"
    assert MATCHER.match(url) == clue_id
    assert MATCHER.match(MATCHER.url_for(clue_id)) == clue_id


@FAST
@given(ids, st.lists(st.tuples(st.from_regex(r"[a-z]{1,6}", fullmatch=True),
                               st.from_regex(r"[a-z0-9]{0,6}", fullmatch=True)), min_size=2, max_size=4))
def test_amp_escaped_queries_match_like_plain_ones(clue_id: int, params: list[tuple[str, str]]) -> None:
    plain = MATCHER.url_for(clue_id) + "?" + "&".join(f"{k}={v}" for k, v in params)
    escaped = plain.replace("&", "&amp;")
    assert MATCHER.match(plain) == MATCHER.match(escaped) == clue_id
    by_query = LinkMatcher("https://crm.example.com/clue?id={id}")
    query_url = f"https://crm.example.com/clue?id={clue_id}&amp;" + "&amp;".join(f"{k}={v}" for k, v in params)
    assert by_query.match(query_url) == clue_id


hosts = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}", fullmatch=True)


@FAST
@given(hosts, ids)
def test_other_hosts_never_match(host: str, clue_id: int) -> None:
    assume(host not in ("crm.example.com", "m.crm.example.com"))
    for url in (f"https://{host}/clues/{clue_id}",
                f"https://crm.example.com.{host}/clues/{clue_id}",
                f"https://{host}.crm.example.com/clues/{clue_id}",
                f"https://{host}/crm.example.com/clues/{clue_id}",
                f"https://crm.example.com@{host}/clues/{clue_id}",
                f"https://{host}/?next=https://crm.example.com/clues/{clue_id}"):
        assert MATCHER.match(url) is None, url


# ------------------------------------------------------------------------------------------ CRM JSON


def _field(key: Any, kind: Any, value: Any) -> dict[str, Any]:
    return {"field": key, "type": kind, "valueAsText": value}


field_items = st.one_of(
    json_values,
    st.builds(_field, st.sampled_from(["name", "mobile", "corp_name", "description", "address", "birthday",
                                       "owner", "customer_stage", "customer_source", "purchase_intention",
                                       "gender", "91650", "91651"]) | crm_text,
              st.none() | st.integers(-2, 10) | json_values, st.none() | any_text | json_values),
)
clue_shaped = st.fixed_dictionaries({}, optional={
    "customerId": st.one_of(ids, st.integers(), ids.map(str), json_values),
    "isClue": json_values,
    "type": json_values,
    "fields": st.lists(field_items, max_size=12) | json_values,
    "tagIds": st.lists(st.one_of(crm_text, st.integers(), json_values), max_size=6) | json_values,
    "createTime": st.one_of(st.datetimes().map(str), st.from_regex(r"[0-9]{10}|[0-9]{13}", fullmatch=True),
                            crm_text, json_values),
    "lastUpdateTime": crm_text | json_values,
    "convertCustomerTime": crm_text | json_values,
    "companyInfo": st.dictionaries(st.sampled_from(["name", "companyName", "x"]), json_values) | json_values,
})
catalogs = st.builds(
    lambda fields, tags: Catalog(parse_field_defs(fields), parse_tag_tree(tags)),
    st.lists(st.fixed_dictionaries({"id": st.integers(1, 99999) | crm_text, "name": crm_text,
                                     "type": st.integers(1, 8), "outerField": st.none() | crm_text,
                                     "items": st.lists(st.fixed_dictionaries(
                                         {"id": st.integers(0, 10**15), "name": crm_text}), max_size=4)}),
             max_size=4),
    st.lists(st.fixed_dictionaries({"name": crm_text, "tags": st.lists(st.fixed_dictionaries(
        {"id": st.integers(1, 10**15), "name": crm_text, "qwTagId": crm_text}), max_size=4)}), max_size=3),
)


@FAST
@given(st.one_of(json_values, clue_shaped), catalogs)
def test_clue_parser_only_raises_protocol_errors(data: Any, catalog: Catalog) -> None:
    data = json.loads(json.dumps(data))  # as it comes off the wire: surrogate pairs joined, lone ones kept
    try:
        raw = parse_clue(data)
    except CrmProtocolError:
        return
    if raw is None:
        return
    assert 0 <= raw.customer_id <= MAX_CLUE_ID
    clue = catalog.resolve(raw, SHANGHAI)
    assert clue.id == raw.customer_id
    assert clue.has_unknown_ids in (True, False)
    text = clue.to_json()
    text.encode("utf-8")  # storable in Redis and printable, even with lone surrogates from the CRM
    assert Clue.from_json(text) == clue
    assert Clue.from_json(text.encode("utf-8")) == clue


@FAST
@given(json_values)
def test_other_parsers_only_raise_protocol_errors(data: Any) -> None:
    for parse in (parse_field_defs, parse_tag_tree, parse_follow_ups, parse_search):
        with contextlib.suppress(CrmProtocolError):
            parse(data)


@FAST
@given(json_values)
def test_from_json_never_raises_on_junk(data: Any) -> None:
    for text in (json.dumps(data), json.dumps({"v": 1, "id": data}), "[" * 5000, "\x00"):
        assert Clue.from_json(text) is None or isinstance(Clue.from_json(text), Clue)


# ------------------------------------------------------------------------------------------ cards


@FAST
@given(st.text(st.characters(categories=["Nd", "No", "Pd", "Zs"]), min_size=1, max_size=30))
def test_masked_phones_show_few_digits_of_any_script(phone: str) -> None:
    masked = mask_phone(phone)
    # At most 7 digits after a country code of at most 3: superscript, circled or Arabic-Indic alike.
    assert sum(c.isdigit() for c in masked) <= 10
    if sum(c.isdigit() for c in clean(phone)) >= 11:
        assert "*" in masked


OPTION_IDS = ["396823724189760", "402118734090241", "1", "2"]
phone_numbers = st.from_regex(r"1[3-9][0-9]{9}|[0-9]{8,12}", fullmatch=True)


@st.composite
def hostile_clues(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]],
                                              list[str]]:
    """clue/get data, list-fields and tags/list-tree where every string is hostile, plus the phones."""
    phones = draw(st.lists(phone_numbers, min_size=1, max_size=3, unique=True))
    custom_phone = draw(phone_numbers)
    stage_phone = draw(phone_numbers)
    text = draw(st.lists(any_text, min_size=12, max_size=12))
    options = [{"id": int(i), "name": draw(crm_text)} for i in OPTION_IDS]
    fields: list[dict[str, Any]] = [
        {"id": 1, "name": draw(crm_text), "type": 2, "outerField": key, "items": options}
        for key in ("customer_stage", "customer_source", "purchase_intention", "gender")
    ] + [{"id": 91650, "name": draw(crm_text), "type": 6, "outerField": None, "items": options},
         {"id": 91653, "name": draw(crm_text), "type": 8, "outerField": None, "items": []}]
    tag_groups: list[dict[str, Any]] = [{"name": draw(crm_text), "id": 1,
                   "tags": [{"id": 100 + n, "name": draw(any_text), "qwTagId": draw(crm_text)} for n in range(5)]}]
    select = st.sampled_from([*OPTION_IDS, "999"]) | crm_text
    data: dict[str, Any] = {
        "customerId": draw(ids), "isClue": draw(st.none() | st.booleans()), "type": draw(st.integers(0, 9)),
        "fields": [
            _field("name", 1, text[0]), _field("corp_name", 1, text[1]), _field("description", 5, text[2]),
            _field("address", 1, text[3]), _field("owner", 1, text[4]), _field("birthday", 3, text[5]),
            _field("mobile", 8, json.dumps(phones)),
            _field("customer_stage", draw(st.sampled_from([2, 8])), draw(select)),
            _field("customer_source", 2, draw(select)), _field("purchase_intention", None, draw(select)),
            _field("gender", 2, draw(select)), _field("91650", 6, json.dumps(draw(st.lists(select, max_size=4)))),
            _field("91653", 1, custom_phone),  # typed as text by clue/get, a phone by list-fields
            _field(text[6], draw(st.integers(0, 9)), text[7]), _field("91651", 4, text[8]),
        ],
        "tagIds": [*(str(100 + n) for n in range(draw(st.integers(0, 5)))), *draw(st.lists(crm_text, max_size=3))],
        "createTime": text[9], "lastUpdateTime": draw(st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S"))),
        "convertCustomerTime": text[10], "companyInfo": {"name": text[11]},
    }
    if data["fields"][7]["type"] == PHONE:  # the CRM says the stage is a phone: it must be masked too
        data["fields"][7]["valueAsText"] = json.dumps([stage_phone])
        phones = [*phones, stage_phone]
    return data, fields, tag_groups, [*phones, custom_phone]


card_options = st.builds(
    CardOptions, now=st.just(NOW), fetched_at=st.just(NOW - timedelta(minutes=3)),
    locale=st.sampled_from(["en", "zh"]), stale=st.booleans(),
    clue_url=st.sampled_from([None, "https://crm.example.com/clues/1", "javascript:alert(1)"]),
    shareable=st.booleans(), reveal_phone=st.booleans(), shared_by=st.none() | st.just("U0ALICE001"),
)


def _all_text(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


@CARDS
@given(hostile_clues(), card_options)
def test_cards_from_hostile_crm_data_stay_valid_escaped_and_masked(
        crm: tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], list[str]],
        options: CardOptions) -> None:
    data, fields, tag_groups, phones = json.loads(json.dumps(crm))
    raw = parse_clue(data)
    assert raw is not None
    clue = Catalog(parse_field_defs(fields), parse_tag_tree(tag_groups)).resolve(raw, SHANGHAI)
    # The phones must be recognisable: no other CRM string happens to contain them.
    others = _all_text([f["valueAsText"] for f in data["fields"] if f["field"] not in ("mobile", "customer_stage",
                                                                                     "91653")])
    others += _all_text([fields, tag_groups, data["createTime"], data["convertCustomerTime"], data["companyInfo"]])
    for phone in phones:
        assume(phone not in others and phone not in str(data["customerId"]))

    private = clue_message(clue, options.__class__(**{**_opts(options), "audience": AUDIENCE_PRIVATE}))
    channel = clue_message(clue, options.__class__(**{**_opts(options), "audience": AUDIENCE_CHANNEL}))
    unfurl = clue_unfurl(clue, options)
    listed = clue_list_message([clue, (clue.id % MAX_CLUE_ID + 1, "not_found")], options,
                               urls={clue.id: "https://crm.example.com/clues/1"})
    for message in (private, channel, listed):
        assert_valid_message(message)  # limits, slack_sdk round trip, only our own <…> tokens in mrkdwn
    assert_valid_unfurl(unfurl)
    # Whatever the CRM sends, no mrkdwn text or fallback can mention, link or break out.
    for message in (private, channel, unfurl, listed):
        mrkdwn = [d["text"] for d in walk(message) if d.get("type") == "mrkdwn"] + [message.get("text", "")]
        for text in mrkdwn:
            for token in ("<!channel", "<!here", "<!everyone", "<@U123", "<@U0BOSS", "<https://", "<#C", "<mailto:"):
                assert token not in text
        assert "javascript:" not in _all_text([e.get("url") for e in walk(message)])
    # Everyone in the conversation sees channel cards and unfurls: every phone masked.
    public = _all_text([channel, unfurl, listed])
    for phone in phones:
        assert phone not in public
    if options.reveal_phone:  # only a private card, after Reveal, shows them
        assert clue.phones[0] in _all_text(private)


def _opts(options: CardOptions) -> dict[str, Any]:
    return {name: getattr(options, name) for name in CardOptions.__dataclass_fields__}
