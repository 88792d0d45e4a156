"""CrmClient through the real sandbox over loopback HTTP: envelopes, every error class, limits."""

from __future__ import annotations

import asyncio
import json
import logging
import tracemalloc
import zlib
from collections.abc import Callable
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.cache.clues import clue_cache
from bot.cache.timed import Policy
from bot.crm.client import CLUE_GET, TAG_TREE, CrmClient, _BoundedDecoder
from bot.crm.reference import ClueFetcher, ReferenceData
from bot.crm.transport import AiohttpTransport
from bot.dev.sandbox import SandboxServer, seed
from bot.errors import ClueNotFound, CrmAuthError, CrmError, CrmProtocolError, CrmUnavailable
from bot.runtime.metrics import Metrics
from tests.support import FakeClock

Factory = Callable[..., CrmClient]


async def test_get_clue_of_the_doc_example(sandbox: SandboxServer, crm_factory: Factory) -> None:
    raw = await crm_factory(sandbox.url).get_clue(8)
    assert raw.customer_id == 8
    fields = {f.key: f for f in raw.fields}
    assert fields["name"].value == "打马赛克就"
    assert fields["mobile"].value == '["145678388"]'
    assert fields["customer_stage"].type == 2
    assert fields["address"].value is None
    assert raw.create_time == "2021-05-11 15:15:48"


async def test_fifteen_digit_id(sandbox: SandboxServer, crm_factory: Factory) -> None:
    raw = await crm_factory(sandbox.url).get_clue(seed.LONG_ID_CLUE_ID)
    assert raw.customer_id == 410983932389440
    assert sandbox.state.stats().clue_gets == {410983932389440: 1}


async def test_base_url_path_prefix_is_kept() -> None:
    with SandboxServer(prefix="/apiServer") as prefixed:
        client = crm_client_for(prefixed.url)
        try:
            assert (await client.get_clue(8)).customer_id == 8
            assert prefixed.url.endswith("/apiServer")
        finally:
            await client.aclose()
        # Without the prefix the same server has no such route: proof the prefix was really used.
        bare = crm_client_for(prefixed.origin)
        try:
            with pytest.raises(CrmProtocolError, match="HTTP 404"):
                await bare.get_clue(8)
        finally:
            await bare.aclose()


def crm_client_for(url: str) -> CrmClient:
    from tests.support import make_client

    return make_client(url)


async def test_unknown_clue_is_not_found(sandbox: SandboxServer, crm_factory: Factory) -> None:
    with pytest.raises(ClueNotFound) as caught:
        await crm_factory(sandbox.url).get_clue(seed.MISSING_CLUE_ID)
    assert caught.value.clue_id == seed.MISSING_CLUE_ID


async def test_wrong_key_is_an_auth_error_without_retry(sandbox: SandboxServer, crm_factory: Factory) -> None:
    with pytest.raises(CrmAuthError) as caught:
        await crm_factory(sandbox.url, app_key="wrong-key").get_clue(8)
    assert caught.value.code == 1002
    assert not caught.value.clock_skew
    assert sandbox.state.stats().clue_gets == {8: 1}


async def test_clock_skew_is_retried_once_with_a_fresh_timestamp(sandbox: SandboxServer,
                                                                 crm_factory: Factory) -> None:
    stamps: list[str] = []
    real = AiohttpTransport(max_connections=2)

    class Recording(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            stamps.append(request.headers["timestamp"])
            return await real.handle_async_request(request)

        async def aclose(self) -> None:
            await real.aclose()

    now = iter([1_000, 2_000])
    client = crm_factory(sandbox.url, now_ms=lambda: next(now), transport=Recording())
    with pytest.raises(CrmAuthError) as caught:
        await client.get_clue(8)
    assert caught.value.code == 1003
    assert caught.value.clock_skew
    assert stamps == ["1000", "2000"]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_http_5xx_is_unavailable(sandbox: SandboxServer, crm_factory: Factory, status: int) -> None:
    sandbox.state.set_fault(8, status=status)
    with pytest.raises(CrmUnavailable, match=f"HTTP {status}"):
        await crm_factory(sandbox.url).get_clue(8)
    # 502/503/504 are worth one retry; a 500 is not.
    assert sandbox.state.stats().clue_gets[8] == (2 if status != 500 else 1)


async def test_error_code_keeps_code_and_message(sandbox: SandboxServer, crm_factory: Factory) -> None:
    sandbox.state.set_fault(8, code=50001)
    with pytest.raises(CrmError) as caught:
        await crm_factory(sandbox.url).get_clue(8)
    assert type(caught.value) is CrmError
    assert caught.value.code == 50001
    assert caught.value.crm_message


async def test_malformed_json_is_a_protocol_error(sandbox: SandboxServer, crm_factory: Factory) -> None:
    sandbox.state.set_fault(8, malformed=True)
    with pytest.raises(CrmProtocolError, match="not JSON"):
        await crm_factory(sandbox.url).get_clue(8)


async def test_oversized_body_is_cut_off(sandbox: SandboxServer, crm_factory: Factory) -> None:
    sandbox.state.set_fault(8, oversized_bytes=10_000_000)
    with pytest.raises(CrmProtocolError, match="limit"):
        await crm_factory(sandbox.url, max_response_bytes=100_000).get_clue(8)


async def test_hang_times_out(sandbox: SandboxServer, crm_factory: Factory) -> None:
    sandbox.state.set_fault(8, hang=True)
    with pytest.raises(CrmUnavailable, match=r"within|timed out"):
        await crm_factory(sandbox.url, timeout=0.3).get_clue(8)
    assert sandbox.state.stats().clue_gets[8] == 1  # timeouts are not retried: the budget is spent


async def test_connection_refused_is_unavailable_after_one_retry(crm_factory: Factory) -> None:
    attempts = 0

    def refuse(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        raise httpx.ConnectError("refused", request=request)

    client = crm_factory("http://crm.invalid", transport=httpx.MockTransport(refuse))
    with pytest.raises(CrmUnavailable, match="ConnectError"):
        await client.get_clue(8)
    assert attempts == 2


async def test_a_transport_error_then_success_is_transparent(sandbox: SandboxServer, crm_factory: Factory) -> None:
    real = AiohttpTransport(max_connections=2)
    calls = 0

    class FlakyOnce(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise httpx.ReadError("connection reset", request=request)
            return await real.handle_async_request(request)

    client = crm_factory(sandbox.url, transport=FlakyOnce())
    assert (await client.get_clue(8)).customer_id == 8
    assert calls == 2
    await real.aclose()


@pytest.mark.parametrize(("body", "match"), [
    (b"[]", "integer 'code'"),
    (b'{"message":"ok"}', "integer 'code'"),
    (b'{"code":"0"}', "integer 'code'"),
    (b'{"code":0,"data":[1,2]}', "expected an object"),
    (b'{"code":0,"data":{"customerId":"x"}}', "customerId"),
    (b'{"code":0,"data":{"customerId":8,"fields":"nope"}}', "expected a list"),
])
async def test_wrong_shapes_are_protocol_errors(crm_factory: Factory, body: bytes, match: str) -> None:
    client = crm_factory("http://crm.test", transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body)))
    with pytest.raises(CrmProtocolError, match=match):
        await client.get_clue(8)


async def test_every_request_is_signed_over_the_bytes_sent(sandbox: SandboxServer, crm_factory: Factory) -> None:
    client = crm_factory(sandbox.url)
    await client.echo()
    page = await client.search_customers("打马赛克就")  # non-ASCII body: signed as sent
    assert any(hit.customer_id == 8 for hit in page.hits)
    assert (await client.list_tag_tree())
    assert (await client.list_fields())
    follow_ups = await client.list_follow_ups(seed.LONG_ID_CLUE_ID, size=10)
    assert len(follow_ups.items) == 10 and follow_ups.next_cursor
    more = await client.list_follow_ups(seed.LONG_ID_CLUE_ID, size=10, cursor=follow_ups.next_cursor)
    assert {f.id for f in more.items}.isdisjoint({f.id for f in follow_ups.items})


async def test_concurrency_bound_is_never_exceeded(sandbox: SandboxServer, crm_factory: Factory) -> None:
    sandbox.state.set_fault(None, latency_ms=50, endpoint=CLUE_GET)
    client = crm_factory(sandbox.url, max_concurrency=3)
    ids = [i for i in range(1, 40) if sandbox.state.clue(i) is not None][:12]
    await asyncio.gather(*(client.get_clue(i) for i in ids))
    stats = sandbox.state.stats()
    assert sum(stats.clue_gets.values()) == len(ids)
    assert stats.max_in_flight == 3


async def test_latency_is_recorded_by_endpoint_and_outcome(sandbox: SandboxServer, crm_factory: Factory) -> None:
    metrics = Metrics()
    client = crm_factory(sandbox.url, metrics=metrics)
    await client.list_tag_tree()
    sandbox.state.set_fault(8, code=1002)
    with pytest.raises(CrmAuthError):
        await client.get_clue(8)
    text = metrics.render().decode()
    assert f'cluebot_crm_request_seconds_count{{endpoint="{TAG_TREE}",outcome="ok"}} 1.0' in text
    assert f'cluebot_crm_request_seconds_count{{endpoint="{CLUE_GET}",outcome="auth"}} 1.0' in text


@pytest.mark.parametrize(("message", "not_found"), [
    ("线索不存在", True), ("客户不存在或已删除", True), ("Customer not found", True), ("record does not exist", True),
    ("系统繁忙", False), ("", False),
])
async def test_a_business_error_saying_not_found_is_not_found(crm_factory: Factory, message: str,
                                                              not_found: bool) -> None:
    body = json.dumps({"code": 40004, "message": message}).encode()
    client = crm_factory("http://crm.test", transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body)))
    with pytest.raises(ClueNotFound if not_found else CrmError) as caught:
        await client.get_clue(410983932389440)
    assert isinstance(caught.value, ClueNotFound) is not_found


async def test_absurdly_nested_json_is_a_protocol_error(crm_factory: Factory) -> None:
    deep = httpx.MockTransport(lambda r: httpx.Response(200, content=b"[" * 100_000))
    client = crm_factory("http://crm.test", transport=deep)
    with pytest.raises(CrmProtocolError, match="not JSON"):
        await client.get_clue(8)


async def test_an_answer_for_another_clue_is_a_protocol_error_never_a_card(
        sandbox: SandboxServer, crm_factory: Factory, caplog: pytest.LogCaptureFixture) -> None:
    # The CRM answers clue/get 3333 with the vendor's example clue, customerId 8 and all.
    sandbox.state.put_clue(sandbox.state.clue(8) or {}, served_as=3333)
    client = crm_factory(sandbox.url)
    fetcher = ClueFetcher(client, ReferenceData(client, ttl=3600, clock=FakeClock()), ZoneInfo("Asia/Shanghai"))
    cache = clue_cache(fetcher.fetch, Policy(ttl=60, maxsize=100, deadline=5, negative_ttl=10, stale_ttl=3600),
                       clock=FakeClock(), wall=FakeClock(1_700_000_000), metrics=Metrics())
    with caplog.at_level(logging.INFO), pytest.raises(CrmProtocolError, match="clue 8 when asked for clue 3333"):
        await cache.get(3333)
    mismatch = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in mismatch] == ["crm.clue.mismatch"]  # one line, nothing else to see
    assert (mismatch[0].requested, mismatch[0].answered) == (3333, 8)  # type: ignore[attr-defined]
    # Nothing was cached under either id: the next lookups go to the CRM again.
    sandbox.state.delete_clue(3333)
    with pytest.raises(ClueNotFound):
        await cache.get(3333)
    assert (await cache.get(8)).value.id == 8
    assert sandbox.state.stats().clue_gets == {3333: 2, 8: 1}


async def test_an_answer_without_customer_id_is_the_clue_asked_for(sandbox: SandboxServer,
                                                                   crm_factory: Factory) -> None:
    # The vendor's example carries customerId; an answer that leaves it out is read as the clue asked for.
    doc = {k: v for k, v in (sandbox.state.clue(8) or {}).items() if k != "customerId"}
    sandbox.state.put_clue(doc, served_as=3333)
    raw = await crm_factory(sandbox.url).get_clue(3333)
    assert raw.customer_id == 3333
    assert {f.key: f.value for f in raw.fields}["name"] == "打马赛克就"


class OneAnswerServer:
    """A loopback HTTP/1.1 server that answers every request with the same status line, headers and body,
    as bytes: the way to serve what the sandbox never would, such as a gzip bomb. Records request heads."""

    def __init__(self, headers: dict[str, str], body: bytes) -> None:
        head = "HTTP/1.1 200 OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._answer = (head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
        self.request_heads: list[str] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        self.request_heads.append(head)
        length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n")
                       if line.lower().startswith("content-length:")), 0)
        await reader.readexactly(length)
        writer.write(self._answer)
        await writer.drain()
        writer.close()


def compressed(data_parts: list[bytes], wbits: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return b"".join(packer.compress(part) for part in data_parts) + packer.flush()


def gzip_bomb(decoded_bytes: int) -> bytes:
    """A valid clue/get envelope whose JSON string value pads it to ``decoded_bytes``, gzip-compressed
    piece by piece (so building it never holds the decoded whole)."""
    start, end = b'{"code":0,"message":"ok","data":{"customerId":8,"x":"', b'"}}'
    piece = b"A" * (1 << 20)
    pad = decoded_bytes - len(start) - len(end)
    parts = [start, *([piece] * (pad // len(piece))), piece[: pad % len(piece)], end]
    return compressed(parts, zlib.MAX_WBITS | 16)


async def test_a_gzip_bomb_is_stopped_as_it_decodes(crm_factory: Factory) -> None:
    bomb = gzip_bomb(50 * 1024 * 1024)
    assert len(bomb) < 100_000  # ~1,000:1, so the compressed size check cannot catch it
    server = OneAnswerServer({"Content-Type": "application/json", "Content-Encoding": "gzip"}, bomb)
    async with server as url:
        client = crm_factory(url, max_response_bytes=1_000_000)
        tracemalloc.start()
        try:
            with pytest.raises(CrmProtocolError, match="1000000 byte limit"):
                await client.get_clue(8)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert "accept-encoding: gzip" in server.request_heads[0].lower()  # we did ask for it
    # Decoding the 50 MB whole would peak above 50 MB; bounded, it stays near the 1 MB limit.
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize(("encoding", "wbits"), [
    ("gzip", zlib.MAX_WBITS | 16), ("deflate", zlib.MAX_WBITS), ("deflate", -zlib.MAX_WBITS), ("identity", 0),
])
async def test_compressed_answers_decode(crm_factory: Factory, encoding: str, wbits: int) -> None:
    envelope = json.dumps({"code": 0, "message": "ok", "data": seed.CLUES[0]}, ensure_ascii=False).encode()
    body = envelope if encoding == "identity" else compressed([envelope[:100], envelope[100:]], wbits)
    async with OneAnswerServer({"Content-Type": "application/json", "Content-Encoding": encoding}, body) as url:
        raw = await crm_factory(url).get_clue(8)
    assert {f.key: f.value for f in raw.fields}["name"] == "打马赛克就"


@pytest.mark.parametrize(("encoding", "body", "match"), [
    ("br", b"\x0b\x02\x80{}\x03", "unsupported content-encoding"),
    ("gzip", b"\x1f\x8b not really gzip", "corrupt gzip"),
])
async def test_undecodable_answers_are_protocol_errors(crm_factory: Factory, encoding: str, body: bytes,
                                                       match: str) -> None:
    async with OneAnswerServer({"Content-Type": "application/json", "Content-Encoding": encoding}, body) as url:
        with pytest.raises(CrmProtocolError, match=match):
            await crm_factory(url).get_clue(8)


@pytest.mark.parametrize(("encoding", "wbits"), [
    ("gzip", zlib.MAX_WBITS | 16), ("deflate", zlib.MAX_WBITS), ("deflate", -zlib.MAX_WBITS), ("", 0),
])
def test_decoding_does_not_depend_on_how_the_bytes_are_split(encoding: str, wbits: int) -> None:
    envelope = json.dumps({"code": 0, "data": seed.CLUES[0]}, ensure_ascii=False).encode()
    body = compressed([envelope], wbits) if encoding else envelope
    decoder = _BoundedDecoder(encoding, len(envelope))
    for i in range(len(body)):  # one byte at a time: the network may split anywhere, even the zlib header
        decoder.feed(body[i:i + 1])
    assert decoder.finish() == envelope
    short = _BoundedDecoder(encoding, len(envelope) - 1)
    with pytest.raises(CrmProtocolError, match="limit"):
        for i in range(len(body)):
            short.feed(body[i:i + 1])
        short.finish()


async def test_follow_ups_are_asked_with_the_vendors_type_unless_configured(sandbox: SandboxServer,
                                                                        crm_factory: Factory) -> None:
    # Clue 3's newest follow-up is a system note: under type 1 (what the app used to send) the sandbox, reading
    # type as the follow-up kind, lists only free text, so the card's latest follow-up would be another one.
    every_kind = await crm_factory(sandbox.url).list_follow_ups(3)
    assert [(f.id, f.type) for f in every_kind.items] == [("430000000000301", 2), ("430000000000302", 1)]
    free_text = await crm_factory(sandbox.url, follow_up_type=1).list_follow_ups(3)
    assert [(f.id, f.type) for f in free_text.items] == [("430000000000302", 1)]


async def test_the_follow_up_type_is_sent_as_configured(crm_factory: Factory) -> None:
    sent: list[object] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content)["type"])
        return httpx.Response(200, json={"code": 0, "data": {"list": [], "nextCursor": None}})

    await crm_factory("http://crm.test", transport=httpx.MockTransport(record)).list_follow_ups(8)
    await crm_factory("http://crm.test", transport=httpx.MockTransport(record), follow_up_type=2).list_follow_ups(8)
    assert sent == [0, 2]
