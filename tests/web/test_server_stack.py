"""uvicorn's event loop and HTTP parser: uvloop + httptools when they import, pure Python otherwise."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.errors import ConfigError
from bot.web.server import server_stack

ROOT = Path(__file__).resolve().parents[1]
# What `python -m bot serve` runs, with uvloop and httptools made unimportable first.
WITHOUT_EXTENSIONS = ("import sys; sys.modules['uvloop'] = sys.modules['httptools'] = None; "
                      "from bot.__main__ import main; sys.exit(main(sys.argv[1:]))")


def test_auto_picks_uvloop_and_httptools_they_are_dependencies() -> None:
    assert server_stack() == ("uvloop", "httptools")
    assert server_stack("asyncio", "h11") == ("asyncio", "h11")


def test_auto_falls_back_to_pure_python_when_they_do_not_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # None in sys.modules: the import raises ImportError
    monkeypatch.setitem(sys.modules, "httptools", None)
    assert server_stack() == ("asyncio", "h11")
    with pytest.raises(ConfigError, match="--loop uvloop: uvloop is not installed") as raised:
        server_stack("uvloop", "httptools")
    assert len(raised.value.problems) == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(argv: list[str]) -> tuple[dict[str, str], set[str]]:
    """Start the playground with ``argv`` and wait for /healthz: the stack its ``server.stack`` log line
    names, and which of uvloop and httptools the process has loaded (the playground's in-process sandbox
    CRM and fake Slack run uvicorn's defaults, so only a process without them shows the app's own choice)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CRM_", "CLUE_", "REDIS_"))}
    env["LOG_LEVEL"] = "INFO"
    port = _free_port()
    proc = subprocess.Popen([sys.executable, *argv, "--port", str(port)], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()[1].decode(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "no /healthz within 30 s"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
        loaded = {name for name in ("uvloop", "httptools") if f"/{name}/" in maps}
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    logged = [json.loads(line) for line in err.decode(errors="replace").splitlines() if '"server.stack"' in line]
    assert len(logged) == 1, err[-2000:]
    return {"loop": logged[0]["loop"], "http": logged[0]["http"]}, loaded


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/<pid>/maps")
def test_serve_uses_the_stack_it_is_given() -> None:
    assert _serve(["-m", "bot", "serve"])[0] == {"loop": "uvloop", "http": "httptools"}
    assert _serve(["-m", "bot", "serve", "--loop", "asyncio", "--http", "h11"])[0] == {"loop": "asyncio", "http": "h11"}


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/<pid>/maps")
def test_serve_answers_on_pure_python_when_the_extensions_do_not_import() -> None:
    stack, loaded = _serve(["-c", WITHOUT_EXTENSIONS, "serve"])
    assert stack == {"loop": "asyncio", "http": "h11"}
    assert loaded == set()
