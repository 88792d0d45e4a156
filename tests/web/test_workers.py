"""``python -m bot serve`` as real processes on loopback: several workers (``WEB_CONCURRENCY``), and the
port it binds. Linux only (reads /proc to see which worker holds which connection)."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from bot.dev import slack_requests
from bot.dev.playground.fake_slack import FakeSlackState
from bot.dev.sandbox import SandboxServer
from bot.web.head_deadline import HEAD_TIMEOUT_SECONDS, HeadDeadline
from bot.web.server import head_deadline_protocol
from tests.redis_server import free_port, start_redis
from tests.slack.harness import BOT_TOKEN, SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120.0  # worker start-up is imports, seconds each on a busy shared machine
pytestmark = pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CRM_", "CLUE_", "REDIS_", "WEB_"))}
    return {**env, "LOG_LEVEL": "INFO", **extra}


def _production_env(sandbox: SandboxServer, fake_url: str, **extra: str) -> dict[str, str]:
    return _env(CRM_BASE_URL=sandbox.url, CRM_APP_ID="wwsandboxcorp0001_ClueBot",
                CRM_APP_KEY="sandbox-app-key-not-a-secret", SLACK_BOT_TOKEN=BOT_TOKEN,
                SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake_url + "/api/", **extra)


class Served:
    """One ``python -m bot serve`` process; its stderr (JSON lines) goes to a file."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log

    def lines(self, event: str) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.log.read_text(errors="replace").splitlines()
                if f'"event": "{event}"' in line]

    def wait_for(self, event: str, count: int) -> list[dict[str, object]]:
        deadline = time.monotonic() + START_TIMEOUT
        while len(found := self.lines(event)) < count:
            assert self.proc.poll() is None, self.log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, f"fewer than {count} {event} lines:\n{self.log.read_text()[-3000:]}"
            time.sleep(0.1)
        return found

    def wait_listening(self) -> None:
        """Until the port accepts: the shared socket listens once the first worker has started."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self.proc.poll() is None, self.log.read_text(errors="replace")[-3000:]
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "the port never accepted a connection"
                time.sleep(0.1)

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


@contextmanager
def serve(env: dict[str, str], tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(port)], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    try:
        yield Served(proc, port, log)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_the_worker_protocols_pickle_by_reference_with_the_head_deadline() -> None:
    """uvicorn spawns workers and pickles its config into each: the protocol class must arrive as itself."""
    for http in ("httptools", "h11"):
        protocol = head_deadline_protocol(http)
        config = uvicorn.Config("bot.web.app:from_env", factory=True, workers=2, http=protocol, loop="uvloop")
        assert pickle.loads(pickle.dumps(config)).http is protocol  # noqa: S301 - our own bytes
        assert issubclass(protocol, HeadDeadline) and protocol.head_timeout == HEAD_TIMEOUT_SECONDS
    assert head_deadline_protocol("h11", 0.5).head_timeout == 0.5


def test_two_workers_each_set_their_process_up_and_say_the_cache_is_not_shared(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState], tmp_path: Path) -> None:
    with serve(_production_env(sandbox, fake_slack[0], WEB_CONCURRENCY="2"), tmp_path) as served:
        started = served.wait_for("server.worker.started", 2)
        workers = served.workers()
        assert sorted(int(str(line["pid"])) for line in started) == sorted(workers) and len(workers) == 2
        assert len(served.lines("server.workers.unshared")) == 1  # said once, by the parent
        assert served.lines("server.stack")[0]["workers"] == 2
        hard = int(Path(f"/proc/{served.proc.pid}/limits").read_text().split("Max open files")[1].split()[1])
        for pid in workers:
            maps = Path(f"/proc/{pid}/maps").read_text()
            assert "/uvloop/" in maps and "/httptools/" in maps, pid
            soft = Path(f"/proc/{pid}/limits").read_text().split("Max open files")[1].split()[0]
            assert int(soft) == min(hard, 65_536), pid


def _connections_by_worker(workers: list[int], port: int) -> dict[int, int]:
    """Client port -> the worker holding the server side of that loopback connection."""
    owner = {}
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                owner[target[8:-1]] = pid
    found = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if int(local.split(":")[1], 16) == port and state == "01" and inode in owner:  # 01: established
            found[int(remote.split(":")[1], 16)] = owner[inode]
    return found


async def _lookup(sock: socket.socket, user: int, fake_url: str, text: str = "12") -> bytes:
    form = {"team_id": "T0TEST0001", "channel_id": "C0SALES001", "user_id": f"U0STORM{user:03d}",
            "command": "/clue", "text": text, "api_app_id": "A0CLUE0001", "trigger_id": "1.2.3",
            "response_url": f"{fake_url}/response/storm{user}"}
    request = slack_requests.slash_command(SIGNING_SECRET, form)
    head = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(f"POST /slack/events HTTP/1.1\r\nhost: cluebot\r\nconnection: close\r\n{head}"
                 f"content-length: {len(request.body)}\r\n\r\n".encode() + request.body)
    try:
        return await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()


def test_a_storm_across_two_workers_makes_one_crm_call_with_redis(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState], tmp_path: Path) -> None:
    redis = start_redis(tmp_path / "redis")
    try:
        env = _production_env(sandbox, fake_slack[0], WEB_CONCURRENCY="2", REDIS_URL=redis.url,
                              SLACK_ACK_BUDGET_SECONDS="2.5")
        with serve(env, tmp_path) as served:
            served.wait_for("cache.redis.connected", 2)  # both workers' lifespans are building
            served.wait_listening()
            workers = served.workers()
            sandbox.state.set_fault(12, latency_ms=1000)  # every lookup overlaps the first one's CRM call
            # Connections until both workers hold some (the kernel picks the worker that accepts).
            socks: list[socket.socket] = []
            owners: dict[int, int] = {}
            deadline = time.monotonic() + START_TIMEOUT
            while len({owners[s.getsockname()[1]] for s in socks}) < 2 or len(socks) < 100:
                assert time.monotonic() < deadline, "one worker never accepted a connection"
                if len(socks) >= 100:  # all on one worker: the other may still be starting; replace some
                    time.sleep(0.2)
                    for sock in socks[:20]:
                        sock.close()
                    socks = socks[20:]
                socks += [socket.create_connection(("127.0.0.1", served.port)) for _ in range(20)]
                while not all(s.getsockname()[1] in owners for s in socks):  # until every one is accepted
                    assert time.monotonic() < deadline, "connections not accepted"
                    time.sleep(0.05)
                    owners = _connections_by_worker(workers, served.port)
            by_worker = {pid: [s for s in socks if owners[s.getsockname()[1]] == pid] for pid in workers}
            chosen = [*by_worker[workers[0]][:50], *by_worker[workers[1]][:50]]
            chosen += [s for s in socks if s not in chosen][:100 - len(chosen)]

            assert len(chosen) == 100 and {owners[s.getsockname()[1]] for s in chosen} == set(workers)

            async def storm() -> list[bytes]:
                return await asyncio.gather(*(_lookup(s, i, fake_slack[0]) for i, s in enumerate(chosen)))

            answers = asyncio.run(storm())
            for sock in socks:
                sock.close()
            assert all(a.startswith(b"HTTP/1.1 200") for a in answers), answers[0][:300]
            # The card is in the ack, or (past the ack budget, on a busy machine) posted to response_url.
            late = {i for i, a in enumerate(answers) if "周杰" not in json.dumps(json.loads(a.split(b"\r\n\r\n", 1)[1]),
                                                                                ensure_ascii=False)}
            deadline = time.monotonic() + 30
            while late and time.monotonic() < deadline:
                late = {i for i in late if not any("周杰" in json.dumps(r, ensure_ascii=False)
                                                   for r in fake_slack[1].responses(f"storm{i}"))}
                time.sleep(0.1)
            assert not late
        assert sandbox.state.stats().clue_gets == {12: 1}
    finally:
        redis.stop()


def _sockets_on_both_workers(served: Served, each: int) -> tuple[list[socket.socket], list[socket.socket]]:
    """``each`` accepted connections held by each of the two workers (the kernel picks who accepts), and the
    others, to close."""
    workers = served.workers()
    socks: list[socket.socket] = []
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        socks += [socket.create_connection(("127.0.0.1", served.port)) for _ in range(10)]
        owners: dict[int, int] = {}
        while not all(s.getsockname()[1] in owners for s in socks):
            assert time.monotonic() < deadline, "connections not accepted"
            time.sleep(0.05)
            owners = _connections_by_worker(workers, served.port)
        by_worker = [[s for s in socks if owners[s.getsockname()[1]] == pid] for pid in workers]
        if all(len(held) >= each for held in by_worker):
            chosen = [s for pair in zip(by_worker[0][:each], by_worker[1][:each], strict=True) for s in pair]
            return chosen, [s for s in socks if s not in chosen]
        assert time.monotonic() < deadline and len(socks) < 400, "one worker never accepted enough connections"


def _one_persons_lookups(served: Served, fake_url: str, count: int, pause: float) -> int:
    """``count`` lookups by one person, alternating between the two workers, one at a time, ``pause`` seconds
    apart: how many got a card rather than "too fast"."""
    chosen, others = _sockets_on_both_workers(served, count // 2)
    for sock in others:
        sock.close()

    async def one_by_one() -> list[bytes]:
        answers = []
        for sock in chosen:
            answers.append(await _lookup(sock, 1, fake_url, text="8"))
            await asyncio.sleep(pause)
        return answers

    answers = asyncio.run(one_by_one())
    assert all(a.startswith(b"HTTP/1.1 200") for a in answers), answers[0][:300]
    return sum(b"too fast" not in a for a in answers)


@pytest.mark.parametrize("shared", [False, True], ids=["per_worker_share", "redis"])
def test_a_persons_limit_does_not_multiply_with_workers(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState],
                                                       tmp_path: Path, shared: bool) -> None:
    """Two workers used to give one person twice the limit (62 of 90 lookups instead of 31)."""
    redis = start_redis(tmp_path / "redis") if shared else None
    try:
        env = _production_env(sandbox, fake_slack[0], WEB_CONCURRENCY="2", CLUE_USER_RATE_PER_MINUTE="6",
                              **({"REDIS_URL": redis.url} if redis else {}))
        with serve(env, tmp_path) as served:
            said = served.wait_for("ratelimit.people.shared" if shared else "ratelimit.people.per_worker", 2)
            served.wait_listening()
            if not shared:
                assert [line["lookup_per_minute"] for line in said] == [3, 3]  # each worker's share, said
            # Shared: each worker grants from its own bucket, then charges the fleet's in the background; a grant
            # that overlaps a charge still in flight is not yet refused. 50 ms between lookups (a script's pace
            # is faster, a person's far slower) lets each charge land on a busy shared machine, where it can
            # take tens of milliseconds: then only the other worker's one overlapping grant is over the limit.
            granted = _one_persons_lookups(served, fake_slack[0], 20, pause=0.05 if shared else 0)
        assert 6 <= granted <= (7 if shared else 6)
    finally:
        if redis is not None:
            redis.stop()


def test_a_port_in_use_is_named_and_no_url_is_announced_first(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for argv, env in ((["--port", str(port)], _env()), ([], _env(PORT=str(port)))):
            result = subprocess.run([sys.executable, "-m", "bot", "serve", *argv], cwd=ROOT, env=env,
                                    capture_output=True, text=True, timeout=START_TIMEOUT, check=False)
            assert result.returncode == 1, result.stderr
            assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
            assert "PORT=" in result.stderr and "--port" in result.stderr
            assert "http://" not in result.stdout  # the playground's URL would point at the other server
            assert "Traceback" not in result.stderr
