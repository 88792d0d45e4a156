"""Subprocesses of a run: spawn on loopback, wait until listening, read RSS, always stop.

Children stay in the harness's process group, so whoever kills that group (the smoke test on timeout,
Ctrl-C in a terminal) takes them along; ``Procs`` stops them itself on every normal or error exit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
# The app under test gets CPU 0 to itself; the harness, wrk, the sandbox CRM and the fake Slack share
# CPU 1. On a 2-core machine this keeps the load generator from stealing the server's core.
APP_CPU = 0
HELPER_CPU = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def can_pin() -> bool:
    return shutil.which("taskset") is not None and {APP_CPU, HELPER_CPU} <= os.sched_getaffinity(0)


def pin_harness() -> None:
    """Move the harness (and so every child not pinned otherwise, wrk included) to the helper CPU."""
    os.sched_setaffinity(0, {HELPER_CPU})


def _machine_ticks() -> tuple[int, int]:
    """CPU time spent in user and kernel mode by every process on the machine, and CPU time the hypervisor
    gave to other virtual machines while this one wanted it (steal): the first line of /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return sum(int(x) for x in fields[1:4]), int(fields[8]) if len(fields) > 8 else 0  # user+nice+system, steal


def _process_ticks(pid: int | str) -> int:
    """utime + stime + cutime + cstime of a process (reaped children's time lands in cutime/cstime)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": field 3 of man 5 proc is fields[0]
    return sum(int(x) for x in fields[11:15])


@dataclass(frozen=True, slots=True)
class CpuMark:
    busy: int
    own: int
    stolen: int


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_bytes(self) -> int:
        """Resident set size from /proc/<pid>/status (VmRSS)."""
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"{self.name}: no VmRSS in /proc/{self.popen.pid}/status")

    def server_stack(self) -> str:
        """The event loop and HTTP parser this uvicorn process runs, e.g. ``uvloop+httptools``: read from
        the extension modules it has mapped (/proc/<pid>/maps), so it is what runs, not what was asked.
        Only for processes with one uvicorn server (the baselines, clue bot with a CRM and Slack
        configured): the playground's in-process helpers would load both whatever the app uses."""
        maps = Path(f"/proc/{self.popen.pid}/maps").read_text()
        loop = "uvloop" if "/uvloop/" in maps else "asyncio"
        http = "httptools" if "/httptools/" in maps else "h11"
        return f"{loop}+{http}"

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_listening(self, timeout: float = 20.0) -> float:
        """Block until the port accepts connections; seconds waited. RuntimeError if it exits or times out."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return time.monotonic() - started
            except OSError:
                time.sleep(0.01)
        raise RuntimeError(f"{self.name} did not listen on port {self.port} within {timeout:g}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (graceful: drains background work), then SIGKILL after ``timeout``."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


class Procs:
    """Every child of a run; ``close()`` (or leaving the ``with``) stops the ones still running."""

    def __init__(self, log_dir: Path, *, pin: bool) -> None:
        self._log_dir = log_dir
        self._pin = pin
        self._running: list[Proc] = []

    @property
    def log_dir(self) -> Path:
        """The run's scratch folder (logs, and each app's alerts database)."""
        return self._log_dir

    def spawn(self, name: str, module_args: Sequence[str], env: Mapping[str, str], *, port: int,
              app_under_test: bool = False) -> Proc:
        """Start ``python -m <module_args>``; output goes to a log file (a full pipe would block it)."""
        argv = [sys.executable, "-m", *module_args]
        if self._pin and app_under_test:
            argv = ["taskset", "-c", str(APP_CPU), *argv]
        log = self._log_dir / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(argv, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT)
        proc = Proc(name, popen, port, log)
        self._running.append(proc)
        return proc

    def cpu_mark(self) -> CpuMark:
        own = _process_ticks("self")
        for proc in self._running:
            with contextlib.suppress(OSError):  # it may have exited meanwhile: its time is then in ours
                own += _process_ticks(proc.popen.pid)
        busy, stolen = _machine_ticks()
        return CpuMark(busy, own, stolen)

    def foreign_cpu_seconds(self, since: CpuMark) -> float:
        """CPU seconds used since ``since`` by processes that are not this run's (other people's work on a
        shared machine), plus those the hypervisor gave to other virtual machines (steal): either
        disturbs the measurement."""
        now = self.cpu_mark()
        others = (now.busy - since.busy) - (now.own - since.own)
        return max(0.0, (others + now.stolen - since.stolen) / _TICKS_PER_SECOND)

    def stop(self, proc: Proc) -> None:
        proc.stop()
        if proc in self._running:
            self._running.remove(proc)

    def close(self) -> None:
        for proc in reversed(self._running):
            proc.stop(timeout=5)
        self._running.clear()

    def __enter__(self) -> Procs:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
