"""The languages clue bot speaks: the one list every part reads (settings, strings, the CLI)."""

from __future__ import annotations

LOCALES = ("en", "zh", "zh-TW")  # English, Simplified Chinese, Traditional Chinese
DEFAULT_LOCALE = "en"
# Chinese written in Traditional characters: Taiwan, Hong Kong, Macau, or the script named outright.
_TRADITIONAL = {"tw", "hk", "mo", "hant"}


def locale_from_slack(slack_locale: str | None, default: str) -> str:
    """Our locale for a Slack locale such as ``zh-CN``, ``zh-TW`` or ``en-US``; ``default`` otherwise.
    zh-TW and zh-HK read Traditional Chinese; zh-CN (and any other Chinese) Simplified."""
    parts = (slack_locale or "").replace("_", "-").lower().split("-")
    if parts[0] == "zh":
        return "zh-TW" if _TRADITIONAL.intersection(parts[1:]) else "zh"
    return parts[0] if parts[0] in LOCALES else default
