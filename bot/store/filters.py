"""A subscription's filters: which new clues it wants, by what the card shows (names, not ids).

``/clue subscribe stage:新线索 source:官网 tag:VIP``: values of one key are alternatives, keys
must all match; no filter wants every clue. Values compare case-insensitively after NFKC (a full-width
IME colon ``：`` works too). The owner's department is not offered: a clue is usually awaiting assignment
when it is created (no owner, no department yet), and reading the owner of every new clue would cost one
CRM search each in a burst.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping

from bot.domain.clue import Clue

# key typed -> key kept
KEYS = {"stage": "stage", "阶段": "stage", "source": "source", "来源": "source", "來源": "source",
        "tag": "tag", "标签": "tag", "標籤": "tag"}
MAX_VALUES = 20
MAX_VALUE_CHARS = 64

Filters = Mapping[str, tuple[str, ...]]


class FilterError(ValueError):
    """A filter that cannot be read; ``token`` is the offending text (bounded)."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token[:MAX_VALUE_CHARS]


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def parse_filters(text: str) -> dict[str, tuple[str, ...]]:
    """``key:value`` tokens, separated by spaces; raises ``FilterError`` on the first bad one."""
    found: dict[str, list[str]] = {}
    for count, token in enumerate(unicodedata.normalize("NFKC", text).split(), 1):
        key, sep, value = token.partition(":")
        kept = KEYS.get(key.casefold())
        if not sep or kept is None or not value.strip() or len(value) > MAX_VALUE_CHARS or count > MAX_VALUES:
            raise FilterError(token)
        if value not in found.setdefault(kept, []):
            found[kept].append(value)
    return {key: tuple(values) for key, values in sorted(found.items())}


def encode(filters: Filters) -> str:
    return json.dumps({k: list(v) for k, v in sorted(filters.items())}, ensure_ascii=False, separators=(",", ":"))


def decode(text: str) -> dict[str, tuple[str, ...]]:
    try:
        raw = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(raw, dict):
        return {}
    return {k: tuple(str(x) for x in v) for k, v in raw.items() if k in KEYS.values() and isinstance(v, list)}


def describe(filters: Filters) -> str:
    """The filters as they would be typed: ``stage:新线索 tag:VIP``; empty for none."""
    return " ".join(f"{key}:{value}" for key, values in sorted(filters.items()) for value in values)


def matches(filters: Filters, clue: Clue) -> bool:
    """Whether ``clue`` is one these filters want (a value the clue lacks never matches)."""
    shown = {
        "stage": {clue.stage.text} if clue.stage else set(),
        "source": {clue.source.text} if clue.source else set(),
        "tag": {t.name for t in clue.tags if t.name},
    }
    for key, wanted in filters.items():
        have = {_norm(v) for v in shown.get(key, set())}
        if not have & {_norm(w) for w in wanted}:
            return False
    return True
