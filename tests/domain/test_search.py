"""Search text normalisation: written phones, full-width input, refusals."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.search import (
    MAX_QUERY_CHARS,
    MIN_PHONE_DIGITS,
    PHONE,
    TEXT,
    QueryRefused,
    fingerprint_key,
    normalise_query,
    query_hash,
    written_phone,
)
from bot.domain.text import mask_phone

KEY = fingerprint_key("test-signing-secret")


@pytest.mark.parametrize("text", ["+86 138-0013-8000", "138 0013 8000", "0086 13800138000", "(+86)138.0013.8000",
                                  "１３８ ００１３ ８０００", "+8613800138000", "13800138000"])
def test_phones_normalise_to_eleven_digits(text: str) -> None:
    assert normalise_query(text) == normalise_query("13800138000")
    assert normalise_query(text).kind == PHONE and normalise_query(text).key == "13800138000"


def test_bare_digits_are_not_a_written_phone() -> None:
    assert written_phone("13800138000") is None  # /clue 13800138000 stays a clue id
    assert written_phone("１３８００１３８０００") is None  # full-width digits alone, too
    assert written_phone("8 12 40") is None and written_phone("12800138000 1") is None


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty"), ("   ", "empty"), ("z", "too_short"), ("😀😀", "nothing_searchable"),
    ("\u0301\u0301", "nothing_searchable"), ("!!", "nothing_searchable"), ("x" * 10_000, "too_long"),
    ("张" * (MAX_QUERY_CHARS + 1), "too_long"), ("\u200bz\u200b", "too_short"),
    ("13", "too_few_digits"), ("1390013", "too_few_digits"), ("139 0013", "too_few_digits"),
    ("+86 139", "too_few_digits"), ("１３９００１３", "too_few_digits"), ("(0006)", "too_few_digits"),
])
def test_refusals_have_reasons(text: str, reason: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        normalise_query(text)
    assert refused.value.reason == reason


def test_text_is_tidied_and_case_folded_for_the_cache() -> None:
    query = normalise_query("  Ｊａｎｅ\u200b   DOE ")
    assert (query.key, query.kind) == ("Jane DOE", TEXT)
    assert query.cache_key == normalise_query("jane doe").cache_key
    assert "Jane" not in query.fingerprint(KEY) and query.fingerprint(KEY).startswith("8:")


@pytest.mark.parametrize(("text", "key"), [("13900130", "13900130"), ("9123 4567", "91234567"),
                                           ("0006-1390-01", "0006139001")])
def test_eight_digits_or_more_are_a_phone_search(text: str, key: str) -> None:
    query = normalise_query(text)
    assert (query.key, query.kind) == (key, PHONE)


@given(st.text(alphabet="0123456789", min_size=8, max_size=11), st.integers(0, 10), st.integers(1, 11))
def test_no_allowed_digit_query_confirms_a_hidden_digit_alone(phone: str, start: int, length: int) -> None:
    """Any digit query the search accepts, taken from a phone of 8 to 11 digits, covers every digit the mask
    hides there: confirming one hidden digit means guessing all of them at once."""
    window = phone[start:start + length]
    try:
        normalise_query(window)
    except QueryRefused:
        return
    assert len(window) >= MIN_PHONE_DIGITS
    hidden = [i for i, c in enumerate(mask_phone(phone)) if c == "*"]
    assert all(start <= i < start + len(window) for i in hidden)


def test_the_query_hash_is_keyed() -> None:
    """A log reader without the key cannot test candidate phones against the hash."""
    query = normalise_query("13900130006")
    assert query.fingerprint(KEY) != query.fingerprint(fingerprint_key("another-secret"))
    assert query_hash("13900130006", KEY) not in {query_hash("13900130006", b"")}
    assert len(query_hash("13900130006", KEY)) == 16


@given(st.text(max_size=300))
def test_any_text_is_a_query_or_a_refusal(text: str) -> None:
    try:
        query = normalise_query(text)
    except QueryRefused as refused:
        assert refused.reason in {"empty", "too_short", "nothing_searchable", "too_long", "too_few_digits"}
        return
    assert 1 <= len(query.key) <= MAX_QUERY_CHARS
    if len(query.key) == 1:  # one character is a search only when it is a wide one (a Han surname)
        assert unicodedata.east_asian_width(query.key) in "WF"


@pytest.mark.parametrize("text", ["张", "王", " 李 ", "ｚｈ", "zh"])
def test_one_han_character_or_two_letters_is_a_search(text: str) -> None:
    """A surname alone is what people type (#21 item 11): one Han character counts as two letters."""
    assert normalise_query(text).kind == TEXT
