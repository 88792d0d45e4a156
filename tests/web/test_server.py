"""The head deadline ``python -m bot serve`` gives uvicorn, on a real uvicorn on loopback with raw sockets."""

from __future__ import annotations

import resource
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.dev.loopback import quiet_config
from bot.web.server import head_deadline_protocol, raise_open_file_limit

HEAD_TIMEOUT = 0.5


async def echo(request: Request) -> Response:
    return PlainTextResponse(f"{len(await request.body())} bytes")


@contextmanager
def serving(http: object) -> Iterator[int]:
    """uvicorn with protocol ``http`` on a free loopback port, on a thread; yields the port."""
    config = quiet_config(Starlette(routes=[Route("/", echo, methods=["GET", "POST"])]), "127.0.0.1", 0)
    config.http = http  # type: ignore[assignment]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(10)


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes ``sock`` within ``seconds`` (responses before the close are skipped)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def trickle(sock: socket.socket, data: bytes, seconds: float) -> bool:
    """Send ``data`` one byte at a time over about ``seconds``; False once the server has closed."""
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return False
        time.sleep(seconds / len(data))
    return True


@pytest.fixture(scope="module", params=["httptools", "h11"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    """A server on each protocol ``python -m bot serve`` may pick, with the head deadline."""
    with serving(head_deadline_protocol(request.param, HEAD_TIMEOUT)) as bound:
        yield bound


def test_a_trickled_head_is_cut_off(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        still_open = trickle(sock, b"GET / HTTP/1.1\r\nhost: x\r\nx-pad: " + b"a" * 40, 3)
        assert not still_open or closed_within(sock, 5)


def test_a_silent_connection_is_cut_off(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        assert closed_within(sock, 5)


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_plain_uvicorn_keeps_a_trickled_head_open(http: str) -> None:
    # The control: without the deadline the same client is still connected after the same time.
    with serving(http) as plain, socket.create_connection(("127.0.0.1", plain), timeout=5) as sock:
        assert trickle(sock, b"GET / HTTP/1.1\r\nhost: x\r\nx-pad: " + b"a" * 20, 1.5)
        assert not closed_within(sock, 0.5)


def test_the_next_head_on_a_kept_alive_connection_has_a_deadline_too(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        # uvicorn's keep-alive timer (5 s) stops at the first byte; the head deadline does not.
        still_open = trickle(sock, b"GET / HTTP/1.1\r\nhost: x\r\nx-pad: " + b"a" * 40, 3)
        assert not still_open or closed_within(sock, 5)


def test_bodies_and_kept_alive_requests_are_not_cut_by_the_head_deadline(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n")
        assert trickle(sock, b"0123456789", HEAD_TIMEOUT * 3)  # the body is the app's to time, not the head's
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(HEAD_TIMEOUT / 5)
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")


def test_raise_open_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip(f"hard limit {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        assert raise_open_file_limit(most=2048) == (1024, 2048)
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (2048, hard)
        assert raise_open_file_limit(most=2048) == (2048, 2048)  # already there: unchanged
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
