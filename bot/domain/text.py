"""Text safety for anything CRM-sourced that reaches Slack or a log line: clean, escape, truncate, mask.

Pure string functions with no Slack imports, so logging can mask phones with the same rules the
cards use. Lengths are Python ``str`` lengths (code points); callers budget well below Slack's
limits, since Slack does not define how it counts CJK or emoji.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

ELLIPSIS = "…"
MAX_URL_LENGTH = 3000  # Slack's limit for a button url

# Invisible characters that can hide or reorder text (spoofing "138" as "831", bidi tricks in names).
_INVISIBLE = [*range(0x200B, 0x2010), *range(0x2060, 0x2065), 0xFEFF, 0x061C,  # zero width, BOM, ALM
              *range(0x202A, 0x202F), *range(0x2066, 0x206A)]  # bidi embeddings, overrides, isolates
_CONTROL = [c for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)] if c not in (0x09, 0x0A)]
_ZWJ = "\u200d"
_DELETE: dict[int, str | None] = dict.fromkeys(c for c in _INVISIBLE + _CONTROL if c != ord(_ZWJ))
_DELETE[0x09] = " "
# A zero-width joiner is kept only inside emoji sequences (👩‍💻); anywhere else it merely hides things.
_EMOJI = "\u2600-\u27bf\U0001f000-\U0001faff"
_STRAY_ZWJ = re.compile(f"(?<![{_EMOJI}\ufe0f\U0001f3fb-\U0001f3ff]){_ZWJ}|{_ZWJ}(?![{_EMOJI}])")
_SURROGATES = re.compile("[\ud800-\udfff]")
_NEWLINES = re.compile("\r\n|[\r\u2028\u2029\x85]")
_SPACES = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Backticks cannot be escaped in mrkdwn and would open code spans swallowing the rest of the text;
# the modifier letter grave accent looks the same and formats nothing.
_NEUTRAL = str.maketrans({"`": "\u02cb"})

_URL_FORBIDDEN = re.compile(r"[\s<>|\"\\]")

_COUNTRY_CODE = re.compile(r"\(?(?:\+|00)(?:\d{1,3}(?:\)|(?=\D))|86(?=1\d{10}$))")


def escape_mrkdwn(s: str) -> str:
    """Escape Slack's three control characters, ``&``, ``<`` and ``>``, and nothing else."""
    return s.translate(_ESCAPES) if "&" in s or "<" in s or ">" in s else s


def clean(s: str) -> str:
    """Remove invisible and control characters; tabs become spaces, line breaks become ``\\n``."""
    if s.isprintable():
        # The common case, checked in C: everything changed below is unprintable (Cc, Cf, Cs, Zl, Zp).
        return s
    s = _NEWLINES.sub("\n", s)
    # Lone surrogates (from lenient decoding) cannot be encoded as UTF-8 JSON at all.
    s = _SURROGATES.sub("", s).translate(_DELETE)
    return _STRAY_ZWJ.sub("", s) if _ZWJ in s else s


def truncate(s: str, limit: int) -> str:
    """``s`` if it fits in ``limit`` characters, else a prefix ending in ``…`` that does.

    Never cuts inside a grapheme-like cluster (combining marks, emoji modifiers, ZWJ sequences, flags,
    surrogate pairs).
    """
    return _cut(s, limit, len)


def mrkdwn_value(s: str, limit: int, *, multiline: bool = False) -> str:
    """CRM text made safe for a mrkdwn text object: at most ``limit`` characters after escaping.

    Cleaned, whitespace tidied (line breaks kept only when ``multiline``), backticks neutralised,
    truncated on the unescaped text with the escape growth counted, then escaped, so an entity is
    never cut in half.
    """
    s = _tidy(s, multiline)
    return escape_mrkdwn(_cut(s.translate(_NEUTRAL) if "`" in s else s, limit, _escaped_length))


def plain_value(s: str, limit: int, *, multiline: bool = False) -> str:
    """CRM text for a plain_text object: cleaned, tidied, truncated, not escaped.

    Slack parses neither mentions nor links in plain_text, so ``<!channel>`` there is inert text.
    """
    return _cut(_tidy(s, multiline), limit, len)


def mask_phone(phone: str) -> str:
    """Mask a phone number for people who may not see it: ``13812345678`` -> ``138****5678``.

    One rule for every length and script: of the ``n`` digits after an explicit country code (``+86 ``,
    ``(+1)``, ``0044-``, or ``+86`` before a mainland mobile, which is kept), at least 4 are hidden and at
    most 7 shown: ``min(7, n - 4)``, the last 4 of them and the rest (at most 3) from the start. So 8 digits
    show 4 (``****5678``), 9 show 5 (``1****5678``), 11 show the familiar 3 + 4, and 4 or fewer show none.
    A digit is anything Unicode calls numeric: full-width, superscript and circled digits, other scripts'
    digits (٣, ४), Chinese numerals (一三八, 幺) and financial ones (壹叁捌). Separators stay where they were.
    """
    phone = _SPACES.sub(" ", clean(phone)).strip()
    match = _COUNTRY_CODE.match(phone)
    prefix, rest = (phone[: match.end()], phone[match.end():]) if match else ("", phone)
    digits = [i for i, c in enumerate(rest) if c.isnumeric()]
    shown_count = min(7, max(0, len(digits) - 4))
    last = min(4, shown_count)
    shown = set(digits[:shown_count - last] + digits[len(digits) - last:])
    return prefix + "".join("*" if c.isnumeric() and i not in shown else c for i, c in enumerate(rest))


def display_width(s: str) -> int:
    """Columns ``s`` takes in a proportional-ish UI: a wide (CJK, full-width) character counts two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def safe_url(s: str | None) -> str | None:
    """``s`` if it is an absolute http(s) URL that is safe to put in a button, else None.

    Refused: other schemes, no host, whitespace or ``<>|"\\`` (which would break out of Slack's link
    syntax), invisible characters, user info (``https://crm.example.com@evil.example``) and URLs
    longer than Slack accepts.
    """
    if not s or len(s) > MAX_URL_LENGTH or _URL_FORBIDDEN.search(s) or clean(s) != s:
        return None
    try:
        parts = urlsplit(s)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or "@" in parts.netloc:
        return None
    return s


def _tidy(s: str, multiline: bool) -> str:
    s = clean(s)
    if not multiline:
        # Printable text holds no whitespace but the ASCII space: only runs of it need the regex.
        return (s if s.isprintable() and "  " not in s else _SPACES.sub(" ", s)).strip()
    lines = [_SPACES.sub(" ", line).strip() for line in s.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _escaped_length(s: str) -> int:
    return len(s) + 4 * s.count("&") + 3 * (s.count("<") + s.count(">"))


def _cut(s: str, limit: int, cost: Callable[[str], int]) -> str:
    """The longest cluster-aligned prefix of ``s`` costing at most ``limit``, ellipsis included."""
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if cost(s) <= limit:
        return s
    if limit == 0:
        return ""
    budget = limit - len(ELLIPSIS)
    used = end = 0
    for start, stop in _clusters(s):
        used += cost(s[start:stop])
        if used > budget:
            break
        end = stop
    return s[:end].rstrip() + ELLIPSIS


def _clusters(s: str) -> Iterator[tuple[int, int]]:
    """Approximate extended grapheme clusters: enough never to strand a mark, modifier or joiner."""
    i, n = 0, len(s)
    while i < n:
        j = i + 1
        if _is_high_surrogate(s[i]) and j < n and _is_low_surrogate(s[j]):
            j += 1
        elif _is_regional_indicator(s[i]) and j < n and _is_regional_indicator(s[j]):
            j += 1  # a flag is two regional indicators
        while j < n:
            if s[j] == _ZWJ:
                j += 2  # the joiner and the character it joins
            elif _is_extender(s[j]):
                j += 1
            else:
                break
        yield i, min(j, n)
        i = j


def _is_extender(c: str) -> bool:
    # Combining marks include variation selectors and the keycap; skin tones and tag characters
    # (subdivision flags such as England's) are not marks but extend the emoji before them.
    return (
        unicodedata.category(c) in ("Mn", "Mc", "Me")
        or "\U0001f3fb" <= c <= "\U0001f3ff"
        or "\U000e0020" <= c <= "\U000e007f"
        or _is_low_surrogate(c)
    )


def _is_high_surrogate(c: str) -> bool:
    return "\ud800" <= c <= "\udbff"


def _is_low_surrogate(c: str) -> bool:
    return "\udc00" <= c <= "\udfff"


def _is_regional_indicator(c: str) -> bool:
    return "\U0001f1e6" <= c <= "\U0001f1ff"
