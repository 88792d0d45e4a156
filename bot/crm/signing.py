"""Request signing for the Tanmarket open API.

``sign = lowercase hex SHA-256(appId + timestamp + body + appKey)`` over the exact body bytes sent.
The sandbox verifies with the same function, so client and server cannot drift.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable


def sign(app_id: str, timestamp: str, body: bytes, app_key: str) -> str:
    """Return the signature of one request body."""
    digest = hashlib.sha256()
    digest.update(app_id.encode())
    digest.update(timestamp.encode())
    digest.update(body)
    digest.update(app_key.encode())
    return digest.hexdigest()


def signature_matches(app_id: str, timestamp: str, body: bytes, app_key: str, signature: str) -> bool:
    """Constant-time check of a received signature (accepts upper-case hex)."""
    return hmac.compare_digest(sign(app_id, timestamp, body, app_key), signature.lower())


class CrmSigner:
    """The ``appId``, ``timestamp`` (Unix ms) and ``sign`` headers of one request body, fresh per attempt."""

    __slots__ = ("_app_id", "_app_key", "_now_ms")

    def __init__(self, app_id: str, app_key: str, now_ms: Callable[[], int]) -> None:
        self._app_id = app_id
        self._app_key = app_key
        self._now_ms = now_ms

    def __repr__(self) -> str:
        return f"CrmSigner(app_id={self._app_id!r})"

    def headers(self, body: bytes) -> tuple[tuple[str, str], ...]:
        timestamp = str(self._now_ms())
        return ("appId", self._app_id), ("timestamp", timestamp), \
            ("sign", sign(self._app_id, timestamp, body, self._app_key))
