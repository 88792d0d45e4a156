"""AiohttpTransport under CrmClient, against raw loopback servers: pooling, and each way a connection
fails becoming the httpx error (the transport's) that the client turns into one CrmError (retried once, or not)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import httpx
import pytest

from bot.crm.client import CrmClient
from bot.crm.transport import AiohttpTransport
from bot.dev.sandbox import SandboxServer, seed
from bot.errors import CrmUnavailable
from tests.support import make_client

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
ENVELOPE = json.dumps({"code": 0, "message": "ok", "data": seed.CLUES[0]}, ensure_ascii=False).encode()


@asynccontextmanager
async def raw_server(serve: Serve) -> AsyncIterator[tuple[str, list[int]]]:
    """A loopback server running ``serve`` per connection; yields its URL and a one-item connection count."""
    connections = [0]

    async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections[0] += 1
        try:
            await serve(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(counted, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", connections
    finally:
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> None:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    length = next(int(line.split(":", 1)[1]) for line in head.split("\r\n")
                  if line.lower().startswith("content-length:"))
    await reader.readexactly(length)


def answer(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


@pytest.fixture
async def clients() -> AsyncIterator[Callable[..., CrmClient]]:
    made: list[CrmClient] = []

    def factory(url: str, **kwargs: object) -> CrmClient:
        made.append(make_client(url, **kwargs))
        return made[-1]

    yield factory
    for client in made:
        await client.aclose()


async def test_sequential_calls_reuse_one_kept_alive_connection(clients: Callable[..., CrmClient]) -> None:
    async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(answer(ENVELOPE))
            await writer.drain()

    async with raw_server(keep_alive) as (url, connections):
        client = clients(url)
        for _ in range(3):
            assert (await client.get_clue(8)).customer_id == 8
    assert connections == [1]


async def test_a_connection_dropped_before_the_answer_is_retried_once(clients: Callable[..., CrmClient]) -> None:
    async def drop_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        if served[0] == 0:
            served[0] += 1
            return  # closed without a word: aiohttp's ServerDisconnectedError
        writer.write(answer(ENVELOPE))
        await writer.drain()

    served = [0]
    async with raw_server(drop_first) as (url, connections):
        assert (await clients(url).get_clue(8)).customer_id == 8
    assert connections == [2]


async def test_a_body_cut_short_is_a_connection_failure(clients: Callable[..., CrmClient]) -> None:
    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(ENVELOPE)[:-10])
        await writer.drain()

    async with raw_server(short) as (url, connections):
        with pytest.raises(CrmUnavailable, match=r"connection failed \(ReadError\)") as caught:
            await clients(url).get_clue(8)
    assert connections == [2]  # retried once, cut short again
    # Translated once at each boundary: aiohttp's error into httpx's (the transport), that into ours (the client).
    assert type(caught.value) is CrmUnavailable  # the class name is a metric label and a log field
    wire = caught.value.__cause__
    assert isinstance(wire, httpx.ReadError) and isinstance(wire.__cause__, aiohttp.ClientPayloadError)


async def test_a_refused_port_is_a_connect_error_after_one_retry(clients: Callable[..., CrmClient]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(CrmUnavailable, match=r"connection failed \(ConnectError\)"):
            await clients(f"http://127.0.0.1:{port}").get_clue(8)


async def test_a_silent_server_times_out_without_retry(clients: Callable[..., CrmClient]) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async with raw_server(silent) as (url, connections):
        with pytest.raises(CrmUnavailable, match=r"within|timed out"):
            await clients(url, timeout=0.3).get_clue(8)
    assert connections == [1]


async def test_a_closed_client_refuses_and_closing_twice_is_harmless(sandbox: SandboxServer,
                                                                      clients: Callable[..., CrmClient]) -> None:
    client = clients(sandbox.url)
    assert (await client.get_clue(8)).customer_id == 8
    await client.aclose()
    await client.aclose()
    assert client.closed
    with pytest.raises(CrmUnavailable, match="closed"):
        await client.get_clue(8)


async def test_the_transport_speaks_httpx_errors() -> None:
    transport = AiohttpTransport(max_connections=1)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        request = httpx.Request("POST", f"http://127.0.0.1:{probe.getsockname()[1]}/api", content=b"{}")
        try:
            with pytest.raises(httpx.ConnectError):
                await transport.handle_async_request(request)
        finally:
            await transport.aclose()
