"""Search text: what people type to find a clue, normalised into the key the CRM is asked for.

Pure functions. A written phone (``+86 138-0013-8000``, ``138 0013 8000``, full-width digits) becomes
its 11 digits; any other text is NFKC-normalised (full-width letters and digits become ASCII), cleaned
of invisible characters and squeezed to single spaces. Text with nothing searchable in it (only
punctuation, emoji or combining marks), shorter than ``MIN_QUERY_CHARS`` or longer than
``MAX_QUERY_CHARS`` is refused with a reason code, never sent to the CRM.

Digits alone are a phone search, and need ``MIN_PHONE_DIGITS``: a masked phone hides at least 4 digits
(``bot.domain.text.mask_phone``), and any run of 8 digits from a number of 8 to 11 digits covers all of
them, so a search can only confirm the hidden digits by guessing them all at once (10,000 guesses
against a budget of a few searches a minute, each an audit line), never one digit at a time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass, field

from bot.domain.clue import CrmTime
from bot.domain.text import clean

MIN_QUERY_CHARS = 2  # in Latin letters; a wide character (a Han surname: "张") counts two
MAX_QUERY_CHARS = 64  # names and phones are short; longer text is a paste gone wrong
MIN_PHONE_DIGITS = 8  # a query of digits alone: see the module's docstring
MAX_RESULT_PAGES = 5  # pages of one search a person may turn (50 results): refine the search for more
PHONE = "phone"
TEXT = "text"

# A mainland mobile as people write it: an optional +86 / 0086 / 86 prefix, then 1[3-9] and nine
# more digits, with spaces, dashes, dots or brackets between any of them.
_WRITTEN_PHONE = re.compile(r"(?:\(?(?:\+|00)?86\)?[\s.\-]*)?(1[3-9](?:[\s.\-()]*[0-9]){9})")
_SEPARATORS = re.compile(r"[\s.\-()]+")
_DIGIT_QUERY = re.compile(r"\+?[\s.\-()]*[0-9][0-9\s.\-()]*")  # digits, maybe written with separators
_SPACES = re.compile(r"\s+")


class QueryRefused(ValueError):
    """Search text that is not sent to the CRM; ``reason`` is a stable code (``too_short``…)."""

    def __init__(self, reason: str, length: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.length = length


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A normalised search: ``key`` is what the CRM is asked for, ``kind`` is ``phone`` or ``text``."""

    key: str
    kind: str

    @property
    def cache_key(self) -> str:
        """Case does not make a different search (the CRM matches names case-insensitively)."""
        return self.key.casefold()

    def fingerprint(self, key: bytes) -> str:
        """What logs carry instead of the text, which may be a phone number: its length and a short keyed hash.
        Keyed (``key`` is a secret the log reader does not hold): an unkeyed hash of a phone is reversed by
        hashing every number with the same prefix, in seconds."""
        return f"{len(self.key)}:{query_hash(self.key, key)}"


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One page of one search. Spellings that are one search (``cache_key``) make equal requests; the
    query itself rides along (the first asker's spelling is what the CRM is sent)."""

    query: SearchQuery = field(compare=False)
    page_no: int = 1
    cache_key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cache_key", self.query.cache_key)


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One match. ``name``, ``phone`` and ``company`` only when something told us: the CRM's rows carry them
    under the tenant's field ids when it has them; a clue in cache fills in what a row lacks."""

    clue_id: int
    name: str | None = None
    stage: str | None = None
    created: CrmTime | None = None
    tags: tuple[str, ...] = ()
    phone: str | None = None
    company: str | None = None


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of matches for ``query``; ``total_pages`` as the CRM said (0 with hits means unknown)."""

    query: SearchQuery
    page_no: int
    hits: tuple[SearchHit, ...]
    total_pages: int


def query_hash(text: str, key: bytes) -> str:
    return hmac.new(key, text.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:16]


def fingerprint_key(secret: str) -> bytes:
    """The key for query fingerprints, derived from a secret every instance shares (the same search has the
    same fingerprint on every instance) and used for nothing else."""
    return hmac.new(secret.encode(), b"clue-bot search query fingerprint", hashlib.sha256).digest()


def written_phone(text: str) -> str | None:
    """The 11 digits of a mainland mobile written with separators or a country code, else None.

    A bare run of 11 digits is not a written phone here: ``/clue 13800138000`` stays a clue id, so a
    command that worked yesterday means the same today (``/clue find 13800138000`` searches it).
    """
    ascii_text = unicodedata.normalize("NFKC", text).strip()
    if ascii_text.isascii() and ascii_text.isdigit():
        return None
    match = _WRITTEN_PHONE.fullmatch(ascii_text)
    return _SEPARATORS.sub("", match.group(1)) if match else None


def normalise_query(text: str) -> SearchQuery:
    """The search for ``text``; ``QueryRefused`` when there is nothing sensible to search."""
    if len(text) > MAX_QUERY_CHARS * 4:  # before any work on a 10 KB paste
        raise QueryRefused("too_long", len(text))
    compact = _SPACES.sub(" ", clean(unicodedata.normalize("NFKC", text))).strip()
    phone = written_phone(compact)
    if phone is not None:
        return SearchQuery(phone, PHONE)
    if _DIGIT_QUERY.fullmatch(compact):  # "find 13800138000", "find 9123 4567": a phone, or part of one
        digits = re.sub(r"\D", "", compact)
        if len(digits) < MIN_PHONE_DIGITS:
            raise QueryRefused("too_few_digits", len(compact))
        if len(digits) > MAX_QUERY_CHARS:
            raise QueryRefused("too_long", len(compact))
        return SearchQuery(digits, PHONE)
    # A Han character says as much as two Latin letters: "张" (a surname) is a search people make, "z" is not.
    searchable = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1
                     for c in compact if unicodedata.category(c)[0] in "LN")
    if searchable == 0:
        raise QueryRefused("empty" if not compact else "nothing_searchable", len(compact))
    if searchable < MIN_QUERY_CHARS:
        raise QueryRefused("too_short", len(compact))
    if len(compact) > MAX_QUERY_CHARS:
        raise QueryRefused("too_long", len(compact))
    return SearchQuery(compact, TEXT)
