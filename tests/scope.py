"""How much of the suite's two adjustable parts a run covers, decided once per run and printed at its end.

- **Hypothesis**: every property runs ``CI_EXAMPLES`` examples under ``CI=true`` and ``LOCAL_EXAMPLES``
  elsewhere (``HYPOTHESIS_PROFILE=ci`` asks for the full count locally). Failures found before are
  replayed first either way, from ``.hypothesis/``.
- **The bench smoke run** (``python -m bench --quick``, tests/test_bench_smoke.py): every scenario under
  ``CI=true``, with ``BENCH_SMOKE=full``, or when git shows a change under ``bench/`` or the hot path
  since this branch left main (committed or not); otherwise ``ONE_SCENARIO`` alone, still end to end
  (with load runs of 0.5 s, the shortest the harness takes: a smoke run measures nothing).
  ``BENCH_SMOKE=one`` asks for the one scenario whatever changed.
"""

from __future__ import annotations

import functools
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CI = os.environ.get("CI", "").lower() == "true"

CI_EXAMPLES = 150  # no property had more before profiles; the ones with Hypothesis's default had 100
LOCAL_EXAMPLES = 25

# What `make bench` measures: the code a Slack request runs through, the bench itself, and the versions
# that run it (the server stack). bot/dev (playground, sandbox CRM), bot/check.py and the launcher are not
# on it; the one scenario that always runs covers them as the bench uses them.
HOT_PATH = ("bench/", "bot/web/", "bot/slack/", "bot/cache/", "bot/crm/", "bot/fleet/", "bot/runtime/",
            "bot/domain/", "bot/compose.py", "bot/config.py", "bot/errors.py", "requirements/run.txt")
# The scenario always run: a /clue that misses the cache goes Slack → app → CRM → card, against the floor app.
ONE_SCENARIO = "cache_miss"
_UPSTREAM = ("origin/main", "main")


def hypothesis_profile() -> str:
    return os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if CI else "local")


@dataclass(frozen=True)
class BenchSmoke:
    """Which scenarios the smoke run asks for (none named: all), and why."""

    full: bool
    reason: str

    @property
    def only(self) -> tuple[str, ...]:
        return () if self.full else (ONE_SCENARIO,)

    @property
    def args(self) -> list[str]:
        """``python -m bench --quick`` arguments: the one scenario with the shortest load runs it accepts."""
        return [] if self.full else ["--only", ONE_SCENARIO, "--duration", "0.5"]

    def describe(self) -> str:
        if self.full:
            return f"every scenario ({self.reason})"
        return (f"the {ONE_SCENARIO} scenario alone, end to end, 0.5 s load runs ({self.reason}); "
                "BENCH_SMOKE=full runs every scenario")


@functools.cache
def bench_smoke() -> BenchSmoke:
    asked = os.environ.get("BENCH_SMOKE", "").lower()
    if asked in ("full", "one"):
        return BenchSmoke(asked == "full", f"BENCH_SMOKE={asked}")
    if CI:
        return BenchSmoke(True, "CI=true")
    changed = _changed_since_upstream()
    if changed is None:
        return BenchSmoke(False, "no git history to compare with main")
    hot = sorted(path for path in changed if path.startswith(HOT_PATH))
    if hot:
        more = f" and {len(hot) - 3} more" if len(hot) > 3 else ""
        return BenchSmoke(True, f"changed since main: {', '.join(hot[:3])}{more}")
    return BenchSmoke(False, "nothing under bench/ or the hot path changed since main")


def _git(*args: str) -> str | None:
    try:
        # Fixed arguments: git on this checkout.
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=30,
                              check=False)
    except OSError:  # no git
        return None
    return done.stdout if done.returncode == 0 else None


def _changed_since_upstream() -> set[str] | None:
    """Paths changed since this branch left main, committed or not (new files included); None without git."""
    for upstream in _UPSTREAM:
        base = _git("merge-base", "HEAD", upstream)
        if base is None:
            continue
        changed = _git("diff", "--name-only", base.strip())
        untracked = _git("ls-files", "--others", "--exclude-standard")
        if changed is None or untracked is None:
            return None
        return set(changed.splitlines()) | set(untracked.splitlines())
    return None
