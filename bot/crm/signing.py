"""Request signing for the Tanmarket open API.

``sign = lowercase hex SHA-256(appId + timestamp + body + appKey)`` over the exact body bytes sent.
The sandbox verifies with the same function, so client and server cannot drift.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Generator

import httpx


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


class CrmAuth(httpx.Auth):
    """Stamps ``appId``, ``timestamp`` (Unix ms) and ``sign`` on every request, fresh per attempt."""

    requires_request_body = True

    def __init__(self, app_id: str, app_key: str, now_ms: Callable[[], int]) -> None:
        self._app_id = app_id
        self._app_key = app_key
        self._now_ms = now_ms

    def __repr__(self) -> str:
        return f"CrmAuth(app_id={self._app_id!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        timestamp = str(self._now_ms())
        request.headers["appId"] = self._app_id
        request.headers["timestamp"] = timestamp
        request.headers["sign"] = sign(self._app_id, timestamp, request.content, self._app_key)
        yield request
