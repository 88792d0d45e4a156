"""Cache-hit throughput of clue bot with 1 and with 2 worker processes (``WEB_CONCURRENCY``), same run.

```sh
.venv/bin/python -m bench.workers                    # 3 alternating rounds of 10 s at c=16 and c=64
.venv/bin/python -m bench.workers --duration 5 --rounds 2
```

Nothing is pinned (two workers need both CPUs), so wrk, the sandbox CRM and the fake Slack share the
machine with the workers: the ratio is what a 2-core host gives, load generator included. Each round
runs the two instances back to back (rotating order); the ratio is the median of per-round ratios, and
the load average and the CPU other processes used are reported next to it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench import scenarios as sc
from bench.procs import Procs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    args = parser.parse_args(argv)
    plan = sc.Plan(quick=False, driver="wrk", duration=args.duration, warmup=3.0, rounds=args.rounds,
                   crm_latency_ms=50, concurrencies=tuple(args.concurrency))
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as logs, Procs(Path(logs), pin=False) as procs:
        bench = sc.Bench(plan, procs)
        try:
            bench.start_helpers()
            apps = {f"workers_{n}": bench.spawn_bot(f"clue-bot-{n}w", settings={"WEB_CONCURRENCY": str(n)})
                    for n in (1, 2)}
            for proc in apps.values():
                proc.wait_listening(timeout=120)
            users = [f"U0BENCH{i:03d}" for i in range(16)]
            targets = {name: (proc.port, lambda proc=proc: [bench.command(proc, str(sc.HIT_ID), user=u)
                                                             for u in users])
                       for name, proc in apps.items()}
            for port, build in targets.values():  # fills every worker's cache (and reference data)
                bench.warm(port, build())
            result = sc._alternating(bench, targets)
        finally:
            bench.close()
    for cell in result.values():
        cell["rps_ratio"] = sc._per_round(cell, "workers_2", "workers_1", lambda two, one: two["rps"] / one["rps"])
    summary = {"loadavg_before": [round(x, 2) for x in load_before],
               "loadavg_after": [round(x, 2) for x in os.getloadavg()], "cells": result}
    print(json.dumps(summary, indent=2))
    for name, cell in result.items():
        foreign = statistics.median(r["foreign_cpu_s"] for app in ("workers_1", "workers_2")
                                    for r in cell[app]["rounds"])
        print(f"{name}: 1 worker {cell['workers_1']['rps']:.0f} req/s (p99 {cell['workers_1']['p99_ms']:.1f} ms), "
              f"2 workers {cell['workers_2']['rps']:.0f} req/s (p99 {cell['workers_2']['p99_ms']:.1f} ms): "
              f"{cell['rps_ratio']:.2f}x; other processes used a median {foreign:.1f} CPU-s per run",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
