"""The clue id grammar: 1–19 ASCII digits, positive, at most 2**63-1, so junk never reaches the CRM."""

from __future__ import annotations

import re

from bot.errors import InvalidClueId

# Ids arrive as JSON numbers; the doc's are 15 digits (410983932389440). Anything past this is junk.
MAX_CLUE_ID = 2**63 - 1
# ASCII digits only: Python's \d also matches Arabic-Indic, Devanagari, mathematical bold digits...
_ID = re.compile(r"#?([0-9]{1,19})")


def parse_clue_id(text: str) -> int:
    """One clue id from text like ``8`` or ``#410983932389440``; InvalidClueId otherwise."""
    stripped = text.strip()
    match = _ID.fullmatch(stripped)
    if match is None:
        digits = stripped.removeprefix("#")
        reason = "too_long" if digits.isascii() and digits.isdigit() else "not_a_number"
        raise InvalidClueId(text, reason)
    value = int(match.group(1))
    if value == 0:
        raise InvalidClueId(text, "zero")
    if value > MAX_CLUE_ID:
        raise InvalidClueId(text, "too_long")
    return value
