"""Time from a fresh clone to the playground answering ``/clue 8`` (issue #16: under 10 s, warm cache).

``python3 bench/fresh_clone.py [--repo PATH] [--branch NAME] [--runs 3] [--cold]``

Standard library only: it runs before any venv exists. Each run clones the repository into a temporary
folder, starts ``make run`` there on a free loopback port, polls ``/healthz`` and then sends ``/clue 8``
through the playground (which signs it as Slack would) until the answer is a card, then stops the
server. ``--cold`` gives every run an empty ``XDG_CACHE_HOME`` (pip's, uv's and our caches), as on a
machine that has never seen these packages. The clone itself is timed apart; the clock that counts
starts with ``make run``. Each command make echoes is printed with the second it started at.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_SECONDS = 300.0  # a cold cache downloads everything


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(port: int, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET" if body is None else "POST", path, body=body,
                     headers={"Content-Type": "application/json"})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def _is_card(ack: object) -> bool:
    blocks = ack.get("blocks") if isinstance(ack, dict) else None
    return isinstance(blocks, list) and any(isinstance(b, dict) and b.get("type") == "header" for b in blocks)


@dataclass(frozen=True)
class Run:
    clone_s: float
    healthz_s: float
    card_s: float
    lines: list[tuple[float, str]]  # what make printed, with the second since ``make run`` started


def one_run(repo: str, branch: str | None, env: dict[str, str]) -> Run:
    """Clone, ``make run``, wait for ``/healthz`` then a card for ``/clue 8``; seconds for each step."""
    with tempfile.TemporaryDirectory(prefix="fresh-clone-") as tmp:
        clone = Path(tmp) / "clone"
        started = time.perf_counter()
        subprocess.run(["git", "clone", "--quiet", *(["--branch", branch] if branch else []), repo, str(clone)],
                       check=True)
        clone_s = time.perf_counter() - started
        port = free_port()
        lines: list[tuple[float, str]] = []
        started = time.perf_counter()
        # A session of its own, so make, the server and anything they started stop together.
        proc = subprocess.Popen(["make", "run"], cwd=clone, env={**env, "PORT": str(port), "HOST": "127.0.0.1"},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append((time.perf_counter() - started, line.rstrip()))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        healthy_s = card_s = None
        try:
            while time.perf_counter() - started < TIMEOUT_SECONDS and proc.poll() is None:
                try:
                    if healthy_s is None:
                        if _request(port, "/healthz")[0] == 200:
                            healthy_s = time.perf_counter() - started
                    else:
                        status, body = _request(port, "/playground/command", json.dumps({"text": "8"}).encode())
                        if status == 200 and _is_card(json.loads(body).get("ack")):
                            card_s = time.perf_counter() - started
                            break
                except OSError:
                    pass  # not listening yet
                time.sleep(0.02)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            reader.join(timeout=5)
        if healthy_s is None or card_s is None:
            tail = "\n".join(line for _, line in lines[-30:])
            raise RuntimeError(f"no card within {TIMEOUT_SECONDS:g}s (make exited {proc.returncode}):\n{tail}")
        return Run(clone_s, healthy_s, card_s, lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 bench/fresh_clone.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", default=str(ROOT), help="repository to clone (default: this one)")
    parser.add_argument("--branch", help="branch to check out (default: the repository's HEAD)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="an empty XDG_CACHE_HOME for every run")
    args = parser.parse_args(argv)
    cards: list[float] = []
    for n in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="fresh-clone-cache-") as cache:
            env = {**os.environ, **({"XDG_CACHE_HOME": cache} if args.cold else {})}
            env.pop("VIRTUAL_ENV", None)
            load = os.getloadavg()[0]
            result = one_run(args.repo, args.branch, env)
        # Other processes slow make run down (2 cores here): the 1-minute load average says how busy it was.
        print(f"run {n + 1}: clone {result.clone_s:.2f} s (not counted); make run → /healthz "
              f"{result.healthz_s:.2f} s, → card for /clue 8 {result.card_s:.2f} s; load before {load:.2f}, "
              f"after {os.getloadavg()[0]:.2f}")
        for at, line in result.lines:
            print(f"  {at:6.2f}  {line[:150]}")
        cards.append(result.card_s)
    print(f"median of {len(cards)}: {statistics.median(cards):.2f} s "
          f"(runs: {', '.join(f'{c:.2f}' for c in cards)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
