"""``python -m bench.hostile [--quick] [--out DIR]``: unsigned floods and slow senders against ``python -m bot serve``.

On 127.0.0.1 only; every loop is bounded by a byte count, a connection count or a deadline, and the
server is stopped on exit. Measures, for one production-configured server (its own process):

- **chunked**: peak RSS growth of the server while 4 connections each try to send a 500 MiB chunked body
  with an in-window timestamp and a junk signature (the costliest unsigned request: the body must be read
  before it can be refused). A sender stops when the server answers or closes. Target: under +64 MiB.
- **full_slots**: peak RSS growth while every body-read slot (``SLACK_MAX_PENDING_BODIES``) holds a body
  just under 512 KiB that never finishes: the most an unsigned flood can make the server buffer.
- **slow**: ``/healthz`` latency (a new connection per probe, as a load balancer does) while 1,000
  connections send a body one byte every 5 s. ``hold``: each opens once; ``reconnect``: each opens again
  1 s after the server drops it. ``all_held`` raises the cap above 1,000, so every slow body is held
  open until the 10 s deadline. ``slow_head`` trickles the request head instead (dropped by the
  server's head deadline, before the app sees a request). ``junk_reconnect`` is the control for
  ``reconnect``: the same 1,000 clients sending whole unsigned requests (401 at once), so the cost of
  the connection rate alone. Target: p99 under 100 ms.
- **starve_one** / **starve_64**: signed requests (a url_verification, a new connection each, from
  127.0.0.200) while 1,000 connections trickle a body a byte every 2 s and reconnect when dropped, all
  from 127.0.0.2 (``one``) or spread over 64 loopback addresses. Target: >= 99 % answered 200 within 3 s.

Peak RSS is VmHWM after resetting it through ``/proc/<pid>/clear_refs``. Results go to
``<out>/hostile.json`` and are printed. Exit status 0 even when a target is missed; 1 if a scenario
could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import secrets
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.procs import APP_CPU, HELPER_CPU, Proc, Procs, can_pin, free_port, pin_harness
from bench.scenarios import Bench

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
MiB = 1024 * 1024


def _log(text: str) -> None:
    print(f"[hostile] {text}", file=sys.stderr, flush=True)


def bot_env(port: int, **extra: str) -> dict[str, str]:
    return {
        **Bench.base_env(),  # the harness's environment without the developer's Slack, CRM or Redis settings
        "SLACK_BOT_TOKEN": "xoxb-bench-hostile-0000", "SLACK_SIGNING_SECRET": secrets.token_hex(16),
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # never called: what is signed here needs no Web API call
        "CRM_BASE_URL": "http://127.0.0.1:9", "CRM_APP_ID": "wwbenchhostile0001_Bench",  # never called either
        "CRM_APP_KEY": "bench-hostile-not-a-secret",
        "PORT": str(port), "HOST": "127.0.0.1", "LOG_LEVEL": "WARNING", **extra,
    }


@contextmanager
def bot(procs: Procs, name: str, **settings: str) -> Iterator[Proc]:
    port = free_port()
    proc = procs.spawn(name, ["bot", "serve"], bot_env(port, **settings), port=port, app_under_test=True)
    try:
        proc.wait_listening()
        time.sleep(0.5)  # let start-up allocations settle before the baseline is read
        yield proc
    finally:
        procs.stop(proc)


def reset_peak(proc: Proc) -> int:
    """Reset the peak RSS of ``proc`` to its current RSS; the current RSS in bytes."""
    Path(f"/proc/{proc.popen.pid}/clear_refs").write_text("5")
    return proc.rss_bytes()


def peak_rss(proc: Proc) -> int:
    for line in Path(f"/proc/{proc.popen.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


def head(port: int, *, chunked: bool = False, length: int = 0) -> bytes:
    lines = ["POST /slack/events HTTP/1.1", f"host: 127.0.0.1:{port}", "content-type: application/json",
             f"x-slack-request-timestamp: {int(time.time())}", "x-slack-signature: v0=" + "0" * 64,
             "transfer-encoding: chunked" if chunked else f"content-length: {length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (or resets, or the socket times out)."""
    data = b""
    try:
        while piece := sock.recv(65536):
            data += piece
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def status_of(data: bytes) -> int | None:
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None


# ------------------------------------------------------------------------------------------ chunked


def _chunked_sender(port: int, most: int, out: list[dict[str, Any]]) -> None:
    chunk_size = 256 * 1024
    chunk = f"{chunk_size:x}\r\n".encode() + b"[" * chunk_size + b"\r\n"
    sent, status, started = 0, None, time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head(port, chunked=True))
        try:
            while sent < most:
                sock.sendall(chunk)
                sent += chunk_size
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        status = status_of(read_until_closed(sock))
    out.append({"status": status, "sent_mib": round(sent / MiB, 1), "seconds": round(time.monotonic() - started, 2)})


def chunked(procs: Procs, *, senders: int, body_mib: int) -> dict[str, Any]:
    with bot(procs, "hostile-chunked") as proc:
        before = reset_peak(proc)
        results: list[dict[str, Any]] = []
        threads = [threading.Thread(target=_chunked_sender, args=(proc.port, body_mib * MiB, results))
                   for _ in range(senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        time.sleep(0.2)
        growth = peak_rss(proc) - before
        return {"senders": senders, "body_mib": body_mib, "rss_before_mib": round(before / MiB, 1),
                "peak_growth_mib": round(growth / MiB, 1), "target_mib": 64, "met": growth < 64 * MiB,
                "per_sender": results}


def full_slots(procs: Procs, *, slots: int) -> dict[str, Any]:
    """Every slot holds a body 1 KiB under the limit that never ends; peak RSS growth until the deadline."""
    with bot(procs, "hostile-slots", SLACK_MAX_PENDING_BODIES=str(slots)) as proc:
        before = reset_peak(proc)
        size = 512 * 1024 - 1024
        socks = []
        try:
            for _ in range(slots):
                sock = socket.create_connection(("127.0.0.1", proc.port), timeout=15)
                sock.sendall(head(proc.port, length=size + 1) + b"[" * size)
                socks.append(sock)
            statuses = []
            for sock in socks:  # the deadline (10 s) ends each: 408
                statuses.append(status_of(read_until_closed(sock)))
        finally:
            for sock in socks:
                sock.close()
        growth = peak_rss(proc) - before
        return {"slots": slots, "body_kib": size // 1024, "peak_growth_mib": round(growth / MiB, 1),
                "bound_mib": round(slots * 512 * 1024 / MiB, 1), "statuses": dict(Counter(map(str, statuses)))}


# ------------------------------------------------------------------------------------------ slow


async def _slow_sender(port: int, stop: float, reconnect: bool, counts: Counter[str], *, mode: str = "body",
                       source: str | None = None, every: float = 5) -> None:
    """``body``: the head at once, then the body a byte every ``every`` seconds; ``head``: the head a byte at
    a time; ``junk``: a whole request without signature headers (the control: refused at once, like a 503)."""
    in_head = mode == "head"
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                           local_addr=(source, 0) if source else None)
        except OSError:
            counts["connect_failed"] += 1
            await asyncio.sleep(1)
            continue
        counts["opened"] += 1
        try:
            request = head(port, length=100_000)  # under the 512 KiB limit
            if mode == "junk":
                request = f"POST /slack/events HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-length: 2\r\n\r\n{{}}"
                writer.write(request.encode())
            elif in_head:  # trickle the head itself, a byte at a time after the request line
                writer.write(request[:40])
                drip = iter(request[40:])
            else:
                writer.write(request)
            while time.monotonic() < stop:
                if mode != "junk":
                    writer.write(bytes([next(drip, 32)]) if in_head else b"[")
                await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(4096), timeout=every)
                except TimeoutError:
                    continue  # still open: one more byte
                counts[str(status_of(data)) if data else "closed"] += 1
                break
        except OSError:
            counts["reset"] += 1
        finally:
            writer.close()
        if not reconnect:
            return
        await asyncio.sleep(1)


def _probe(port: int, stop: float, interval: float, latencies: list[float], failures: Counter[str]) -> None:
    request = f"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\n\r\n".encode()
    while time.monotonic() < stop:
        started = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(request)
                data = b""
                while piece := sock.recv(4096):
                    data += piece
            if status_of(data) == 200:
                latencies.append(time.perf_counter() - started)
            else:
                failures[str(status_of(data))] += 1
        except OSError as exc:
            failures[type(exc).__name__] += 1
        time.sleep(interval)


def _attack(port: int, connections: int, seconds: float, reconnect: bool, mode: str,
            results: Connection, sources: int = 0, every: float = 5) -> None:
    """In a child process (its own GIL, lower priority), so the probe measures the server, not the harness.
    ``sources``: spread the connections over that many loopback addresses (127.0.0.2 on); 0: 127.0.0.1."""
    os.nice(5)
    counts: Counter[str] = Counter()

    async def attack() -> None:
        stop = time.monotonic() + seconds
        senders = []
        for n in range(connections):
            source = f"127.0.0.{2 + n % sources}" if sources else None
            senders.append(asyncio.create_task(_slow_sender(port, stop, reconnect, counts, mode=mode,
                                                            source=source, every=every)))
            await asyncio.sleep(0.001)  # ~1,000 connects a second, as a flood would ramp up
        await asyncio.wait_for(asyncio.gather(*senders), timeout=seconds + 30)

    try:
        asyncio.run(attack())
    finally:
        results.send(dict(counts))


def slow(procs: Procs, *, connections: int, seconds: float, reconnect: bool, mode: str = "body",
         **settings: str) -> dict[str, Any]:
    with bot(procs, "hostile-slow", **settings) as proc:
        latencies: list[float] = []
        failures: Counter[str] = Counter()
        mark = procs.cpu_mark()
        receiving, sending = multiprocessing.get_context("fork").Pipe(duplex=False)
        attacker = multiprocessing.get_context("fork").Process(
            target=_attack, args=(proc.port, connections, seconds, reconnect, mode, sending), daemon=True)
        attacker.start()
        try:
            time.sleep(2)  # probe once the attack has ramped up, until 1 s before its end
            _probe(proc.port, time.monotonic() + seconds - 3, 0.05, latencies, failures)
            counts = receiving.recv() if receiving.poll(seconds + 40) else {"error": "attacker did not report"}
        finally:
            attacker.join(5)
            if attacker.is_alive():
                attacker.kill()
        ordered = sorted(latencies)

        def pct(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2) if ordered else float("nan")

        p99 = pct(0.99)
        return {"connections": connections, "seconds": seconds, "reconnect": reconnect, "mode": mode,
                "settings": dict(settings),
                "healthz": {"probes": len(latencies), "failed": dict(failures), "p50_ms": pct(0.5), "p99_ms": p99,
                            "max_ms": round(ordered[-1] * 1000, 2) if ordered else None,
                            "mean_ms": round(statistics.fmean(ordered) * 1000, 2) if ordered else None},
                "target_p99_ms": 100, "met": bool(ordered) and not failures and p99 < 100,
                "attackers": counts, "foreign_cpu_s": round(procs.foreign_cpu_seconds(mark), 1)}


# ------------------------------------------------------------------------------------------ starve


SIGNER = "127.0.0.200"  # Slack, as far as the server can tell: an address of its own


def _signed_probe(port: int, secret: str, stop: float, interval: float, answered: list[float],
                  failures: Counter[str]) -> None:
    """Signed url_verification requests, a new connection each, until ``stop``: latencies of the 200s."""
    import hashlib
    import hmac

    while time.monotonic() < stop:
        body = json.dumps({"type": "url_verification", "challenge": "bench"}).encode()
        ts = str(int(time.time()))
        signature = "v0=" + hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
        request = (f"POST /slack/events HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
                   f"x-slack-request-timestamp: {ts}\r\nx-slack-signature: {signature}\r\n"
                   f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode() + body
        started = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3, source_address=(SIGNER, 0)) as sock:
                sock.sendall(request)
                data = read_until_closed(sock)
            status = status_of(data)
            if status == 200:
                answered.append(time.perf_counter() - started)
            else:
                failures[str(status)] += 1
        except OSError as exc:
            failures[type(exc).__name__] += 1
        time.sleep(interval)


def starve(procs: Procs, *, connections: int, sources: int, seconds: float) -> dict[str, Any]:
    """Signed requests while ``connections`` trickling senders from ``sources`` addresses compete for slots."""
    secret = secrets.token_hex(16)
    with bot(procs, "hostile-starve", SLACK_SIGNING_SECRET=secret) as proc:
        answered: list[float] = []
        failures: Counter[str] = Counter()
        receiving, sending = multiprocessing.get_context("fork").Pipe(duplex=False)
        attacker = multiprocessing.get_context("fork").Process(
            target=_attack, args=(proc.port, connections, seconds, True, "body", sending, sources, 2), daemon=True)
        attacker.start()
        try:
            time.sleep(3)  # every sender has connected and the slots are contested
            _signed_probe(proc.port, secret, time.monotonic() + seconds - 5, 0.05, answered, failures)
            counts = receiving.recv() if receiving.poll(seconds + 40) else {"error": "attacker did not report"}
        finally:
            attacker.join(5)
            if attacker.is_alive():
                attacker.kill()
        sent = len(answered) + sum(failures.values())
        in_time = sum(1 for latency in answered if latency <= 3)
        ordered = sorted(answered)
        p99 = round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000, 2) if ordered else None
        share = round(100 * in_time / sent, 2) if sent else 0.0
        return {"connections": connections, "sources": sources or 1, "seconds": seconds, "signed_sent": sent,
                "answered_within_3s_pct": share, "failed": dict(failures),
                "p99_ms": p99,
                "target_pct": 99, "met": share >= 99, "attackers": counts}


# ------------------------------------------------------------------------------------------ main


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small counts and bodies")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--only", action="append", help="run only this scenario (repeatable)")
    args = parser.parse_args(argv)
    quick = args.quick
    connections = 50 if quick else 1000
    raise_fd_limit(connections * 2 + 256)  # the server inherits it; the bot itself does not raise it
    pinned = can_pin()
    if pinned:
        pin_harness()
    scenarios: Mapping[str, Any] = {
        "chunked": lambda p: chunked(p, senders=4, body_mib=8 if quick else 500),
        "full_slots": lambda p: full_slots(p, slots=4 if quick else 64),
        "slow_hold": lambda p: slow(p, connections=connections, seconds=6 if quick else 20, reconnect=False),
        "slow_reconnect": lambda p: slow(p, connections=connections, seconds=6 if quick else 20, reconnect=True),
        "slow_all_held": lambda p: slow(p, connections=connections, seconds=6 if quick else 25, reconnect=True,
                                        SLACK_MAX_PENDING_BODIES=str(connections + 100)),
        "slow_head": lambda p: slow(p, connections=connections, seconds=6 if quick else 25, reconnect=True,
                                    mode="head"),
        "starve_one": lambda p: starve(p, connections=connections, sources=1, seconds=8 if quick else 30),
        "starve_64": lambda p: starve(p, connections=connections, sources=64, seconds=8 if quick else 30),
        "junk_reconnect": lambda p: slow(p, connections=connections, seconds=6 if quick else 20, reconnect=True,
                                         mode="junk"),
    }
    results: dict[str, Any] = {"pinning": f"server on CPU {APP_CPU}, harness on CPU {HELPER_CPU}" if pinned
                               else "no CPU pinning", "fd_soft_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}
    failed = False
    with tempfile.TemporaryDirectory(prefix="hostile-") as logs, Procs(Path(logs), pin=pinned) as procs:
        for name, run in scenarios.items():
            if args.only and name not in args.only:
                continue
            _log(f"{name} ...")
            started = time.monotonic()
            try:
                results[name] = run(procs)
            except Exception as exc:  # reported; the other scenarios are independent
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
                failed = True
            _log(f"{name} done in {time.monotonic() - started:.1f}s: {json.dumps(results[name])[:300]}")
    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2)
    (args.out / "hostile.json").write_text(text + "\n")
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
