"""Search text normalisation: written phones, full-width input, refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.search import MAX_QUERY_CHARS, PHONE, TEXT, QueryRefused, normalise_query, written_phone


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
    ("", "empty"), ("   ", "empty"), ("张", "too_short"), ("😀😀", "nothing_searchable"),
    ("\u0301\u0301", "nothing_searchable"), ("!!", "nothing_searchable"), ("x" * 10_000, "too_long"),
    ("张" * (MAX_QUERY_CHARS + 1), "too_long"), ("\u200b张\u200b", "too_short"),
])
def test_refusals_have_reasons(text: str, reason: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        normalise_query(text)
    assert refused.value.reason == reason


def test_text_is_tidied_and_case_folded_for_the_cache() -> None:
    query = normalise_query("  Ｊａｎｅ\u200b   DOE ")
    assert (query.key, query.kind) == ("Jane DOE", TEXT)
    assert query.cache_key == normalise_query("jane doe").cache_key
    assert "Jane" not in query.fingerprint and query.fingerprint.startswith("8:")


@given(st.text(max_size=300))
def test_any_text_is_a_query_or_a_refusal(text: str) -> None:
    try:
        query = normalise_query(text)
    except QueryRefused as refused:
        assert refused.reason in {"empty", "too_short", "nothing_searchable", "too_long"}
        return
    assert 2 <= len(query.key) <= MAX_QUERY_CHARS
