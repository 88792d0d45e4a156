"""The languages clue bot speaks: the one list every part reads (settings, strings, the CLI)."""

from __future__ import annotations

LOCALES = ("en", "zh")
DEFAULT_LOCALE = "en"


def locale_from_slack(slack_locale: str | None, default: str) -> str:
    """Our locale for a Slack locale such as ``zh-CN``, ``zh-TW`` or ``en-US``; ``default`` otherwise."""
    language = (slack_locale or "").replace("_", "-").split("-")[0].lower()
    return language if language in LOCALES else default
