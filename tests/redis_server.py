"""A real ``redis-server`` for tests: loopback only, a free port, a temporary directory, no persistence.

Tests of ``bot.fleet.redis`` run against the real server, not a fake, because what they check (``SET NX PX``,
transactions, Lua, expiry, socket timeouts) is Redis's behaviour. Without ``redis-server`` on PATH the tests
fail with instructions rather than skip, so CI cannot silently stop testing the shared cache.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

START_TIMEOUT = 5.0
PORT_ATTEMPTS = 3


@dataclass
class RedisServer:
    """One running ``redis-server`` process."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A plain synchronous client, for tests to arrange and inspect keys directly."""
        return redis.Redis(host="127.0.0.1", port=self.port)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    """A loopback port nothing listens on right now (and, once closed, a port that refuses connections)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(directory: Path, port: int | None = None, *extra: str) -> RedisServer:
    """Start ``redis-server`` (``extra``: more config arguments) and wait until it answers.

    On a free port unless ``port`` is given: one that another process (a parallel test worker) took
    between ``free_port`` and the server's bind is replaced by another. Fails the test, with the
    server's log, if it does not start.
    """
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail("redis-server is not on PATH; the shared-cache tests need a real one "
                    "(Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis)", pytrace=False)
    directory.mkdir(parents=True, exist_ok=True)
    for _ in range(PORT_ATTEMPTS):
        server, log = _start(executable, directory, port or free_port(), extra)
        if server is not None:
            return server
        if port is not None or "Address already in use" not in log:
            break
    pytest.fail(f"redis-server did not start:\n{log}", pytrace=False)


def _start(executable: str, directory: Path, port: int, extra: tuple[str, ...]) -> tuple[RedisServer | None, str]:
    """The running server, or None and its log."""
    log_file = directory / "redis.log"
    log_file.unlink(missing_ok=True)
    process = subprocess.Popen(
        [executable, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--save", "", "--appendonly", "no", "--logfile", str(log_file), "--loglevel", "warning", *extra],
        stdin=subprocess.DEVNULL,
    )
    server = RedisServer(port, directory, process)
    deadline = time.monotonic() + START_TIMEOUT
    with server.client() as client:
        while True:
            try:
                # Ours, not a server someone else started on the port (that one makes ours exit, below).
                if client.info("server")["process_id"] == process.pid:
                    return server, ""
            except redis.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                log = log_file.read_text(errors="replace") if log_file.exists() else "(no log)"
                return None, f"port {port}: {log}"
            time.sleep(0.01)  # the one wait: the server's start-up, a few milliseconds
