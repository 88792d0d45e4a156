"""Load drivers: wrk (the real load generator) and a pure-Python keep-alive driver.

Both run closed-loop: ``concurrency`` connections, each sending its next request as soon as the previous
answer arrived, for ``duration`` seconds. Both send the same pre-built raw requests (``bench.requests``).
The Python driver also serves the scenarios wrk cannot express: fresh per-request signatures (unique
event ids), simultaneous bursts, per-request deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

MakeRequest = Callable[[int], bytes]
_WRK_MARK = "BENCH_JSON "
# wrk's done() hook prints one JSON line: counts and latency percentiles in microseconds.
_WRK_LUA = """
local reqs = {%(requests)s}
local n = 0
function request()
  n = n %% #reqs + 1
  return reqs[n]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%(mark)s{"requests":%%d,"duration_us":%%d,"p50_us":%%.0f,"p99_us":%%.0f,"max_us":%%.0f,' ..
    '"errors":%%d,"non_2xx":%%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


@dataclass(frozen=True, slots=True)
class LoadResult:
    """One closed-loop run: completed requests, throughput and latency (ms) of the completed ones."""

    concurrency: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # connection errors and timeouts
    non_2xx: int

    def to_json(self) -> dict[str, float | int]:
        return {key: round(value, 3) if isinstance(value, float) else value for key, value in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class Sample:
    """One request as the Python driver saw it; ``status`` 0 means no answer (error or deadline)."""

    latency: float
    status: int
    body: bytes


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of unsorted values; NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summarize(samples: Sequence[Sample], concurrency: int, seconds: float) -> LoadResult:
    answered = [s.latency * 1000 for s in samples if s.status]
    return LoadResult(
        concurrency=concurrency, requests=len(answered), seconds=seconds,
        rps=len(answered) / seconds if seconds > 0 else math.nan,
        p50_ms=percentile(answered, 50), p99_ms=percentile(answered, 99),
        max_ms=max(answered, default=math.nan),
        errors=sum(1 for s in samples if not s.status),
        non_2xx=sum(1 for s in samples if s.status and not 200 <= s.status < 300),
    )


# ---------------------------------------------------------------- wrk


def wrk_path() -> str | None:
    return shutil.which("wrk")


def _lua_string(data: bytes) -> str:
    # Decimal escapes for anything that is not plain printable ASCII, so any body survives.
    return '"' + "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\{b:03d}" for b in data) + '"'


def run_wrk(port: int, requests: Sequence[bytes], *, concurrency: int, duration: float) -> LoadResult:
    """Run wrk (one thread) against 127.0.0.1:port, cycling through ``requests``."""
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk), or pass --driver python")
    script = _WRK_LUA % {"requests": ",\n".join(_lua_string(r) for r in requests), "mark": _WRK_MARK}
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        path = Path(tmp, "requests.lua")
        path.write_text(script)
        seconds = max(1, round(duration))  # wrk takes whole seconds
        done = subprocess.run(
            [wrk, "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s", "-s", str(path),
             f"http://127.0.0.1:{port}/"],
            capture_output=True, text=True, timeout=seconds + 30, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith(_WRK_MARK)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    raw = json.loads(line[len(_WRK_MARK):])
    elapsed = raw["duration_us"] / 1e6
    return LoadResult(
        concurrency=concurrency, requests=raw["requests"], seconds=elapsed, rps=raw["requests"] / elapsed,
        p50_ms=raw["p50_us"] / 1000, p99_ms=raw["p99_us"] / 1000, max_ms=raw["max_us"] / 1000,
        errors=raw["errors"], non_2xx=raw["non_2xx"],
    )


# ---------------------------------------------------------------- Python driver


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1; answers must carry Content-Length."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send one raw request and read the answer: (status, body)."""
        await self.open()
        assert self._reader is not None and self._writer is not None
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
        fields = {name.strip().lower(): value.strip() for name, value in headers.items()}
        body = await self._reader.readexactly(int(fields["content-length"]))
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return status, body

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):  # the peer may be gone already; closed either way
                await writer.wait_closed()


async def _timed(conn: Connection, request: bytes, request_timeout: float) -> Sample:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(request_timeout):
            status, body = await conn.send(request)
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, KeyError):
        await conn.close()  # a half-read answer leaves the connection unusable
        return Sample(time.perf_counter() - started, 0, b"")
    return Sample(time.perf_counter() - started, status, body)


async def drive(port: int, make: MakeRequest, *, concurrency: int, duration: float,
                max_requests: int | None = None, request_timeout: float = 10.0
                ) -> tuple[list[Sample], float]:
    """Closed loop for ``duration`` seconds (or until ``max_requests`` were sent); samples and elapsed time.

    ``make(i)`` builds request number ``i``; it runs outside the timed part of each request.
    """
    counter = itertools.count()
    limit = max_requests if max_requests is not None else math.inf
    samples: list[Sample] = []
    conns = [Connection(port) for _ in range(concurrency)]
    await asyncio.gather(*(c.open() for c in conns))
    started = time.perf_counter()
    deadline = started + duration

    async def worker(conn: Connection) -> None:
        while time.perf_counter() < deadline and (i := next(counter)) < limit:
            samples.append(await _timed(conn, make(i), request_timeout))

    try:
        await asyncio.gather(*(worker(c) for c in conns))
    finally:
        await asyncio.gather(*(c.close() for c in conns))
    return samples, time.perf_counter() - started


async def burst(port: int, requests: Sequence[bytes], *, request_timeout: float = 10.0) -> list[Sample]:
    """Open one connection per request first, then send them all at once."""
    conns = [Connection(port) for _ in requests]
    try:
        await asyncio.gather(*(c.open() for c in conns))
        answers = (_timed(c, r, request_timeout) for c, r in zip(conns, requests, strict=True))
        return list(await asyncio.gather(*answers))
    finally:
        await asyncio.gather(*(c.close() for c in conns))


def run_python(port: int, requests: Sequence[bytes], *, concurrency: int, duration: float) -> LoadResult:
    """The Python stand-in for ``run_wrk`` (same requests, same closed loop; slower client)."""
    samples, elapsed = asyncio.run(drive(port, lambda i: requests[i % len(requests)],
                                         concurrency=concurrency, duration=duration))
    return summarize(samples, concurrency, elapsed)
