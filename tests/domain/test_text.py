"""bot.domain.text: escaping, cleaning, truncation, phone masking and URL checks, table-driven."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain import text as text_module
from bot.domain.text import (
    ELLIPSIS,
    MAX_URL_LENGTH,
    clean,
    escape_mrkdwn,
    mask_phone,
    mrkdwn_value,
    plain_value,
    safe_url,
    truncate,
)


@pytest.mark.parametrize(("raw", "escaped"), [
    ("plain", "plain"),
    ("<!channel>", "&lt;!channel&gt;"),
    ("<!here|here>", "&lt;!here|here&gt;"),
    ("<@U123>", "&lt;@U123&gt;"),
    ("<https://evil.example|x>", "&lt;https://evil.example|x&gt;"),
    ("&amp;", "&amp;amp;"),  # already-escaped text is escaped again: it is data, not markup
    ("a & b", "a &amp; b"),
    ("*bold* _it_ ~s~ `c` \"q\" 'a'", "*bold* _it_ ~s~ `c` \"q\" 'a'"),
    ("", ""),
])
def test_escape_mrkdwn(raw: str, escaped: str) -> None:
    assert escape_mrkdwn(raw) == escaped


@pytest.mark.parametrize(("raw", "cleaned"), [
    ("张三", "张三"),
    ("a\u200bb\u200cc\u200dd\u200ee\u200ff", "abcdef"),
    ("\ufeffBOM", "BOM"),
    ("a\u2060b\u2064c", "abc"),
    ("\u202egnp.exe", "gnp.exe"),  # RTL override
    ("\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069x", "x"),
    ("a\x00b\x07c\x1bd\x7fe\x9bf", "abcdef"),
    ("tab\there", "tab here"),
    ("l1\r\nl2\rl3\u2028l4\x85l5", "l1\nl2\nl3\nl4\nl5"),
    ("keep\nnewlines", "keep\nnewlines"),
    ("👩\u200d💻", "👩\u200d💻"),  # the joiner inside an emoji sequence stays
    ("👍🏽\u200d", "👍🏽"),
    ("ab\u200dcd", "abcd"),
    ("lone \ud800 surrogate", "lone  surrogate"),
])
def test_clean(raw: str, cleaned: str) -> None:
    assert clean(raw) == cleaned


@pytest.mark.parametrize(("raw", "limit", "cut"), [
    ("short", 10, "short"),
    ("exactly10!", 10, "exactly10!"),
    ("abcdefghijk", 10, "abcdefghi…"),
    ("trailing space here", 10, "trailing…"),
    ("打马赛克就打马赛克就", 5, "打马赛克…"),
    ("ab👩\u200d💻cd", 4, "ab…"),  # a ZWJ sequence is not split
    ("ab👩\u200d💻cd", 6, "ab👩\u200d💻…"),
    ("e\u0301e\u0301e\u0301", 4, "e\u0301…"),  # nor a combining accent
    ("🇨🇳🇺🇸🇯🇵", 4, "🇨🇳…"),  # nor a flag
    ("👍🏽👍🏽", 3, "👍🏽…"),
    ("x\ud83d\ude00y", 3, "x…"),  # a surrogate pair (lenient decoding) stays whole
    ("anything", 1, "…"),
    ("anything", 0, ""),
    ("", 0, ""),
])
def test_truncate(raw: str, limit: int, cut: str) -> None:
    assert truncate(raw, limit) == cut
    assert len(cut) <= limit


def test_truncate_rejects_negative_limit() -> None:
    with pytest.raises(ValueError, match="limit"):
        truncate("x", -1)


@pytest.mark.parametrize(("raw", "limit", "value"), [
    ("<!channel> please", 100, "&lt;!channel&gt; please"),
    ("<@U123> <https://evil|x>", 100, "&lt;@U123&gt; &lt;https://evil|x&gt;"),
    ("&amp;", 100, "&amp;amp;"),
    ("`code` ```block```", 100, "ˋcodeˋ ˋˋˋblockˋˋˋ"),
    ("multi\nline\ttext  spaced", 100, "multi line text spaced"),
    ("  \u200b  ", 100, ""),
    # Truncation happens before escaping, counting what escaping adds: never half an entity.
    ("a<b", 5, "a…"),
    ("a<bc", 6, "a&lt;…"),
    ("a<b", 6, "a&lt;b"),
    ("&&&&", 11, "&amp;&amp;…"),
    ("&&&&", 20, "&amp;&amp;&amp;&amp;"),
])
def test_mrkdwn_value(raw: str, limit: int, value: str) -> None:
    assert mrkdwn_value(raw, limit) == value
    assert len(value) <= limit


def test_mrkdwn_value_multiline_keeps_lines_but_not_blank_runs() -> None:
    raw = "line 1  \r\n\r\n\r\n\r\n  line 2\n\tline 3\n\n"
    assert mrkdwn_value(raw, 100, multiline=True) == "line 1\n\nline 2\nline 3"


@pytest.mark.parametrize(("raw", "limit", "value"), [
    ("<!channel>", 100, "<!channel>"),  # inert in plain_text: Slack parses nothing there
    ("a & b", 100, "a & b"),
    ("\u202eabc\u200b", 100, "abc"),
    ("x" * 200, 150, "x" * 149 + ELLIPSIS),
    ("one\ntwo", 100, "one two"),
])
def test_plain_value(raw: str, limit: int, value: str) -> None:
    assert plain_value(raw, limit) == value


@pytest.mark.parametrize(("phone", "masked"), [
    ("13812345678", "138****5678"),
    ("145678388", "1****8388"),  # the CRM's own 9-digit example: 5 of 9 shown (7 before, #25 item 9)
    ("12345678", "****5678"),  # 8 digits (Hong Kong, Singapore, Macau, landlines): half (7 before)
    ("+852 9123 4567", "+852 **** 4567"),
    ("1234567", "****567"),  # 7 digits: 3 shown
    ("1234", "****"),
    ("123", "***"),
    ("12", "**"),
    ("", ""),
    ("n/a", "n/a"),
    ("+86 138 1234 5678", "+86 138 **** 5678"),
    ("+86-138-1234-5678", "+86-138-****-5678"),
    ("(+86) 13812345678", "(+86) 138****5678"),
    ("+8613812345678", "+86138****5678"),
    ("008613812345678", "0086138****5678"),
    ("+1 (555) 123-4567", "+1 (55*) ***-4567"),
    ("021-5555-0123", "021-****-0123"),
    ("  138 1234\t5678 ", "138 **** 5678"),
    ("１３８１２３４５６７８", "１３８****５６７８"),  # full-width digits are digits too
    ("一三八一二三四五六七八", "一三八****五六七八"),  # and Chinese numerals (#13 item 11)
    ("幺三八 〇二三四 五六七八", "幺三八 **** 五六七八"),
    ("壹叁捌壹贰叁肆伍陆柒捌", "壹叁捌****伍陆柒捌"),  # financial numerals (#25 item 9)
    ("壹叁捌 壹贰叁肆 伍陆柒捌", "壹叁捌 **** 伍陆柒捌"),
    ("١٣٨١٢٣٤٥٦٧٨", "١٣٨****٥٦٧٨"),  # Arabic-Indic digits
    ("१३८१२३४५६७८", "१३८****५६७८"),  # Devanagari
    ("+86 一三八1234５六七八", "+86 一三八****５六七八"),  # mixed
    ("一二三四五六", "****五六"),
    ("138\u200b1234\u202e5678", "138****5678"),
    ("138 1234 5678 / 139 8765 4321", "138 **** **** / *** **** 4321"),
])
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


# Digits of every script the masking knows: one rule must treat a phone the same in each.
SCRIPTS = ["0123456789", "０１２３４５６７８９", "〇一二三四五六七八九", "零壹贰叁肆伍陆柒捌玖",
           "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९", "⁰¹²³⁴⁵⁶⁷⁸⁹"]


@given(st.integers(1, 9), st.lists(st.integers(0, 9), max_size=23), st.sampled_from(SCRIPTS),
       st.lists(st.sampled_from(["", " ", "-", ".", "(", ")"]), min_size=24, max_size=24), st.booleans())
def test_one_masking_rule_for_every_length_and_script(first: int, more: list[int], script: str,
                                                       separators: list[str], empty: bool) -> None:
    """Of n digits: at least 4 hidden, at most 7 shown, never more than 7 of 11 (about half, as 138****5678
    always was); 8 digits show 4, 9 show 5. The same positions in every script; separators kept."""
    digits = [] if empty else [first, *more]
    phone = "".join(separators[i] + script[d] for i, d in enumerate(digits)).strip()
    masked = mask_phone(phone)
    n = len(digits)
    shown = [i for i, c in enumerate(masked) if c.isnumeric()]
    assert len(shown) == min(7, max(0, n - 4))
    assert len(shown) <= max(n * 7 // 11, n // 2)  # about half: 4 of 8, 5 of 9, 6 of 10, 7 of 11
    assert len(masked) == len(" ".join(phone.split()))  # nothing added or lost: each digit is itself or *
    assert all(masked[i] == " ".join(phone.split())[i] for i in shown)
    ascii_masked = mask_phone("".join(separators[i] + str(d) for i, d in enumerate(digits)).strip())
    assert [c == "*" for c in masked] == [c == "*" for c in ascii_masked]  # one rule, whatever the script


@given(st.text(alphabet="0123456789 +-()", max_size=40))
def test_mask_phone_never_shows_more_than_seven_digits_after_the_country_code(phone: str) -> None:
    masked = mask_phone(phone)
    country = re.match(r"\(?(?:\+|00)\d{1,3}", masked)
    rest = masked[country.end():] if country else masked
    assert sum(c.isdigit() for c in rest) <= 7
    assert len(re.sub(r"\D", "", phone)) < 5 or "*" in masked


@pytest.mark.parametrize(("url", "safe"), [
    ("https://crm.example.com/clue/8", True),
    ("http://crm.example.com:8080/clue?id=8&x=1", True),
    ("HTTPS://CRM.EXAMPLE.COM/", True),
    ("javascript:alert(1)", False),
    ("data:text/html,hi", False),
    ("ftp://crm.example.com/", False),
    ("//crm.example.com/clue/8", False),
    ("/clue/8", False),
    ("https:///clue/8", False),
    ("https://crm.example.com/a b", False),
    ("https://crm.example.com/a\tb", False),
    ("https://crm.example.com/<x>", False),
    ("https://crm.example.com|click", False),
    ("https://crm.example.com\\@evil.example", False),
    ("https://crm.example.com@evil.example/", False),
    ("https://crm.example.com/\u202eevil", False),
    ("https://[::1/", False),
    ("https://crm.example.com:99999/", False),
    ("https://crm.example.com/" + "x" * MAX_URL_LENGTH, False),
    ("", False),
    (None, False),
])
def test_safe_url(url: str | None, safe: bool) -> None:
    assert safe_url(url) == (url if safe else None)


@given(st.text(), st.integers(min_value=0, max_value=300))
def test_values_always_fit_and_stay_escaped(raw: str, limit: int) -> None:
    value = mrkdwn_value(raw, limit)
    assert len(value) <= limit
    assert "<" not in value and ">" not in value and "`" not in value
    assert not re.search(r"&(?!(?:amp|lt|gt);)", value)
    assert len(plain_value(raw, limit)) <= limit
    json.dumps(value, ensure_ascii=False).encode()  # encodable: no lone surrogates survive


@given(st.text())
def test_printable_text_is_left_as_it_is_so_clean_may_skip_it(s: str) -> None:
    # clean() returns printable text untouched without running its substitutions: they must all be no-ops
    # on it, whatever a later edit adds to the characters clean() removes.
    if s.isprintable():
        assert text_module._NEWLINES.sub("\n", s) == s
        assert text_module._SURROGATES.sub("", s).translate(text_module._DELETE) == s
        assert text_module._STRAY_ZWJ.sub("", s) == s
        assert text_module._SPACES.sub(" ", s) == s or "  " in s
    assert clean(s) == clean(clean(s))
