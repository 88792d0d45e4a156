"""The measured scenarios. Each returns a JSON-ready dict; ``Bench`` holds what they share.

Traffic goes to 127.0.0.1 only: the apps under test, the sandbox CRM's control endpoints and the
fake Slack. Every loop is bounded by a count or a deadline.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import os
import re
import secrets
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bench import requests as rq
from bench.load import Connection, LoadResult, burst, drive, percentile, run_python, run_wrk, summarize
from bench.procs import Proc, Procs, free_port
from bot.config import SANDBOX_APP_ID, SANDBOX_APP_KEY
from bot.dev.loopback import LoopbackServer
from bot.dev.playground.fake_slack import FakeSlackState, create_fake_slack, public_channel
from bot.dev.sandbox import SandboxServer, seed
from bot.dev.timeline import Timeline
from bot.domain.search import normalise_query
from bot.slack import cards, search_cards

Json = dict[str, Any]
SEED_IDS: tuple[int, ...] = tuple(c["customerId"] for c in seed.CLUES)
HIT_ID = seed.DOC_CLUE_ID  # the vendor's example clue: a typical card
STORM_ID = 12  # a seed clue no earlier scenario looks up on the same instance
# Children must not inherit the developer's Slack, CRM, cache or Redis settings.
_INHERITED_PREFIXES = ("SLACK_", "CRM_", "CLUE_", "REDIS_")
_INHERITED_NAMES = ("HOST", "PORT", "LOG_LEVEL", "DATABASE_URL")
# Raised so that one benchmark user and a fast CRM are never throttled by clue bot's own guards
# (defaults: 30 lookups per user per minute, 20 CRM requests/s, 8 concurrent CRM requests).
BENCH_LIMITS = {"CLUE_USER_RATE_PER_MINUTE": "100000", "CRM_RATE_PER_SECOND": "10000", "CRM_MAX_CONCURRENCY": "64",
                "CLUE_SEARCH_RATE_PER_MINUTE": "100000"}
# card_latency: the buttons of a private card, each read from the CRM again (clue and follow-ups).
CARD_CLICKS = (("refresh", cards.ACTION_REFRESH), ("share", cards.ACTION_SHARE), ("show", search_cards.ACTION_SHOW),
               ("reveal", cards.ACTION_REVEAL))
# Searches the sandbox answers with results: names, a shared phone prefix, written phones.
SEARCH_TEXTS = ("张三", "find 13900130", "+86 139-0013-0001", "张小明", "find 13812345678", "李娜", "find z")


@dataclass(frozen=True)
class Plan:
    """Sizes of one run: ``--quick`` shrinks everything to a smoke run."""

    quick: bool
    driver: str  # "wrk" or "python"
    duration: float  # seconds per load run
    warmup: float
    rounds: int  # cache-hit and cache-miss runs alternate apps this many times; medians are reported
    crm_latency_ms: int
    concurrencies: tuple[int, ...] = (1, 16)
    slow_crm_ms: int = 2000
    events_per_level: int = 3000
    storm_size: int = 100
    storm_hold_ms: int = 1000
    hung_seconds: float = 10.0
    loop: str = "auto"  # uvicorn's event loop for every app: auto, uvloop or asyncio
    http: str = "auto"  # and its HTTP parser: auto, httptools or h11
    hung_concurrency: int = 16
    answer_deadline: float = 3.0  # Slack's slash-command timeout
    cold_runs: int = 3
    memory_clues: int = 10_000
    card_crm_ms: int = 300  # card_latency: the CRM's latency on every read
    card_slack_ms: int = 200  # and Slack's on conversations.info
    card_rounds: int = 10
    alert_poll_s: float = 2.0  # alerts: CLUE_ALERT_POLL_SECONDS of the instance
    alert_trials: int = 10  # single new clues timed to Slack
    alert_burst: int = 1000  # new clues at once, into every subscribed channel
    alert_feed: int = 20  # new clues per poll interval while lookups are measured
    alert_busy_rounds: int = 3

    @classmethod
    def build(cls, *, quick: bool, driver: str, duration: float | None, crm_latency_ms: int,
              rounds: int | None = None, loop: str = "auto", http: str = "auto") -> Plan:
        if quick:
            return cls(quick=True, driver=driver, duration=duration or 1.0, warmup=0.3, rounds=rounds or 1,
                       crm_latency_ms=crm_latency_ms, events_per_level=30, hung_seconds=2.5, cold_runs=1,
                       memory_clues=1_000, card_rounds=2, alert_poll_s=0.5, alert_trials=2, alert_burst=50,
                       alert_feed=5, alert_busy_rounds=1, loop=loop, http=http)
        # Five rounds: a c=1 p99 of ~0.3 ms moves by ±15 % between back-to-back runs on this kind of
        # machine, so the median of three per-round ratios still swung across the 1.1 target.
        return cls(quick=False, driver=driver, duration=duration or 10.0, warmup=2.0, rounds=rounds or 5,
                   crm_latency_ms=crm_latency_ms, loop=loop, http=http)


class Bench:
    """The helpers of a run (fake Slack, sandbox CRM) and how to start and drive apps against them."""

    def __init__(self, plan: Plan, procs: Procs) -> None:
        self.plan = plan
        self.procs = procs
        self.secret = secrets.token_hex(16)
        self.bot_token = f"xoxb-bench-{secrets.randbelow(10**12):012d}-{secrets.token_hex(12)}"
        self.http = httpx.Client(timeout=10, trust_env=False)  # loopback only: never through a proxy
        self.fake_slack: Proc | None = None
        self.sandbox: Proc | None = None
        self.stacks: dict[str, str] = {}  # app process name -> the loop+parser it was seen running

    def start_helpers(self) -> None:
        self.fake_slack = self.procs.spawn("fake-slack", ["bench.fakeslack", "--port", str(port := free_port())],
                                           self.base_env(), port=port)
        self.sandbox = self.procs.spawn("sandbox-crm", ["bot", "sandbox", "--port", str(port := free_port())],
                                        self.base_env(), port=port)
        self.fake_slack.wait_listening()
        self.sandbox.wait_listening()
        self.set_latency(self.plan.crm_latency_ms)

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------ environments and processes

    @staticmethod
    def base_env() -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(_INHERITED_PREFIXES) and k not in _INHERITED_NAMES}
        env["PYTHONUNBUFFERED"] = "1"
        return env

    @property
    def response_url(self) -> str:
        assert self.fake_slack is not None
        return f"{self.fake_slack.url}/response/bench"

    def slack_env(self) -> dict[str, str]:
        assert self.fake_slack is not None
        return {**self.base_env(), "SLACK_BOT_TOKEN": self.bot_token, "SLACK_SIGNING_SECRET": self.secret,
                "SLACK_API_URL": f"{self.fake_slack.url}/api/", "LOG_LEVEL": "WARNING"}

    def bot_settings(self, crm_url: str | None = None, settings: Mapping[str, str] | None = None
                     ) -> dict[str, str]:
        """clue bot's environment (production-like; see BENCH_LIMITS), without the secrets."""
        assert self.sandbox is not None
        return {"CRM_BASE_URL": crm_url or self.sandbox.url, "CRM_APP_ID": SANDBOX_APP_ID, "HOST": "127.0.0.1",
                "LOG_LEVEL": "WARNING", **BENCH_LIMITS, **(settings or {})}

    def spawn_bot(self, name: str, *, port: int | None = None, crm_url: str | None = None,
                  settings: Mapping[str, str] | None = None) -> Proc:
        """``python -m bot serve`` on CPU 0; ``settings`` override the environment variables."""
        port = port or free_port()
        # Each instance its own alerts database (production runs with one), never a file in the cwd.
        database = {"DATABASE_URL": f"sqlite:///{self.procs.log_dir / name}.db"}
        env = {**self.slack_env(), **database, **self.bot_settings(crm_url, settings), "CRM_APP_KEY": SANDBOX_APP_KEY,
               "PORT": str(port)}
        return self.procs.spawn(name, ["bot", "serve", *self.stack_args()], env, port=port, app_under_test=True)

    def spawn_baseline(self, mode: str) -> Proc:
        """``python -m bench.baseline <mode>`` on CPU 0, with clue bot's Slack settings and the sandbox CRM."""
        assert self.sandbox is not None
        port = free_port()
        return self.procs.spawn(f"baseline-{mode}", ["bench.baseline", mode, "--port", str(port),
                                                     *self.stack_args()],
                                {**self.slack_env(), "CRM_BASE_URL": self.sandbox.url}, port=port,
                                app_under_test=True)

    def stack_args(self) -> list[str]:
        """Every app under test gets the same uvicorn event loop and HTTP parser (ratios stay fair)."""
        return ["--loop", self.plan.loop, "--http", self.plan.http]

    def check_stacks(self, procs: Sequence[Proc]) -> None:
        """Record the loop+parser each listening app runs; apps compared in one scenario must agree."""
        seen = {proc.name: proc.server_stack() for proc in procs}
        self.stacks.update(seen)
        if len(set(seen.values())) > 1:
            raise RuntimeError(f"apps run on different server stacks, no fair comparison: {seen}")

    # ------------------------------------------------------------ sandbox CRM controls

    def _control(self, method: str, path: str, body: Json | None = None) -> Json:
        assert self.sandbox is not None
        response = self.http.request(method, self.sandbox.url + path, json=body)
        response.raise_for_status()
        result: Json = response.json()
        return result

    def set_latency(self, ms: int) -> None:
        """Only the configured CRM latency, on every request."""
        self._control("DELETE", "/_sandbox/faults")
        if ms:
            self._control("POST", "/_sandbox/faults", {"latency_ms": ms})

    def set_fault(self, **fault: Any) -> None:
        self._control("POST", "/_sandbox/faults", fault)

    def crm_stats(self) -> Json:
        return self._control("GET", "/_sandbox/stats")

    def metric(self, proc: Proc, name: str, labels: str = "") -> float:
        """One sample of the app's Prometheus ``/metrics`` (0 when not exported yet)."""
        text = self.http.get(proc.url + "/metrics").text
        found = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    # ------------------------------------------------------------ requests and load

    def command(self, proc: Proc, text: str, *, user: str = rq.USER) -> bytes:
        return rq.clue_command(f"127.0.0.1:{proc.port}", self.secret, text, self.response_url, user=user)

    def load(self, port: int, requests: Sequence[bytes], concurrency: int, duration: float) -> LoadResult:
        if self.plan.driver == "wrk":
            return run_wrk(port, requests, concurrency=concurrency, duration=duration)
        return run_python(port, requests, concurrency=concurrency, duration=duration)

    def warm(self, port: int, requests: Sequence[bytes]) -> None:
        self.load(port, requests, max(self.plan.concurrencies), self.plan.warmup)


def send_one(port: int, request: bytes, timeout: float = 10.0) -> tuple[int, Json]:
    """One request on a fresh connection: (status, JSON body or {})."""

    async def go() -> tuple[int, bytes]:
        conn = Connection(port)
        try:
            async with asyncio.timeout(timeout):
                return await conn.send(request)
        finally:
            await conn.close()

    status, body = asyncio.run(go())
    try:
        decoded = json.loads(body) if body else {}
    except ValueError:
        decoded = {"_raw": body[:200].decode(errors="replace")}
    return status, decoded if isinstance(decoded, dict) else {"_json": decoded}


def answer_kind(body: bytes | Json) -> str:
    """``card`` for a clue card, else the notice text with numbers as N (``Looking up clue N…``)."""
    if isinstance(body, bytes):
        try:
            body = json.loads(body)
        except ValueError:
            return "not json"
    if not isinstance(body, dict):
        return "not json"
    blocks = body.get("blocks") or []
    if any(isinstance(b, dict) and b.get("type") == "header" for b in blocks):
        return "card"
    return re.sub(r"\d+", "N", str(body.get("text") or "empty"))[:60]


def expect(proc: Proc, condition: bool, what: str) -> None:
    if not condition:
        raise RuntimeError(f"{proc.name}: {what}\n{proc.log_tail()}")


def _median_result(runs: Sequence[tuple[LoadResult, float]]) -> Json:
    """Per-metric medians over rounds, plus every round with the CPU other processes used meanwhile."""
    results = [run for run, _ in runs]
    merged: Json = {key: round(statistics.median(float(r.to_json()[key]) for r in results), 3)
                    for key in ("rps", "p50_ms", "p99_ms", "max_ms")}
    merged.update(concurrency=results[0].concurrency, requests=sum(r.requests for r in results),
                  errors=sum(r.errors for r in results), non_2xx=sum(r.non_2xx for r in results),
                  rounds=[{**run.to_json(), "foreign_cpu_s": round(foreign, 2)} for run, foreign in runs])
    return merged


def _per_round(cell: Json, app: str, reference: str, compare: Callable[[Json, Json], float]) -> float:
    """Median over rounds of ``compare(app run, reference run)``: each pair ran back to back, so a
    disturbance of the machine during one round moves both sides of that round's comparison."""
    pairs = zip(cell[app]["rounds"], cell[reference]["rounds"], strict=True)
    return round(statistics.median(compare(a, r) for a, r in pairs), 3)


def _alternating(bench: Bench, targets: Mapping[str, tuple[int, Callable[[], Sequence[bytes]]]]) -> dict[str, Json]:
    """Run every target at every concurrency, ``rounds`` times, rotating the order; medians per cell.

    Requests are built right before each run: their signatures carry a timestamp that Slack (and the
    CRM) accept for five minutes, and five rounds last longer than that. A run with a failed request
    stops the scenario: its numbers would not measure the same work as the others'.
    """
    results: dict[tuple[int, str], list[tuple[LoadResult, float]]] = {}
    names = list(targets)
    for round_no in range(bench.plan.rounds):
        order = names[round_no % len(names):] + names[:round_no % len(names)]
        for concurrency in bench.plan.concurrencies:
            for name in order:
                port, build = targets[name]
                requests = build()
                mark = bench.procs.cpu_mark()
                run = bench.load(port, requests, concurrency, bench.plan.duration)
                if run.errors or run.non_2xx:
                    raise RuntimeError(f"{name}, c={concurrency}, round {round_no + 1}: {run.errors} errors and "
                                       f"{run.non_2xx} non-2xx answers in {run.requests} requests")
                results.setdefault((concurrency, name), []).append((run, bench.procs.foreign_cpu_seconds(mark)))
    return {f"c{c}": {name: _median_result(results[(c, name)]) for name in names}
            for c in bench.plan.concurrencies}


# ---------------------------------------------------------------- scenarios


def cache_hit(bench: Bench, bot: Proc, baseline: Proc, defaults: Proc) -> Json:
    """Warm cache, one id: clue bot vs the bare Bolt app (and Bolt's defaults for context)."""
    # Sixteen people asking in turn (the same requests for every app), so no one runs into the per-user
    # rate limit however long the runs are.
    users = [f"U0BENCH{i:03d}" for i in range(16)]
    apps = {"clue_bot": bot, "baseline": baseline, "bolt_defaults": defaults}
    targets = {name: (proc.port, functools.partial(_hit_requests, bench, proc, users)) for name, proc in apps.items()}
    status, body = send_one(bot.port, bench.command(bot, str(HIT_ID)))
    expect(bot, status == 200 and answer_kind(body) == "card", f"/clue {HIT_ID} gave {status} {body}")
    for port, build in targets.values():
        bench.warm(port, build())
    result: Json = _alternating(bench, targets)
    for cell in result.values():
        cell["p99_ratio"] = _per_round(cell, "clue_bot", "baseline", lambda bot, base: bot["p99_ms"] / base["p99_ms"])
        cell["rps_ratio"] = _per_round(cell, "clue_bot", "baseline", lambda bot, base: bot["rps"] / base["rps"])
    # Still a card after the load: the per-user limit did not turn answers into "slow down" notices.
    status, body = send_one(bot.port, bench.command(bot, str(HIT_ID)))
    expect(bot, answer_kind(body) == "card", f"after the load /clue {HIT_ID} gave {status} {body}")
    return result


def _hit_requests(bench: Bench, proc: Proc, users: Sequence[str]) -> list[bytes]:
    return [bench.command(proc, str(HIT_ID), user=user) for user in users]


def cache_miss(bench: Bench, bot: Proc, floor: Proc) -> Json:
    """Every lookup reaches the CRM (an instance with CLUE_CACHE_TTL_SECONDS=0): overhead over the CRM itself.
    The follow-ups come from their own cache (warmed), so each miss is one clue/get."""
    return _misses(bench, bot, floor, "cluebot_cache_total")


def follow_ups(bench: Bench, bot: Proc, floor: Proc) -> Json:
    """The follow-up path: an instance with no clue cache and no follow-up cache either, so every card
    reads clue/get and list-follow-up (side by side) and renders the latest follow-up. Its reference is
    the CRM's own clue/get: both calls are in flight at once, so one round trip is what the CRM costs."""
    return _misses(bench, bot, floor, "cluebot_follow_up_cache_total")


def _misses(bench: Bench, bot: Proc, floor: Proc, miss_metric: str) -> Json:
    """Every /clue of ``bot`` reaches the CRM: its latency minus the CRM's own for the same clue/gets, and
    ``miss_metric`` (result="miss") against the answers as evidence. ``floor`` (``bench.baseline crm``: a
    bare Bolt app making the one CRM call) gets the same /clue in the same rounds: the overhead any Bolt
    app on this stack has over the CRM."""
    assert bench.sandbox is not None
    crm_host = f"127.0.0.1:{bench.sandbox.port}"
    def requests_for(proc: Proc) -> Callable[[], list[bytes]]:
        return lambda: [bench.command(proc, str(i)) for i in SEED_IDS]

    def crm_requests() -> list[bytes]:
        return [rq.crm_clue_get(crm_host, i) for i in SEED_IDS]

    status, body = send_one(bot.port, bench.command(bot, str(SEED_IDS[0])))
    expect(bot, status == 200 and answer_kind(body) == "card", f"/clue {SEED_IDS[0]} gave {status} {body}")
    status, body = send_one(floor.port, bench.command(floor, str(SEED_IDS[0])))
    expect(floor, status == 200 and body.get("text") == _seed_name(SEED_IDS[0]),
           f"/clue {SEED_IDS[0]} gave {status} {body}")
    bench.warm(bot.port, requests_for(bot)())
    bench.warm(floor.port, requests_for(floor)())
    misses_before = bench.metric(bot, miss_metric, '{result="miss"}')
    result: Json = _alternating(bench, {"clue_bot": (bot.port, requests_for(bot)),
                                        "floor": (floor.port, requests_for(floor)),
                                        "crm": (bench.sandbox.port, crm_requests)})
    misses = bench.metric(bot, miss_metric, '{result="miss"}') - misses_before
    bot_answered = sum(cell["clue_bot"]["requests"] for cell in result.values())
    for cell in result.values():
        for app, prefix in (("clue_bot", ""), ("floor", "floor_")):
            cell[f"{prefix}overhead_p50_ms"] = _per_round(cell, app, "crm", lambda a, b: a["p50_ms"] - b["p50_ms"])
            cell[f"{prefix}overhead_p99_ms"] = _per_round(cell, app, "crm", lambda a, b: a["p99_ms"] - b["p99_ms"])
        # clue bot's p99 overhead minus the floor's: what clue bot adds to the least a Bolt app must do.
        cell["overhead_p99_vs_floor_ms"] = _per_round(cell, "clue_bot", "floor",
                                                      lambda a, b: a["p99_ms"] - b["p99_ms"])
    # Evidence that these were misses: clue bot's own miss counter against the answers. Requests still in
    # flight when a run ends count as misses but not as answered, so misses slightly exceed answers.
    result["cache_misses"] = int(misses)
    result["answered"] = bot_answered
    expect(bot, misses >= bot_answered, f"{misses:.0f} {miss_metric} misses for {bot_answered} answers: "
                                        "not a miss run")
    return result


def _seed_name(clue_id: int) -> str:
    """The name the ``crm`` floor answers for a seed clue."""
    clue = next(c for c in seed.CLUES if c["customerId"] == clue_id)
    return next(f["valueAsText"] for f in clue["fields"] if f["field"] == "name") or f"Clue {clue_id}"


def search(bench: Bench, cold: Proc, cached: Proc) -> Json:
    """``/clue <text>`` searches: ``cold`` has no search cache (CLUE_SEARCH_CACHE_TTL_SECONDS=0), so every
    one reaches the CRM, and its p50 minus the CRM's own (the same customer/search requests sent straight
    to the sandbox) is clue bot's overhead; ``cached`` answers repeated queries from its search cache."""
    assert bench.sandbox is not None
    crm_host = f"127.0.0.1:{bench.sandbox.port}"
    texts = SEARCH_TEXTS[:-1]  # "find z" is refused before the CRM: a check below, not load
    keys = [normalise_query(text.removeprefix("find ")).key for text in texts]

    def requests_for(proc: Proc) -> Callable[[], list[bytes]]:
        return lambda: [bench.command(proc, text) for text in texts]

    def crm_requests() -> list[bytes]:
        return [rq.crm_search(crm_host, key) for key in keys]

    for proc in (cold, cached):
        status, body = send_one(proc.port, bench.command(proc, texts[0]))
        expect(proc, status == 200 and answer_kind(body).startswith("Clues matching"), f"search gave {status} {body}")
        bench.warm(proc.port, requests_for(proc)())
    status, body = send_one(cold.port, bench.command(cold, SEARCH_TEXTS[-1]))
    expect(cold, "at least 2" in str(body.get("text")), f"a one-letter search gave {status} {body}")
    def reached_crm() -> float:  # a coalesced search waited for another's CRM call: cold as well
        return sum(bench.metric(cold, "cluebot_searches_total", f'{{result="{r}"}}') for r in ("miss", "coalesced"))

    misses_before = reached_crm()
    result: Json = _alternating(bench, {"cold": (cold.port, requests_for(cold)),
                                        "cached": (cached.port, requests_for(cached)),
                                        "crm": (bench.sandbox.port, crm_requests)})
    misses = reached_crm() - misses_before
    for cell in result.values():
        cell["overhead_p50_ms"] = _per_round(cell, "cold", "crm", lambda a, b: a["p50_ms"] - b["p50_ms"])
        cell["overhead_p99_ms"] = _per_round(cell, "cold", "crm", lambda a, b: a["p99_ms"] - b["p99_ms"])
    result["cold_misses"] = int(misses)
    result["cold_answered"] = sum(cell["cold"]["requests"] for cell in result.values() if isinstance(cell, dict))
    expect(cold, misses >= result["cold_answered"] * 0.9, f"{misses:.0f} search misses: not a cold run")
    return result


def events_slow_crm(bench: Bench, bot: Proc, floor: Proc) -> Json:
    """link_shared acks while every CRM request takes ``slow_crm_ms``; unique event ids (no dedupe).

    ``floor`` (``bench.baseline fast``, whose link_shared listener does nothing) gets the same events at
    the same concurrencies, every level before clue bot's first: clue bot's unfurls go on after its acks
    (they wait for the slow CRM), on the core the two apps share, and must not land in the floor's runs.
    """
    nonce = secrets.token_hex(4)
    # Warm-up before the fault: Bolt's lazy auth.test, the CRM catalog, the first unfurl. The floor's
    # 200 shows its listener matched (Bolt answers an unhandled event 404).
    for proc in (bot, floor):
        event = rq.link_shared_event(f"127.0.0.1:{proc.port}", bench.secret, f"Ev{nonce}{proc.port}W", HIT_ID, 0)
        status, _ = send_one(proc.port, event)
        expect(proc, status == 200, f"warm-up event gave {status}")
    bench.set_latency(bench.plan.slow_crm_ms)
    result: Json = {}
    try:
        floors = {level: _link_shared_load(bench, floor, nonce, level) for level in bench.plan.concurrencies}
        for concurrency in bench.plan.concurrencies:
            cell = _link_shared_load(bench, bot, nonce, concurrency)
            # The CRM really was busy: requests it was holding (slow) right after the run.
            cell["crm_requests_held_after"] = bench.crm_stats()["held"]
            result[f"c{concurrency}"] = {**cell, "floor": floors[concurrency]}
    finally:
        bench.set_latency(bench.plan.crm_latency_ms)  # also releases the held CRM requests
    return result


def _link_shared_load(bench: Bench, proc: Proc, nonce: str, concurrency: int) -> Json:
    """``events_per_level`` link_shared events (or ``duration``) at ``concurrency``, each id unique to ``proc``."""
    host = f"127.0.0.1:{proc.port}"

    def make(i: int) -> bytes:
        return rq.link_shared_event(host, bench.secret, f"Ev{nonce}P{proc.port}C{concurrency}N{i:07d}",
                                    SEED_IDS[i % len(SEED_IDS)], i)

    samples, elapsed = asyncio.run(drive(proc.port, make, concurrency=concurrency, duration=bench.plan.duration,
                                         max_requests=bench.plan.events_per_level))
    return summarize(samples, concurrency, elapsed).to_json()


def storm(bench: Bench, bot: Proc) -> Json:
    """``storm_size`` simultaneous lookups of one cold id (the CRM holds it ``storm_hold_ms``): CRM calls made."""
    key = str(STORM_ID)
    gets_before = bench.crm_stats()["clue_gets"].get(key, 0)
    coalesced_before = bench.metric(bot, "cluebot_singleflight_coalesced_total")
    # Held long enough that all the lookups overlap the first one's CRM call.
    bench.set_fault(clue_id=STORM_ID, latency_ms=bench.plan.storm_hold_ms)
    try:
        requests = [bench.command(bot, key, user=f"U0STORM{n:03d}") for n in range(bench.plan.storm_size)]
        samples = asyncio.run(burst(bot.port, requests))
    finally:
        bench.set_latency(bench.plan.crm_latency_ms)
    latencies = [s.latency * 1000 for s in samples if s.status]
    return {
        "requests": len(samples),
        "answered_200": sum(1 for s in samples if s.status == 200),
        "answers": dict(Counter(answer_kind(s.body) for s in samples)),
        "crm_calls": bench.crm_stats()["clue_gets"].get(key, 0) - gets_before,
        "coalesced": int(bench.metric(bot, "cluebot_singleflight_coalesced_total") - coalesced_before),
        "p50_ms": round(percentile(latencies, 50), 3),
        "max_ms": round(max(latencies, default=float("nan")), 3),
    }


def hung_crm(bench: Bench, bot: Proc) -> Json:
    """The CRM accepts requests and never answers: share of /clue answered (HTTP 200) within 3 s."""
    status, body = send_one(bot.port, bench.command(bot, str(HIT_ID)))
    expect(bot, status == 200 and answer_kind(body) == "card", f"warm-up /clue gave {status} {body}")
    cold_ids = [i for i in SEED_IDS if i != HIT_ID]  # never cached: every lookup meets the hung CRM
    concurrency = bench.plan.hung_concurrency

    def make(i: int) -> bytes:
        return bench.command(bot, str(cold_ids[i % len(cold_ids)]), user=f"U0HUNG{i % concurrency:03d}")

    bench.set_fault(hang=True)
    hang_started = time.monotonic()
    try:
        samples, _ = asyncio.run(drive(bot.port, make, concurrency=concurrency, duration=bench.plan.hung_seconds,
                                       request_timeout=bench.plan.answer_deadline + 7))
        held = bench.crm_stats()["held"]
    finally:
        hang_seconds = time.monotonic() - hang_started
        bench.set_latency(bench.plan.crm_latency_ms)
    in_time = [s for s in samples if s.status == 200 and s.latency <= bench.plan.answer_deadline]
    latencies = [s.latency * 1000 for s in samples if s.status]
    return {
        "requests": len(samples),
        "answered_200_within_3s": len(in_time),
        "share_within_3s": round(len(in_time) / len(samples), 4) if samples else 0.0,
        "hang_seconds": round(hang_seconds, 1),
        "crm_requests_held_at_end": held,
        "p50_ms": round(percentile(latencies, 50), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
        "max_ms": round(max(latencies, default=float("nan")), 3),
        "answers": dict(Counter(answer_kind(s.body) for s in samples)),
    }


def cold_start(bench: Bench) -> Json:
    """Process spawn to the first /clue answered with a card (includes one CRM lookup at the set latency)."""
    runs: list[float] = []
    for n in range(bench.plan.cold_runs):
        port = free_port()
        request = rq.clue_command(f"127.0.0.1:{port}", bench.secret, str(HIT_ID), bench.response_url)
        started = time.perf_counter()
        proc = bench.spawn_bot(f"cold-start-{n}", port=port)
        try:
            runs.append(_first_card(proc, request, started, timeout=30.0))
        finally:
            bench.procs.stop(proc)
    return {"runs_s": [round(r, 3) for r in runs], "median_s": round(statistics.median(runs), 3),
            "max_s": round(max(runs), 3)}


def _first_card(proc: Proc, request: bytes, started: float, *, timeout: float) -> float:
    """Poll until the app answers ``request`` with a card; seconds since ``started``."""

    async def poll() -> float:
        while time.perf_counter() - started < timeout:
            expect(proc, proc.popen.poll() is None, "exited during start-up")
            conn = Connection(proc.port)
            try:
                status, body = await conn.send(request)
                if status == 200 and answer_kind(body) == "card":
                    return time.perf_counter() - started
            except OSError:
                pass  # not listening yet
            finally:
                await conn.close()
            await asyncio.sleep(0.005)
        raise RuntimeError(f"{proc.name}: no card within {timeout:g}s\n{proc.log_tail()}")

    return asyncio.run(poll())


def memory(bench: Bench) -> Json:
    """RSS of clue bot holding ``memory_clues`` distinct cached clues, minus the same process empty.

    The CRM here is the sandbox app run in this process, so ``put_clue`` can add that many clones of the
    seed clues (each with its own id and name); no HTTP endpoint adds clues to a sandbox subprocess.
    """
    count = bench.plan.memory_clues
    first_id = 3_000_000_000
    with SandboxServer() as crm:  # no latency fault: filling is not what is measured
        for n in range(count):
            clue = copy.deepcopy(seed.CLUES[n % len(seed.CLUES)])
            clue["customerId"] = first_id + n
            for item in clue["fields"]:
                if item["field"] == "name":
                    item["valueAsText"] = f"{item['valueAsText'] or '线索'} #{n}"
            crm.state.put_clue(clue)
        bot = bench.spawn_bot("memory", crm_url=crm.url,
                              settings={"CLUE_CACHE_MAXSIZE": str(max(count, 10_000))})
        try:
            bot.wait_listening()
            # Warm-up without caching a clue: unknown ids exercise auth.test, the CRM client, the
            # catalog and the list card (several ids), so the empty figure includes them.
            status, body = send_one(bot.port, bench.command(bot, f"{seed.MISSING_CLUE_ID} {seed.MISSING_CLUE_ID + 1}"))
            expect(bot, status == 200, f"warm-up gave {status} {body}")
            time.sleep(0.5)
            empty = bot.rss_bytes()
            per_request = 10  # CLUE_MAX_IDS default: ids per /clue
            batches = [" ".join(str(first_id + n) for n in range(start, min(start + per_request, count)))
                       for start in range(0, count, per_request)]
            fill = _run_batches(bench, bot, batches)
            gets = crm.state.stats().clue_gets
            fetched = sum(1 for clue_id in gets if clue_id >= first_id)
            hits_before = bench.metric(bot, "cluebot_cache_total", '{result="hit"}')
            verify = _run_batches(bench, bot, batches)  # all cache hits if every clue is cached
            hits = bench.metric(bot, "cluebot_cache_total", '{result="hit"}') - hits_before
            time.sleep(0.5)
            full = bot.rss_bytes()
        finally:
            bench.procs.stop(bot)
    mib = 1024 * 1024
    delta = (full - empty) / mib
    return {
        "clues": count, "crm_fetched": fetched, "cached_verified": int(hits),
        "fill_errors": fill + verify,
        "empty_rss_mb": round(empty / mib, 2), "full_rss_mb": round(full / mib, 2),
        "delta_mb": round(delta, 2), "mb_per_10k_clues": round(delta * 10_000 / count, 2),
    }


def _run_batches(bench: Bench, bot: Proc, batches: Sequence[str]) -> int:
    """Send one /clue per batch of ids (8 at a time); the number of answers that were not HTTP 200."""
    def make(i: int) -> bytes:
        return bench.command(bot, batches[i])

    samples, _ = asyncio.run(drive(bot.port, make, concurrency=8, duration=300, max_requests=len(batches)))
    return sum(1 for s in samples if s.status != 200)


def card_latency(bench: Bench, no_cache: Mapping[str, str]) -> Json:
    """What people feel with the CRM at ``card_crm_ms`` on every read and Slack's conversations.info at
    ``card_slack_ms``: the first ``/clue`` in a channel (the card in the ack: clue, follow-ups and the
    conversation check), then Refresh, Share, Show and Reveal on that card (the conversation now known), each
    the time from sending to the card reaching Slack (its response_url post). An instance with no clue or
    follow-up cache (``no_cache``), so every card reads both from the CRM. The fake Slack runs in this process behind a
    ``Timeline``, which notes when each post arrives. Target: each median ≤ 1.1× the CRM's latency + 10 ms,
    one CRM round trip, not the sum of the reads."""
    plan = bench.plan
    state = FakeSlackState(conversations={"C0CARDWARM": public_channel("warm-up")})
    timeline = Timeline(create_fake_slack(state))
    samples: dict[str, list[float]] = {"first_clue": [], **{kind: [] for kind, _ in CARD_CLICKS}}
    with LoopbackServer(timeline) as slack:
        bot = bench.spawn_bot("clue-bot-cards", settings={**no_cache, "SLACK_API_URL": f"{slack.url}/api/"})
        host = f"127.0.0.1:{bot.port}"
        try:
            bot.wait_listening()
            # Warm-up at the run's usual latency: Bolt's auth.test, the CRM catalog, the first render.
            warm_up = rq.clue_command(host, bench.secret, str(HIT_ID), f"{slack.url}/response/w", channel="C0CARDWARM")
            status, body = send_one(bot.port, warm_up)
            expect(bot, status == 200 and answer_kind(body) == "card", f"warm-up /clue gave {status} {body}")
            state.latency["conversations.info"] = plan.card_slack_ms / 1000
            bench.set_latency(plan.card_crm_ms)
            for n in range(plan.card_rounds):
                channel = f"C0CARD{n:04d}"
                state.conversations[channel] = public_channel(channel.lower())  # a channel the bot was added to
                started = time.monotonic()
                status, body = send_one(bot.port, rq.clue_command(host, bench.secret, str(HIT_ID),
                                                                  f"{slack.url}/response/c{n}", channel=channel))
                samples["first_clue"].append(time.monotonic() - started)
                # The whole card: Slack said in time that the channel is not shared, so it offers Share.
                expect(bot, answer_kind(body) == "card" and cards.ACTION_SHARE in json.dumps(body),
                       f"/clue in a new channel gave {status} {body}")
                for kind, action_id in CARD_CLICKS:
                    key = f"{kind}{n}"
                    started = time.monotonic()
                    status, _ = send_one(bot.port, rq.button_click(host, bench.secret, action_id, str(HIT_ID),
                                                                   f"{slack.url}/response/{key}", channel=channel))
                    expect(bot, status == 200, f"{kind} click gave {status}")
                    samples[kind].append(_posted_at(bot, timeline, f"/response/{key}") - started)
        finally:
            bench.procs.stop(bot)
            bench.set_latency(plan.crm_latency_ms)
    limit_ms = plan.card_crm_ms * 1.1 + 10
    result: Json = {"crm_latency_ms": plan.card_crm_ms, "slack_conversations_info_ms": plan.card_slack_ms,
                    "limit_ms": round(limit_ms, 1), "rounds": plan.card_rounds}
    for kind, seconds in samples.items():
        ms = [x * 1000 for x in seconds]
        result[kind] = {"p50_ms": round(statistics.median(ms), 1), "max_ms": round(max(ms), 1),
                        "vs_crm": round(statistics.median(ms) / plan.card_crm_ms, 3)}
    return result


def _posted_at(proc: Proc, timeline: Timeline, path: str, timeout: float = 10.0) -> float:
    """When the app's first post to ``path`` reached the fake Slack (monotonic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if spans := timeline.spans(path):
            return spans[0].start
        time.sleep(0.001)
    raise RuntimeError(f"{proc.name}: nothing posted to {path} within {timeout:g}s\n{proc.log_tail()}")
