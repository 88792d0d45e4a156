"""Test helpers: fake clocks and real CRM clients pointed at the sandbox (or another loopback server)."""

from __future__ import annotations

import difflib
import io
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.config import SANDBOX_APP_ID, SANDBOX_APP_KEY, Secret
from bot.crm.client import CrmClient
from bot.crm.guard import CircuitBreaker, CrmGuard
from bot.runtime.logs import AUDIT_LOGGER
from bot.runtime.metrics import Metrics
from bot.runtime.ratelimit import TokenBucket


class FakeClock:
    """A monotonic clock that only moves when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def no_sleep(_: float) -> None:
    """Backoff sleeps of the client: skipped, so retries cost no wall time."""


def make_client(base_url: str, *, metrics: Metrics | None = None, clock: FakeClock | None = None,
                app_id: str = SANDBOX_APP_ID, app_key: str = SANDBOX_APP_KEY, max_concurrency: int = 8,
                breaker_failures: int = 1000, rate: float = 10_000, **kwargs: Any) -> CrmClient:
    metrics = metrics or Metrics()
    clock = clock or FakeClock()
    guard = CrmGuard(max_concurrency=max_concurrency, limiter=TokenBucket(rate, rate, clock),
                     breaker=CircuitBreaker(breaker_failures, 30, clock, metrics), metrics=metrics,
                     sleep=no_sleep)
    kwargs.setdefault("timeout", 2.0)
    kwargs.setdefault("sleep", no_sleep)
    return CrmClient(base_url=base_url, app_id=app_id, app_key=Secret(app_key), guard=guard, metrics=metrics,
                     **kwargs)


@contextmanager
def root_logging_restored() -> Iterator[io.StringIO]:
    """A buffer for ``configure_logging(..., stream=buffer)`` on the root logger; the handler and every
    logger level it changes are put back afterwards."""
    root = logging.getLogger()
    noisy = ("httpx", "httpcore", "slack_bolt", "slack_sdk", "uvicorn.access", AUDIT_LOGGER)
    saved = root.level, {name: logging.getLogger(name).level for name in noisy}
    stream = io.StringIO()
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            if handler.get_name() == "cluebot":
                root.removeHandler(handler)
        root.setLevel(saved[0])
        for name, level in saved[1].items():
            logging.getLogger(name).setLevel(level)


@dataclass(frozen=True)
class CliRun:
    """What ``python -m bot …`` returned and printed."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: Mapping[str, str] | None = None) -> CliRun:
    """``python -m bot <args>`` in this process: ``bot.__main__.main`` with ``env`` added to the environment
    (already clean of app settings: conftest's ``clean_environ``) and stdout and stderr captured.

    An interpreter start and the app's imports cost a second or more each; tests/test_cli.py keeps one
    real ``python -m bot`` run. The root logger is put back afterwards (``check`` configures it).
    """
    from bot.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, root_logging_restored(), redirect_stdout(out), redirect_stderr(err):
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse's usage errors
            code = 0 if exit_.code is None else exit_.code if isinstance(exit_.code, int) else 1
    return CliRun(code, out.getvalue(), err.getvalue())


def check_golden(path: Path, actual: str, what: str, rerecord: str) -> None:
    """Compare ``actual`` with the golden file at ``path`` (re-record it with ``UPDATE_GOLDEN=1``)."""
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8") if path.exists() else ""
    if actual != expected:
        diff = "".join(difflib.unified_diff(
            expected.splitlines(keepends=True), actual.splitlines(keepends=True),
            f"{path.name} (golden)", f"{path.name} (rendered)"))
        pytest.fail(f"{path.name} differs from {what}:\n{diff}\n"
                    "If the change is intended, re-record and review the diff:\n"
                    f"    UPDATE_GOLDEN=1 .venv/bin/pytest {rerecord} -k test_golden", pytrace=False)
