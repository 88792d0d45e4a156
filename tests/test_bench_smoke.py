"""Smoke run of the benchmark harness (``python -m bench --quick``): every scenario it runs reports numbers.

Every scenario under ``CI=true``, with ``BENCH_SMOKE=full`` or when bench/ or the hot path changed since
main; one scenario end to end otherwise (tests/scope.py decides; the run's last lines say which).
No timing is asserted: a smoke run on a busy CI machine measures nothing. Without wrk on the machine
the harness's pure-Python load driver is used, so the harness is still exercised end to end.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.scope import bench_smoke

ROOT = Path(__file__).resolve().parents[1]
# The search scenario starts two apps in turn: ~25 s more on a busy machine; card_latency ~15 s; people waits for
# three rounds of the nudge loop, which looks once a minute: ~3.5 min.
TIMEOUT_SECONDS = 480
_RUN = ("p50_ms", "p99_ms", "rps")
_MISS_OVERHEADS = ("overhead_p50_ms", "floor_overhead_p99_ms", "overhead_p99_vs_floor_ms")
# scenario -> key paths that must hold finite numbers
REQUIRED: dict[str, list[tuple[str, ...]]] = {
    "cache_hit": [(f"c{c}", app, m) for c in (1, 16) for app in ("clue_bot", "baseline", "bolt_defaults") for m in _RUN]
    + [(f"c{c}", r) for c in (1, 16) for r in ("p99_ratio", "rps_ratio")],
    "cache_miss": [(f"c{c}", app, m) for c in (1, 16) for app in ("clue_bot", "floor", "crm") for m in _RUN]
    + [(f"c{c}", k) for c in (1, 16) for k in _MISS_OVERHEADS],
    "follow_ups": [(f"c{c}", app, m) for c in (1, 16) for app in ("clue_bot", "floor", "crm") for m in _RUN]
    + [(f"c{c}", k) for c in (1, 16) for k in _MISS_OVERHEADS]
    + [("cache_misses",), ("answered",)],
    "search": [(f"c{c}", app, m) for c in (1, 16) for app in ("cold", "cached", "crm") for m in _RUN]
    + [(f"c{c}", "overhead_p50_ms") for c in (1, 16)],
    "events_slow_crm": [(f"c{c}", m) for c in (1, 16) for m in ("p50_ms", "p99_ms")],
    "storm": [("crm_calls",), ("coalesced",), ("answered_200",)],
    "hung_crm": [("share_within_3s",), ("requests",), ("p99_ms",)],
    "card_latency": [(kind, "p50_ms") for kind in ("first_clue", "refresh", "share", "show", "reveal")],
    "cold_start": [("median_s",), ("max_s",)],
    "memory": [("empty_rss_mb",), ("full_rss_mb",), ("mb_per_10k_clues",), ("cached_verified",)],
    "alerts": [("latency", "p50_s"), ("latency", "p99_s"), ("burst", "posted"), ("burst", "seconds_to_all"),
               ("burst", "db_commits_per_alert"), ("lookups_busy", "rps_ratio")],
    "people": [("home", "p50_ms"), ("home", "p99_ms"), ("home", "burst", "crm_reads"), ("nudge", "dms_accepted"),
               ("nudge", "seconds_to_last_dm"), ("nudge", "peak_crm_calls_per_s"), ("nudge", "refused_by_rate_limit")],
}
# The bare Bolt apps measured in the same run (bench/baseline.py): latencies, and the crm floor's p50
# overhead over the CRM alone (its one CRM call plus Bolt), all above zero. (Its p99 overhead is a
# difference of two maxima in a quick run: only required finite, above.)
FLOORS: dict[str, list[tuple[str, ...]]] = {
    "cache_miss": [(f"c{c}", *k) for c in (1, 16)
                   for k in (("floor", "p50_ms"), ("floor", "p99_ms"), ("floor_overhead_p50_ms",))],
    "events_slow_crm": [(f"c{c}", "floor", m) for c in (1, 16) for m in ("p50_ms", "p99_ms", "max_ms")],
}
FLOORS["follow_ups"] = FLOORS["cache_miss"]
# Targets whose row in latest.md names the floor's figure, by scenario.
FLOOR_NOTES = {"cache_miss": 1, "follow_ups": 2, "events_slow_crm": 1}


def _dig(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        assert isinstance(node, dict) and key in node, f"missing {'.'.join(path)}"
        node = node[key]
    return node


def test_quick_run_reports_every_scenario_with_numbers(tmp_path: Path) -> None:
    scope = bench_smoke()
    driver = "wrk" if shutil.which("wrk") else "python"
    # A session of its own, so a timeout can kill the harness and every server it started at once.
    proc = subprocess.Popen([sys.executable, "-m", "bench", "--quick", "--driver", driver, "--out", str(tmp_path),
                             *scope.args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"python -m bench --quick {' '.join(scope.args)} took over {TIMEOUT_SECONDS}s")
    assert proc.returncode == 0, err[-4000:]

    report = json.loads((tmp_path / "latest.json").read_text())
    ran = set(scope.only or REQUIRED)
    assert ran <= set(report["scenarios"]), f"{scope.describe()}: {sorted(report['scenarios'])}"
    for scenario in ran:
        section = report["scenarios"][scenario]
        assert "error" not in section, section
        for path in REQUIRED[scenario]:
            value = _dig(section, path)
            assert isinstance(value, int | float) and not isinstance(value, bool), (scenario, path, value)
            assert math.isfinite(value), (scenario, path, value)
        for path in FLOORS.get(scenario, []):
            value = _dig(section, path)
            assert isinstance(value, int | float) and value > 0, (scenario, path, value)
    if "alerts" in ran:  # not a timing: every alert of the burst reached each channel once
        assert report["scenarios"]["alerts"]["burst"]["exactly_once"] is True, report["scenarios"]["alerts"]
    if "people" in ran:  # not timings: every person nudged once, nothing refused, one CRM read for the burst
        people = report["scenarios"]["people"]
        nudge = people["nudge"]
        assert (nudge["posted"], nudge["dms_accepted"], nudge["failed"]) == (people["people"],) * 2 + (0,), people
        # (a second round's DMs are counted in a full run only: tests/people prove once a day)
        assert nudge["refused_by_rate_limit"] == 0 and nudge["second_round_dms"] in (0, None), people
        assert people["home"]["burst"]["crm_reads"] <= 1, people
    assert report["meta"]["machine"]["nproc"] >= 1
    # Every app ran on one server stack, the default: uvloop and httptools are dependencies.
    assert report["meta"]["server"]["used"] == ["uvloop+httptools"], report["meta"]["server"]
    measured = [t for t in report["targets"] if t["value"] is not None]
    assert measured and all(t["verdict"] in ("pass", "MISSED") for t in measured)
    assert scope.only or len(measured) == len(report["targets"]), report["targets"]
    summary = (tmp_path / "latest.md").read_text()
    assert summary.startswith("# clue bot benchmark") and summary in out
    assert "Server stack: uvicorn " in summary and "`uvloop+httptools` for every app" in summary
    # The floors' rows, and the floor next to every absolute target that has one.
    assert "| 16 | floor: bare AsyncApp + one CRM call (`bench.baseline crm`) |" in summary
    assert ("| 16 | floor: bare Bolt, no-op listener (`bench.baseline fast`) |" in summary) == (
        "events_slow_crm" in ran)
    floor_note = r"\| floor: bare Bolt[^|]* -?\d[\d,]*\.\d\d ms \|$"
    floor_notes = re.findall(rf"^\| (?:cache-miss|follow-up|link_shared).*{floor_note}", summary, re.MULTILINE)
    assert len(floor_notes) == sum(FLOOR_NOTES.get(scenario, 0) for scenario in ran), summary


@pytest.mark.parametrize("args", [["--rounds", "0"], ["--rounds", "21"], ["--duration", "0.1"]])
def test_out_of_range_sizes_are_usage_errors(args: list[str], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from bench.__main__ import main

    with pytest.raises(SystemExit) as exited:
        main(["--driver", "python", "--out", str(tmp_path), *args])
    assert exited.value.code == 2
    assert "must be between" in capsys.readouterr().err
    assert not (tmp_path / "latest.json").exists()


def test_a_load_run_with_refused_requests_stops_the_comparison(tmp_path: Path) -> None:
    # A real baseline app answering 401 to requests signed with another secret: numbers measured on
    # refusals (e.g. signatures past Slack's five minutes) must never become a ratio.
    from bench import requests as rq
    from bench import scenarios as sc
    from bench.procs import Procs

    plan = sc.Plan.build(quick=True, driver="python", duration=0.5, crm_latency_ms=0)
    with Procs(tmp_path, pin=False) as procs:
        bench = sc.Bench(plan, procs)
        try:
            bench.start_helpers()
            baseline = bench.spawn_baseline("fast")
            baseline.wait_listening()
            host = f"127.0.0.1:{baseline.port}"
            good = [rq.clue_command(host, bench.secret, "8", bench.response_url)]
            assert sc._alternating(bench, {"baseline": (baseline.port, lambda: good)})["c1"]["baseline"]["rps"] > 0
            forged = [rq.clue_command(host, "not-the-secret", "8", bench.response_url)]
            with pytest.raises(RuntimeError, match="non-2xx"):
                sc._alternating(bench, {"baseline": (baseline.port, lambda: forged)})
        finally:
            bench.close()


def test_hot_path_reports_cpu_per_request_of_both_apps() -> None:
    """``python -m bench.hot_path``: every answer HTTP 200 (else it fails), three positive figures."""
    proc = subprocess.run([sys.executable, "-m", "bench.hot_path", "--hits", "40", "--misses", "10", "--rounds", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    match = re.search(r"bare Bolt app (\d+) µs; clue bot cache hit (\d+) µs \([\d.]+×\); cache miss (\d+) µs",
                      proc.stdout)
    assert match, proc.stdout
    assert all(int(n) > 0 for n in match.groups())
