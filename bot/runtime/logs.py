"""Logging: one JSON line per event, with secrets and phone numbers redacted on the way out.

Redaction happens in the formatter, on every string of the record (message, extra fields, traceback),
so it also covers what libraries log (Bolt, slack_sdk, httpx, uvicorn) and values buried in exception
messages.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_MAX_DEPTH = 6
# Values under these keys (extra fields, dicts, header pairs) are never logged, whatever they look like.
_SENSITIVE_KEY = re.compile(
    r"(?i)^(?:x-slack-)?(?:sign|signature|authorization|cookie|token|app_?key|response_url|.*secret.*|.*password.*)$")
# The sign header as it appears in an encoded line: only ever inside a JSON string.
_ENCODED_SIGN = re.compile(r'(?i)(\bsign\b.{0,8}?")[0-9a-f]{64}(?=")')


# \d is any Unicode decimal digit, full-width ones included; then Chinese numerals, 幺 ("one" read out in a
# phone number) and the financial forms (壹叁捌…).
_D = r"[\d〇零一二三四五六七八九幺壹贰貳叁參肆伍陆陸柒捌玖]"
_ONE = "[1１一幺壹]"
_SECOND = "[3-9３-９三四五六七八九叁參肆伍陆陸柒捌玖]"


def _mask_mobile(match: re.Match[str]) -> str:
    return f"{match.group(1) or ''}{match.group(2)}****{match.group(3)}"


_PATTERNS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # Bot, user, refresh (xoxe.xoxb-…) and app-level tokens.
    (re.compile(r"xox[a-z](?:\.xox[a-z])?-[A-Za-z0-9-]+"), "xox?-[REDACTED]"),
    (re.compile(r"xapp-[A-Za-z0-9-]+"), "xapp-[REDACTED]"),
    (re.compile(r"https://hooks\.slack(?:-gov)?\.com/[^\s\"'<>\\]+"), "[response_url]"),
    # The CRM's sign header (also as a repr of headers, b'sign', b'…') and Slack's v0 signatures.
    (re.compile(r"(?i)(\bsign\b.{0,8}?)(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])"), r"\1[REDACTED]"),
    (re.compile(r"(?i)\bv0=[0-9a-f]{64}"), "v0=[REDACTED]"),
    # Mainland mobile numbers (11 digits starting 13-19, maybe +86 and separators), not inside a longer
    # number: 138****5678. In any digits: full-width, Chinese numerals, financial numerals.
    (re.compile(rf"(?<!{_D})(?:(\+?86[- ]?))?({_ONE}{_SECOND}{_D})[- ]?{_D}{{4}}[- ]?({_D}{{4}})(?!{_D})"),
     _mask_mobile),
)


class RedactingJsonFormatter(logging.Formatter):
    """Formats records as JSON lines and removes secret values and phone numbers.

    Every string in the record (message, ``extra`` values at any depth, the traceback) is redacted
    before it is encoded, so redaction never breaks a line's JSON and JSON escaping never hides a
    secret; numbers that would need redacting (an 11-digit mobile logged as an int) become strings.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret containing another is removed whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = "[REDACTED]" if _sensitive(key) else value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        text = json.dumps(self._clean(payload, 0), ensure_ascii=False)
        # A second pass over the encoded line, for what only shows once values are joined
        # ({"sign": "<hex>"}); both replacements stay inside JSON strings.
        for secret in self._secrets:
            if '"' not in secret and "\\" not in secret:
                text = text.replace(secret, "[REDACTED]")
        return _ENCODED_SIGN.sub(r"\1[REDACTED]", text)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[REDACTED]")
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def _clean(self, value: Any, depth: int) -> Any:
        """``value`` as JSON-ready data with every string redacted."""
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, int | float):
            if isinstance(value, float) and not math.isfinite(value):
                return str(value)  # NaN and Infinity are not JSON
            text = repr(value)
            redacted = self.redact(text)
            return value if redacted == text else redacted
        if depth < _MAX_DEPTH and isinstance(value, Mapping):
            return {self.redact(str(k)): "[REDACTED]" if _sensitive(k) else self._clean(v, depth + 1)
                    for k, v in value.items()}
        if depth < _MAX_DEPTH and isinstance(value, list | tuple | set | frozenset):
            if isinstance(value, list | tuple) and len(value) == 2 and _sensitive(value[0]):
                return [self._clean(value[0], depth + 1), "[REDACTED]"]  # a (name, value) header pair
            return [self._clean(v, depth + 1) for v in value]
        try:
            text = str(value)
        except Exception:  # a broken __str__ must not lose the log line
            text = f"<unprintable {type(value).__name__}>"
        return self.redact(text)


def _sensitive(key: object) -> bool:
    if isinstance(key, bytes):
        key = key.decode("latin-1")
    return isinstance(key, str) and _SENSITIVE_KEY.match(key) is not None


AUDIT_LOGGER = "bot.audit"

def configure_logging(level: str, secrets: Iterable[str] = (), stream: Any = None) -> None:
    """Install the redacting JSON handler on the root logger (idempotent)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingJsonFormatter(secrets))
    handler.set_name("cluebot")
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "cluebot":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # The audit trail (who revealed which phone) is always written, whatever LOG_LEVEL says.
    logging.getLogger(AUDIT_LOGGER).setLevel(logging.INFO)
    # httpx logs full request URLs at INFO; the Bolt/slack_sdk debug logs carry payloads.
    for noisy in ("httpx", "httpcore", "slack_bolt", "slack_sdk", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
