"""Unsigned floods, huge and slow bodies and junk, through a real uvicorn on loopback.

Raw sockets send what an HTTP client would not (chunked bodies without end, one byte at a time,
broken headers). Every loop is bounded by a count and every wait by a deadline; servers and sockets
are closed by the tests themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import resource
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from bot.dev.loopback import LoopbackServer
from bot.dev.playground.fake_slack import FakeSlackState
from bot.dev.sandbox import SandboxServer
from bot.web.app import create_web_app
from tests.slack.harness import SIGNING_SECRET, slack_settings

LIMIT = 512 * 1024
JUNK_SIGNATURE = "v0=" + "0" * 64


@contextmanager
def serving(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState], **env: str) -> Iterator[str]:
    """The whole app on a real uvicorn (lifespan on), as ``python -m bot serve`` runs it; yields its URL."""
    app = create_web_app(slack_settings(sandbox.url, fake_slack[0], **env))
    with LoopbackServer(app, lifespan="on") as server:
        yield server.url


@pytest.fixture(scope="module")
def app_url(sandbox_server: SandboxServer,
            fake_slack_server: tuple[LoopbackServer, FakeSlackState]) -> Iterator[str]:
    """One server with the default settings for the tests that do not change them."""
    with serving(sandbox_server, (fake_slack_server[0].url, fake_slack_server[1])) as url:
        yield url


def sign(body: bytes, timestamp: str | None = None) -> dict[str, str]:
    ts = timestamp or str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"x-slack-request-timestamp": ts, "x-slack-signature": "v0=" + digest}


def unsigned() -> dict[str, str]:
    """Headers that pass every cheap check (an in-window integer timestamp, a well-formed signature) but
    whose signature is junk: the body must be read before the request can be refused."""
    return {"x-slack-request-timestamp": str(int(time.time())), "x-slack-signature": JUNK_SIGNATURE}


def connect(url: str, headers: dict[str, str], *, chunked: bool = False, length: int | None = None,
            source: str | None = None, path: str = "/slack/events") -> socket.socket:
    """A socket that has sent the request line and headers of ``POST path``, no body yet; ``source``: the
    loopback address it comes from (127.0.0.x stand for different clients)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10,
                                    source_address=(source, 0) if source else None)
    lines = [f"POST {path} HTTP/1.1", f"host: {parts.netloc}", "content-type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append("transfer-encoding: chunked" if chunked else f"content-length: {length}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    return sock


def read_response(sock: socket.socket, timeout: float = 10) -> tuple[int | None, bool]:
    """(status, closed): the response's status, and whether the server then closed the connection."""
    sock.settimeout(timeout)
    data = b""
    closed = False
    try:
        while True:
            piece = sock.recv(65536)
            if not piece:
                closed = True
                break
            data += piece
    except (ConnectionResetError, BrokenPipeError):
        closed = True
    except TimeoutError:
        pass
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None
    return status, closed


def send_until_refused(sock: socket.socket, chunk: bytes, most: int) -> int:
    """Send ``chunk`` until the server stops us or ``most`` bytes went out; the bytes sent."""
    sent = 0
    sock.settimeout(5)
    try:
        while sent < most:
            sock.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass
    return sent


def hex_chunk(size: int) -> bytes:
    return f"{size:x}\r\n".encode() + b"[" * size + b"\r\n"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="bot")
    return caplog


def wait_for(predicate: Any, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


# ------------------------------------------------------------------------------------------ 1. size


@pytest.mark.parametrize("headers", [unsigned, lambda: sign(b"")], ids=["junk-signature", "signed-for-empty"])
def test_an_endless_chunked_body_is_refused_at_the_limit(app_url: str, headers: Any) -> None:
    with connect(app_url, headers(), chunked=True) as sock:
        # 64 MiB offered; the server must stop reading a little past 512 KiB (the rest sits in socket
        # buffers, a few MiB at most on loopback, until the server closes the connection).
        sent = send_until_refused(sock, hex_chunk(64 * 1024), 64 * 1024 * 1024)
        status, closed = read_response(sock)
    assert sent < 32 * 1024 * 1024, sent
    assert status == 413
    assert closed


def test_a_chunked_body_at_the_limit_is_read_and_one_byte_over_is_not(app_url: str) -> None:
    for size, expected in ((LIMIT, 401), (LIMIT + 1, 413)):
        with connect(app_url, unsigned(), chunked=True) as sock:
            sock.sendall(hex_chunk(size - 1) + hex_chunk(1) + b"0\r\n\r\n")
            assert read_response(sock)[0] == expected, size


def test_a_declared_oversized_body_is_refused_unread(app_url: str) -> None:
    with connect(app_url, unsigned(), length=500 * 1024 * 1024) as sock:
        assert read_response(sock) == (413, True)  # not one byte of the body was sent


def test_no_signature_headers_is_refused_before_the_body(app_url: str) -> None:
    with connect(app_url, {}, chunked=True) as sock:
        assert read_response(sock) == (401, True)


# ------------------------------------------------------------------------------------------ 2. slow


def test_a_slow_body_is_dropped_at_the_deadline(sandbox: SandboxServer,
                                                 fake_slack: tuple[str, FakeSlackState]) -> None:
    with serving(sandbox, fake_slack, SLACK_BODY_TIMEOUT_SECONDS="1") as url, \
            connect(url, unsigned(), length=1000) as sock:
        assert_dropped_at_the_deadline(sock)


def assert_dropped_at_the_deadline(sock: socket.socket) -> None:
    """One byte of a 1000-byte body, then nothing: 408 and the connection closed, by the deadline."""
    sock.sendall(b"{")
    started = time.monotonic()
    status, closed = read_response(sock, timeout=15)
    waited = time.monotonic() - started
    assert (status, closed) == (408, True)
    assert waited < 10  # the deadline ended it (bounded, not a timing assertion on the 1 s itself)


def signed_challenge(url: str, source: str, challenge: str = "back") -> httpx.Response:
    """A signed url_verification from ``source``: the cheapest request Slack signs."""
    body = json.dumps({"type": "url_verification", "challenge": challenge}).encode()
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=10) as http:
        return http.post(url + "/slack/events", content=body, headers={"content-type": "application/json",
                                                                       **sign(body)})


def test_one_address_holds_at_most_its_share_of_the_slots(sandbox: SandboxServer,
                                                           fake_slack: tuple[str, FakeSlackState]) -> None:
    env = {"SLACK_MAX_PENDING_BODIES": "4", "SLACK_MAX_PENDING_BODIES_PER_CLIENT": "2"}
    with serving(sandbox, fake_slack, **env) as url, ExitStack() as stack:
        mine = [stack.enter_context(connect(url, unsigned(), length=100, source="127.0.0.2")) for _ in range(2)]
        for sock in mine:
            sock.sendall(b"{")
        time.sleep(0.3)  # let the server lend the two slots (bounded; nothing below depends on its length)
        with connect(url, unsigned(), length=100, source="127.0.0.2") as third:
            assert read_response(third, timeout=5) == (503, True)
        answer = signed_challenge(url, "127.0.0.3")  # another address still gets a slot
        assert answer.status_code == 200 and "back" in answer.text


def test_when_every_slot_is_lent_the_oldest_is_recalled_and_slack_is_answered(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> None:
    env = {"SLACK_MAX_PENDING_BODIES": "4", "SLACK_BODY_TIMEOUT_SECONDS": "30"}
    with serving(sandbox, fake_slack, **env) as url, ExitStack() as stack:
        assert httpx.get(url + "/readyz").json()["body_slots"] == {"lent": 0, "of": 4, "saturated": False}
        slow = []
        for n in range(4):
            sock = stack.enter_context(connect(url, unsigned(), length=100, source=f"127.0.0.{10 + n}"))
            sock.sendall(b"{")
            slow.append(sock)
            time.sleep(0.1)  # lent in this order (bounded; the oldest is the first either way)
        answer = signed_challenge(url, "127.0.0.20")
        assert answer.status_code == 200 and "back" in answer.text
        assert read_response(slow[0], timeout=5) == (503, True)  # the oldest loan was recalled
        ready = httpx.get(url + "/readyz")
        assert ready.status_code == 503
        assert ready.json()["ready"] is False and ready.json()["body_slots"]["saturated"] is True


def test_a_trickling_body_loses_its_slot_long_before_the_deadline(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> None:
    env = {"SLACK_BODY_TIMEOUT_SECONDS": "60", "SLACK_MIN_BODY_BYTES_PER_SECOND": "100"}
    with serving(sandbox, fake_slack, **env) as url, connect(url, unsigned(), length=5000) as sock:
        started = time.monotonic()
        status: int | None = None
        sock.settimeout(0.5)
        while status is None and time.monotonic() - started < 30:
            try:
                sock.sendall(b"[")  # one byte every half second: 2 B/s against a floor of 100 B/s
                status = status_of(sock.recv(4096))
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        waited = time.monotonic() - started
    assert status == 408
    assert waited < 30  # the rate ended it, not the 60 s deadline (bounded, not a timing assertion)


def status_of(data: bytes) -> int | None:
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None


def test_a_trusted_proxy_names_the_client(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> None:
    """Behind a proxy every request has the proxy's address: with TRUSTED_PROXIES, the share is the client's."""
    env = {"SLACK_MAX_PENDING_BODIES": "8", "SLACK_MAX_PENDING_BODIES_PER_CLIENT": "1",
           "TRUSTED_PROXIES": "127.0.0.30"}
    with serving(sandbox, fake_slack, **env) as url, ExitStack() as stack:
        first = stack.enter_context(connect(url, {**unsigned(), "x-forwarded-for": "203.0.113.7"}, length=100,
                                            source="127.0.0.30"))
        first.sendall(b"{")
        time.sleep(0.3)
        # The same client through the proxy: over its share. A spoofed hop in front changes nothing.
        with connect(url, {**unsigned(), "x-forwarded-for": "198.51.100.1, 203.0.113.7"}, length=100,
                     source="127.0.0.30") as again:
            assert read_response(again, timeout=5) == (503, True)
        # Another client through the same proxy: its own share.
        with connect(url, {**unsigned(), "x-forwarded-for": "203.0.113.8"}, length=2, source="127.0.0.30") as other:
            other.sendall(b"{}")
            assert read_response(other, timeout=5) == (401, True)  # read and refused for its junk signature


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"needs {needed} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def test_healthz_answers_while_hundreds_of_slow_bodies_are_open(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> None:
    count = 300  # bench/hostile.py measures 1,000; client and server sockets share this process
    _raise_fd_limit(count * 2 + 512)
    with serving(sandbox, fake_slack) as url, ExitStack() as stack:
        socks = [stack.enter_context(connect(url, unsigned(), length=1000)) for _ in range(count)]
        for sock in socks:
            sock.sendall(b"{")
        worst = 0.0
        with httpx.Client(base_url=url, timeout=5) as http:
            for _ in range(20):
                started = time.monotonic()
                assert http.get("/healthz").json() == {"status": "ok"}
                worst = max(worst, time.monotonic() - started)
        # One address holds its share (16) of the slots; the rest were refused (503) and closed at once.
        refused = [sock for sock in socks if read_response(sock, timeout=0.05) == (503, True)]
        assert len(refused) == count - 16
    assert worst < 2  # "does not hang": bench/hostile.py measures the latency


def test_a_client_gone_mid_body_is_a_debug_line_not_an_error(app_url: str,
                                                              debug_logs: pytest.LogCaptureFixture) -> None:
    with connect(app_url, unsigned(), length=1000) as sock:
        sock.sendall(b"{" * 10)
        time.sleep(0.1)  # the body read has started (bounded)
    assert wait_for(lambda: any(r.getMessage() == "http.request.disconnected" for r in debug_logs.records))
    gone = [r for r in debug_logs.records if r.getMessage() == "http.request.disconnected"]
    assert [r.levelno for r in gone] == [logging.DEBUG]
    assert [r for r in debug_logs.records if r.levelno >= logging.ERROR] == []


# ------------------------------------------------------------------------------------------ 3. junk


DEEP = b"payload=" + b"[" * 100_000
NOT_UTF8 = b"\xff\xfe\xfa command=/clue \xc3\x28"


def junk_requests() -> list[tuple[str, bytes, dict[str, Any]]]:
    now = str(int(time.time()))
    return [
        ("non-utf8, junk signature", NOT_UTF8, unsigned()),
        ("deep nesting, junk signature", DEEP, unsigned()),
        ("timestamp abc", b"{}", {"x-slack-request-timestamp": "abc", "x-slack-signature": JUNK_SIGNATURE}),
        ("timestamp empty", b"{}", {"x-slack-request-timestamp": "", "x-slack-signature": JUNK_SIGNATURE}),
        ("timestamp 1.5", b"{}", {"x-slack-request-timestamp": "1.5", "x-slack-signature": JUNK_SIGNATURE}),
        ("timestamp signed but not an integer", b"{}", sign(b"{}", now + ".0")),
        ("timestamp with a sign", b"{}", sign(b"{}", "+" + now)),
        ("non-ascii signature", b"{}",
         {"x-slack-request-timestamp": now, "x-slack-signature": ("v0=" + "\xe9" * 64).encode("latin-1")}),
        ("uppercase hex", b"{}", {**sign(b"{}"), "x-slack-signature": sign(b"{}")["x-slack-signature"].upper()}),
        ("stale", b"{}", sign(b"{}", str(int(time.time()) - 301))),
        ("future", b"{}", sign(b"{}", str(int(time.time()) + 302))),  # 301 + the second that may tick by
        ("signature for another body", b'{"type":"url_verification"}', sign(b"{}")),
    ]


@pytest.mark.parametrize("index", range(len(junk_requests())), ids=[j[0] for j in junk_requests()])
def test_unsigned_junk_is_401_and_never_reaches_bolt(app_url: str, debug_logs: pytest.LogCaptureFixture,
                                                      index: int) -> None:
    _, body, headers = junk_requests()[index]
    answer = httpx.post(app_url + "/slack/events", content=body,
                        headers={"content-type": "application/x-www-form-urlencoded", **headers})
    assert answer.status_code == 401
    assert [r.getMessage() for r in debug_logs.records if r.name.startswith("bot.slack")] == []  # not Bolt's handler
    assert [r for r in debug_logs.records if r.levelno >= logging.WARNING] == []


def test_repeated_signature_headers_are_401(app_url: str) -> None:
    body = b'{"type":"url_verification","challenge":"c"}'
    good = sign(body)
    with connect(app_url, {**good, "X-Slack-Signature": JUNK_SIGNATURE}, length=len(body)) as sock:
        sock.sendall(body)
        assert read_response(sock)[0] == 401
    with connect(app_url, {**good, "connection": "close"}, length=len(body)) as sock:  # the same, once: accepted
        sock.sendall(body)
        assert read_response(sock)[0] == 200


@pytest.mark.parametrize(("body", "content_type", "error"), [
    (NOT_UTF8, "application/x-www-form-urlencoded", "UnicodeDecodeError"),
    (DEEP, "application/x-www-form-urlencoded", "RecursionError"),
    (b"[" * 100_000, "application/json", "RecursionError"),
    (b"{not json", "application/json", "JSONDecodeError"),
    (b"[1, 2]", "application/json", "AttributeError"),
    (b"payload=1", "application/x-www-form-urlencoded", "AttributeError"),
], ids=["non-utf8", "deep-payload", "deep-json", "bad-json", "json-array", "payload-number"])
def test_signed_but_malformed_is_400_with_one_log_line(
        app_url: str, sandbox: SandboxServer, debug_logs: pytest.LogCaptureFixture,
        body: bytes, content_type: str, error: str) -> None:
    answer = httpx.post(app_url + "/slack/events", content=body, headers={"content-type": content_type, **sign(body)})
    assert answer.status_code == 400
    [line] = [r for r in debug_logs.records if r.getMessage() == "slack.request.malformed"]
    assert line.levelno == logging.INFO and line.bytes == len(body)  # type: ignore[attr-defined]
    assert line.error == error  # type: ignore[attr-defined]
    assert [r for r in debug_logs.records if r.levelno >= logging.WARNING] == []
    assert sandbox.state.stats().calls == {}


# ------------------------------------------------------------------------------------------ metrics


def refused_counts(url: str) -> dict[str, float]:
    text = httpx.get(url + "/metrics").text
    found = re.findall(r'^cluebot_slack_refused_total\{reason="(\w+)"\} ([0-9.]+)$', text, flags=re.MULTILINE)
    return {reason: float(count) for reason, count in found}


def test_refusals_are_counted_by_reason(app_url: str) -> None:
    before = refused_counts(app_url)
    httpx.post(app_url + "/slack/events", content=b"{}", headers=unsigned())  # read, then the HMAC fails
    httpx.post(app_url + "/slack/events", content=b"{}")  # no signature headers
    with connect(app_url, unsigned(), length=LIMIT + 1) as sock:
        assert read_response(sock)[0] == 413
    after = refused_counts(app_url)
    delta = {reason: after.get(reason, 0) - before.get(reason, 0) for reason in after}
    assert delta == {**dict.fromkeys(after, 0.0), "signature": 1, "headers": 1, "size": 1}


# ------------------------------------------------------------------------------------------ other paths


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_an_unknown_path_is_404_without_reading_the_body(app_url: str, chunked: bool) -> None:
    with connect(app_url, {}, chunked=chunked, length=None if chunked else 50 * 1024 ** 3, path="/nope") as sock:
        sent = send_until_refused(sock, hex_chunk(256 * 1024) if chunked else b"[" * 65536, 256 * 1024 * 1024)
        assert read_response(sock) == (404, True)
    assert sent < 64 * 1024 * 1024  # refused and closed, not drained (the socket buffers take a few MiB)


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/readyz"])
def test_a_served_path_reads_a_body_only_up_to_its_bound(app_url: str, path: str) -> None:
    with connect(app_url, {}, chunked=True, path=path) as sock:
        sent = send_until_refused(sock, hex_chunk(256 * 1024), 256 * 1024 * 1024)
        assert read_response(sock) == (413, True)
    assert sent < 64 * 1024 * 1024
    with connect(app_url, {}, length=10 * 1024 ** 2, path=path) as sock:
        assert read_response(sock) == (413, True)  # declared over the bound: unread


def test_an_unknown_path_without_a_body_is_a_plain_404(app_url: str) -> None:
    assert httpx.get(app_url + "/nope").status_code == 404
    assert httpx.get(app_url + "/healthz").json() == {"status": "ok"}
