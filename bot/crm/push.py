"""The CRM's webhook push (crm-api.md §8): its headers' signature, its AES/CTR body and its message. No I/O.

- **Signature**: ``sign`` = lowercase hex SHA-256 of ``appId + version + timestamp + appKey``. The body is not
  covered, so the headers are checked (constant-time) before anything of the body is read or decrypted.
- **Body**: Base64 of AES-128/CTR ciphertext, key = SHA-256(appKey)[:16], IV (the initial counter block) =
  SHA-256(corpid)[:16], no padding. The vendor says "AES/CTR/PKCS5Padding" without the steps; this reading
  reproduces its worked example byte for byte (tests/crm/test_push.py), where appKey and corpid are equal,
  so a real push must confirm which of the two each half comes from.
- **Message**: JSON ``{type, noise, msgId, content}`` (+ ``eventId``). ``noise`` exceeds 2**53: Python's
  ``json`` keeps it an ``int``, and the reply echoes it exactly (``push_reply``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.domain.ids import MAX_CLUE_ID
from bot.errors import PushRefused

PUSH_REGISTER = "/api/v2/push-register"
PUSH_VERSION = "1"  # the only version the vendor documents; another is refused (its rules may differ)
# What push-register subscribes to by default: the confirmation, and the types that name a customer.
DEFAULT_SUBSCRIPTION = ("register", "new_qw_customer", "edit_qw_customer", "tag_info")
# Types whose message names a customer (clue) id; any other message with a ``customerId`` counts too.
CUSTOMER_TYPES = frozenset({"tag_info", "new_qw_customer", "edit_qw_customer"})
REGISTER = "register"
MAX_PUSH_BODY_BYTES = 256 * 1024  # Base64 of one message; a customer edit is a few KB
MAX_CUSTOMER_IDS = 100  # ids read from one message: more is not a message the docs describe

_APP_ID = re.compile(r"[A-Za-z0-9_\-]{1,128}")
_TIMESTAMP = re.compile(r"[0-9]{13}")  # Unix milliseconds, as the vendor's example
_SIGN = re.compile(r"[0-9a-fA-F]{64}")
_ID_TEXT = re.compile(r"[0-9]{1,19}")
_TYPE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def push_sign(app_id: str, version: str, timestamp: str, app_key: str) -> str:
    """The signature of a push's headers: lowercase hex SHA-256 of ``appId + version + timestamp + appKey``."""
    return hashlib.sha256((app_id + version + timestamp + app_key).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PushHeaders:
    """A push's verified headers."""

    app_id: str
    timestamp_ms: int
    version: str
    sign: str


class PushVerifier:
    """Checks a push's headers: present once each, shaped, our appId, signed with our appKey (constant-time),
    and a timestamp within ``window`` seconds of ``wall()``; PushRefused (401) otherwise."""

    def __init__(self, app_id: str, app_key: str, window: float, wall: Callable[[], float]) -> None:
        self._app_id = app_id
        self._app_key = app_key
        self._window_ms = window * 1000
        self._wall = wall

    def __repr__(self) -> str:
        return f"PushVerifier(app_id={self._app_id!r})"

    def check(self, headers: Mapping[str, list[str]]) -> PushHeaders:
        """``headers``: every value of each header, by lower-case name (ASGI's are latin-1)."""
        app_id, timestamp, version, sign = (_one(headers, name) for name in ("appid", "timestamp", "version", "sign"))
        if not (_APP_ID.fullmatch(app_id) and _TIMESTAMP.fullmatch(timestamp) and _SIGN.fullmatch(sign)):
            raise PushRefused(401, "headers_malformed")
        if version != PUSH_VERSION:
            raise PushRefused(401, "version")
        # Both compared in constant time: neither says how much of it was right.
        expected = push_sign(self._app_id, version, timestamp, self._app_key)
        if not (hmac.compare_digest(app_id, self._app_id) & hmac.compare_digest(sign.lower(), expected)):
            raise PushRefused(401, "signature")
        if abs(self._wall() * 1000 - int(timestamp)) > self._window_ms:
            raise PushRefused(401, "timestamp_window")
        return PushHeaders(app_id, int(timestamp), version, sign.lower())


def _one(headers: Mapping[str, list[str]], name: str) -> str:
    values = headers.get(name, [])
    if len(values) != 1:
        raise PushRefused(401, "headers_missing" if not values else "headers_repeated")
    return values[0].strip()


class PushCipher:
    """AES-128/CTR of push bodies (the module docstring says how key and IV are derived)."""

    __slots__ = ("_iv", "_key")

    def __init__(self, app_key: str, corp_id: str) -> None:
        self._key = hashlib.sha256(app_key.encode()).digest()[:16]
        self._iv = hashlib.sha256(corp_id.encode()).digest()[:16]

    def __repr__(self) -> str:
        return "PushCipher(...)"

    def decrypt(self, body: bytes) -> bytes:
        """The plaintext of a Base64 body; PushRefused (400) when it is not Base64."""
        try:
            ciphertext = base64.b64decode(body.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise PushRefused(400, "not_base64") from None
        if not ciphertext:
            raise PushRefused(400, "empty")
        decryptor = Cipher(algorithms.AES(self._key), modes.CTR(self._iv)).decryptor()
        return decryptor.update(ciphertext) + decryptor.finalize()

    def encrypt(self, plaintext: bytes) -> bytes:
        """The Base64 body of ``plaintext``, as the CRM sends it (the sandbox's pushes, tests)."""
        encryptor = Cipher(algorithms.AES(self._key), modes.CTR(self._iv)).encryptor()
        return base64.b64encode(encryptor.update(plaintext) + encryptor.finalize())


@dataclass(frozen=True, slots=True)
class PushMessage:
    """A decrypted push: what it is about and what identifies it."""

    type: str
    noise: int
    msg_id: str | None  # as text: the vendor's is a number, and only equality matters
    customer_ids: tuple[int, ...]  # the clue / customer ids it names (top level or in ``content``)


def parse_push(plaintext: bytes) -> PushMessage:
    """The message of a decrypted body; PushRefused (400) for anything else (wrong key, junk, no ``noise``)."""
    try:
        message = json.loads(plaintext)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError: a wrong key gives bytes junk
        raise PushRefused(400, "not_json") from None
    if not isinstance(message, dict):
        raise PushRefused(400, "not_an_object")
    noise = message.get("noise")
    if type(noise) is not int:  # bool is an int subclass; a float has lost the digits already
        raise PushRefused(400, "noise")
    kind = message.get("type")
    if not isinstance(kind, str) or not _TYPE.fullmatch(kind):
        raise PushRefused(400, "type")
    msg_id = message.get("msgId")
    if not (msg_id is None or (type(msg_id) is int and 0 <= msg_id <= MAX_CLUE_ID)
            or (isinstance(msg_id, str) and len(msg_id) <= 64)):
        raise PushRefused(400, "msg_id")
    return PushMessage(kind, noise, None if msg_id is None else str(msg_id), _customer_ids(message))


def _customer_ids(message: Mapping[str, Any]) -> tuple[int, ...]:
    """``customerId`` of the message and of its ``content`` (an object, or JSON text of one); ids may be
    numbers or digit strings. Anything else named so is ignored."""
    content = message.get("content")
    if isinstance(content, str) and content.startswith("{") and len(content) <= MAX_PUSH_BODY_BYTES:
        try:
            content = json.loads(content)
        except (ValueError, RecursionError):
            content = None
    ids: dict[int, None] = {}
    for holder in (message, content):
        if isinstance(holder, Mapping):
            for value in _as_list(holder.get("customerId")) + _as_list(holder.get("customerIds")):
                clue_id = _clue_id(value)
                if clue_id is not None and len(ids) < MAX_CUSTOMER_IDS:
                    ids[clue_id] = None
    return tuple(ids)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _clue_id(value: Any) -> int | None:
    if isinstance(value, str) and _ID_TEXT.fullmatch(value):
        value = int(value)
    if type(value) is int and 0 < value <= MAX_CLUE_ID:
        return value
    return None


def push_reply(noise: int) -> tuple[bytes, str]:
    """The answer to a push: its ``noise``, echoed. *Assumed* (the vendor does not publish the format): the
    decimal digits alone as ``text/plain``, the request's own content type, like WeCom's echo of
    ``echostr``; every digit kept (a JSON reader of the vendor's would have to keep a 64-bit integer, and
    text cannot lose it). Change it here alone if a real CRM wants another shape."""
    return str(noise).encode(), "text/plain; charset=utf-8"


def push_message(kind: str, noise: int, msg_id: int, content: Any) -> bytes:
    """A push's plaintext as the CRM writes it (compact JSON): the sandbox's pushes and tests."""
    return json.dumps({"type": kind, "noise": noise, "msgId": msg_id, "content": content},
                      ensure_ascii=False, separators=(",", ":")).encode()


def push_headers(app_id: str, app_key: str, timestamp_ms: int) -> dict[str, str]:
    """The headers the CRM signs a push with (the sandbox's pushes, tests)."""
    timestamp = str(timestamp_ms)
    return {"appId": app_id, "timestamp": timestamp, "version": PUSH_VERSION,
            "sign": push_sign(app_id, PUSH_VERSION, timestamp, app_key),
            "Content-Type": "text/plain;charset=UTF-8"}
