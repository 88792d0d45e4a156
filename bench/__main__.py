"""``python -m bench [--quick] [--duration S] [--rounds N] [--out DIR] [--driver wrk|python]``: run every scenario.

Writes ``<out>/latest.json`` and ``<out>/latest.md`` and prints the Markdown. Targets are reported,
not asserted: the exit status is 0 even when one is MISSED, 1 only when a scenario could not run,
2 for bad usage (e.g. wrk missing).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any

from bench import scenarios as sc
from bench.alerts import alerts
from bench.load import wrk_path
from bench.people import people
from bench.procs import APP_CPU, HELPER_CPU, Proc, Procs, can_pin, pin_harness
from bench.report import evaluate, markdown, ran, targets_json

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
# Every lookup of these instances goes to the CRM: no fresh entries, no serving while revalidating,
# no remembered "not found".
NO_SEARCH_CACHE = {"CLUE_SEARCH_CACHE_TTL_SECONDS": "0"}
NO_CACHE = {"CLUE_CACHE_TTL_SECONDS": "0", "CLUE_REVALIDATE_SECONDS": "0", "CLUE_NEGATIVE_TTL_SECONDS": "0"}
NO_FOLLOW_UP_CACHE = {**NO_CACHE, "CLUE_FOLLOW_UP_TTL_SECONDS": "0"}


def _log(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def _with_bots(bench: sc.Bench, spawn: Callable[[], Sequence[Proc]], run: Callable[..., dict[str, Any]]
               ) -> dict[str, Any]:
    """Start the apps a scenario needs, run it, stop them whatever happens."""
    procs: list[Proc] = []
    try:
        procs = list(spawn())
        for proc in procs:
            proc.wait_listening()
        bench.check_stacks(procs)
        return run(*procs)
    finally:
        for proc in procs:
            bench.procs.stop(proc)


def _in_turn(*spawns: Callable[[], Proc]) -> list[Proc]:
    """Start apps one after the other: two interpreters importing at once on the one pinned CPU of a busy
    machine can miss the 20 s start-up bound (a Procs run stops every app it started, whatever happens)."""
    procs = []
    for spawn in spawns:
        procs.append(spawn())
        procs[-1].wait_listening(60)
    return procs


def _steps(bench: sc.Bench) -> list[tuple[str, Callable[[], dict[str, Any]]]]:
    return [
        ("cache_hit", lambda: _with_bots(
            bench, lambda: (bench.spawn_bot("clue-bot"), bench.spawn_baseline("fast"),
                            bench.spawn_baseline("defaults")),
            lambda bot, base, defaults: sc.cache_hit(bench, bot, base, defaults))),
        ("cache_miss", lambda: _with_bots(
            bench, lambda: (bench.spawn_bot("clue-bot-miss", settings=NO_CACHE), bench.spawn_baseline("crm")),
            lambda bot, floor: sc.cache_miss(bench, bot, floor))),
        ("follow_ups", lambda: _with_bots(
            bench, lambda: (bench.spawn_bot("clue-bot-follow-ups", settings=NO_FOLLOW_UP_CACHE),
                            bench.spawn_baseline("crm")),
            lambda bot, floor: sc.follow_ups(bench, bot, floor))),
        ("search", lambda: _with_bots(
            bench, lambda: _in_turn(lambda: bench.spawn_bot("clue-bot-search-cold", settings=NO_SEARCH_CACHE),
                                    lambda: bench.spawn_bot("clue-bot-search")),
            lambda cold, cached: sc.search(bench, cold, cached))),
        ("events_slow_crm", lambda: _with_bots(
            bench, lambda: (bench.spawn_bot("clue-bot-events", settings=NO_CACHE), bench.spawn_baseline("fast")),
            lambda bot, floor: sc.events_slow_crm(bench, bot, floor))),
        ("storm", lambda: _with_bots(
            bench, lambda: (bench.spawn_bot("clue-bot-storm"),), lambda bot: sc.storm(bench, bot))),
        ("hung_crm", lambda: _with_bots(
            bench, lambda: (bench.spawn_bot("clue-bot-hung"),), lambda bot: sc.hung_crm(bench, bot))),
        ("card_latency", lambda: sc.card_latency(bench, NO_FOLLOW_UP_CACHE)),
        ("alerts", lambda: alerts(bench)),
        ("people", lambda: people(bench)),
        ("cold_start", lambda: sc.cold_start(bench)),
        ("memory", lambda: sc.memory(bench)),
    ]


def run_all(bench: sc.Bench, only: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, float]]:
    """Every scenario in turn, and the CPU seconds other processes used during each.

    A scenario that fails is recorded as ``{"error": ...}`` and the rest still run.
    """
    results: dict[str, Any] = {}
    foreign: dict[str, float] = {}
    for name, step in _steps(bench):
        if only and name not in only:
            continue
        started = time.monotonic()
        mark = bench.procs.cpu_mark()
        _log(f"{name} ...")
        try:
            results[name] = step()
        except Exception as exc:  # reported in the results; the other scenarios are independent
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            _log(f"{name} FAILED: {exc}")
        foreign[name] = round(bench.procs.foreign_cpu_seconds(mark), 1)
        _log(f"{name} done in {time.monotonic() - started:.1f}s (other processes and steal: {foreign[name]} CPU-s)")
    return results, foreign


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info(pinned: bool) -> dict[str, Any]:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    wrk = wrk_path()
    wrk_version = ""
    if wrk:
        shown = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10, check=False)
        text = shown.stdout or shown.stderr
        wrk_version = text.splitlines()[0].split(" Copyright")[0] if text else ""
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
        "implementation": platform.python_implementation(), "kernel": platform.release(), "wrk": wrk_version,
        "pinning": (f"app under test on CPU {APP_CPU}, load generator + CRM + fake Slack on CPU {HELPER_CPU}"
                    if pinned else "no CPU pinning"),
    }


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the children


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="clue bot vs a bare Bolt app, on loopback")
    parser.add_argument("--only", action="append", default=[], metavar="SCENARIO",
                        help="run only this scenario (repeatable), e.g. --only search")
    parser.add_argument("--quick", action="store_true", help="smoke run: ~1 s per scenario, small counts")
    parser.add_argument("--duration", type=float, help="seconds per load run (default 10, quick 1)")
    parser.add_argument("--rounds", type=int, help="alternating rounds of the cache-hit and cache-miss runs "
                        "(default 5, quick 1)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where latest.json / latest.md go")
    parser.add_argument("--driver", choices=("wrk", "python"), default="wrk",
                        help="load generator for the throughput runs (python: indicative only)")
    parser.add_argument("--crm-latency-ms", type=int, default=50, help="latency added to every CRM request")
    parser.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto",
                        help="uvicorn event loop of every app (default auto: uvloop when installed)")
    parser.add_argument("--http", choices=("auto", "httptools", "h11"), default="auto",
                        help="uvicorn HTTP parser of every app (default auto: httptools when installed); "
                        "--loop asyncio --http h11 measures the pure-Python stack")
    args = parser.parse_args(argv)
    if args.driver == "wrk" and wrk_path() is None:
        print("bench: wrk not found: apt-get install wrk (or --driver python for an indicative run)",
              file=sys.stderr)
        return 2
    if args.duration is not None and not 0.5 <= args.duration <= 600:
        parser.error("--duration must be between 0.5 and 600 seconds")
    if args.rounds is not None and not 1 <= args.rounds <= 20:
        parser.error("--rounds must be between 1 and 20")

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    plan = sc.Plan.build(quick=args.quick, driver=args.driver, duration=args.duration,
                         crm_latency_ms=args.crm_latency_ms, rounds=args.rounds, loop=args.loop, http=args.http)
    pinned = can_pin()
    machine = machine_info(pinned)
    # The machine may be shared: a high load average around the run explains noisy rounds.
    machine["loadavg_before"] = [round(x, 2) for x in os.getloadavg()]
    if pinned:
        pin_harness()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as logs, Procs(Path(logs), pin=pinned) as procs:
        bench = sc.Bench(plan, procs)
        try:
            bench.start_helpers()
            bot_env = bench.bot_settings()
            results, foreign = run_all(bench, args.only)
        finally:
            bench.close()
    machine["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]

    report: dict[str, Any] = {
        "meta": {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"), "quick": plan.quick,
            "driver": machine["wrk"] if plan.driver == "wrk" else "python (bench.load.drive)",
            "duration_s": plan.duration, "rounds": plan.rounds, "concurrencies": list(plan.concurrencies),
            "crm_latency_ms": plan.crm_latency_ms, "slow_crm_ms": plan.slow_crm_ms,
            "wall_seconds": round(time.monotonic() - started, 1), "machine": machine,
            "foreign_cpu_s": foreign,
            "server": {"uvicorn": _version("uvicorn"), "requested": f"--loop {plan.loop} --http {plan.http}",
                       "used": sorted(set(bench.stacks.values())), "apps": bench.stacks},
            "bot_env": {k: v for k, v in bot_env.items() if k != "CRM_BASE_URL"},
            "bot_env_cache_miss_and_events": NO_CACHE,
        },
        "scenarios": results,
    }
    report["targets"] = targets_json(ran(evaluate(results, plan.concurrencies), results))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    summary = markdown(report)
    (args.out / "latest.md").write_text(summary)
    _log(f"server stack: {', '.join(report['meta']['server']['used']) or 'no app ran'} "
         f"(uvicorn {report['meta']['server']['uvicorn']}, {plan.loop=}, {plan.http=})")
    print(summary)
    return 1 if any(isinstance(r, dict) and "error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
