"""The alerts scenario (issue 22): how soon a new clue reaches Slack, a burst delivered exactly once within
Slack's pace, and what alert work costs the lookups beside it.

One clue bot instance with its own SQLite file, ``CLUE_ALERT_POLL_SECONDS`` at ``Plan.alert_poll_s`` and
``ALERT_CHANNELS`` channels subscribed through signed ``/clue subscribe`` commands. The fake Slack runs in
this process, so the bench reads the messages it accepted (each with Slack's ts, the time it was accepted).
New clues come from the sandbox CRM's ``/_sandbox/leads`` (the playground's "a new lead arrives").

- **latency**: ``alert_trials`` times, one new clue; from the moment it was created to each channel's
  alert accepted (the message's ts). Target (issue 22): p50 ≤ poll interval + 1 s, p99 ≤ 2× that.
- **burst**: ``alert_burst`` new clues at once into every channel: every delivery accepted exactly once
  (each covered by one message's metadata), the time until the last one, the fewest seconds between two
  posts into one channel (Slack's pace is about one a second per channel), the CRM calls (by endpoint,
  and per new clue), and committed database transactions per alert.
- **lookups_busy**: cache-hit ``/clue`` throughput while ``alert_feed`` new clues arrive every poll
  interval (so every round polls, resolves, writes and posts), against the same instance idle, in
  alternating rounds. Target: ≥ 0.9×.
"""

from __future__ import annotations

import itertools
import json
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import requests as rq
from bench.scenarios import HIT_ID, Bench, Json, answer_kind, expect, send_one
from bot.dev.loopback import LoopbackServer
from bot.dev.playground.fake_slack import FakeSlackState, create_fake_slack, public_channel
from bot.slack.i18n import t

ALERT_CHANNELS = 20
_SUBSCRIBED = t("en", "notice.subscribed", what="", number=0).split(":")[0]  # "Subscribed"


def alerts(bench: Bench) -> Json:
    plan = bench.plan
    channels = [f"C0ALERT{n:03d}" for n in range(ALERT_CHANNELS)]
    state = FakeSlackState(conversations={c: public_channel(c.lower()) for c in channels})
    with LoopbackServer(create_fake_slack(state)) as slack, tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
        database = Path(tmp) / "alerts.db"
        bot = bench.spawn_bot("clue-bot-alerts", settings={
            "SLACK_API_URL": f"{slack.url}/api/", "DATABASE_URL": f"sqlite:///{database}",
            "CLUE_ALERT_POLL_SECONDS": str(plan.alert_poll_s)})
        host = f"127.0.0.1:{bot.port}"
        try:
            bot.wait_listening()
            for channel in channels:
                status, body = send_one(bot.port, rq.clue_command(host, bench.secret, "subscribe",
                                                                  f"{slack.url}/response/s", channel=channel))
                expect(bot, status == 200 and str(body.get("text", "")).startswith(_SUBSCRIBED),
                       f"/clue subscribe in {channel} gave {status} {body}")
            time.sleep(plan.alert_poll_s * 1.5)  # a round has set the high-water mark: alerts start from now
            return {"poll_seconds": plan.alert_poll_s, "channels": ALERT_CHANNELS,
                    "latency": _latency(bench, state, channels),
                    "burst": _burst(bench, bot, state, channels, database),
                    "lookups_busy": _lookups_busy(bench, bot, host, f"{slack.url}/response/hit")}
        finally:
            bench.procs.stop(bot)
            bench._control("POST", "/_sandbox/reset")  # drop the added leads; clears the latency fault too
            bench.set_latency(plan.crm_latency_ms)


def _add_leads(bench: Bench, count: int) -> tuple[float, list[int]]:
    created = time.time()
    ids: list[int] = bench._control("POST", "/_sandbox/leads", {"count": count})["ids"]
    return created, ids


def _latency(bench: Bench, state: FakeSlackState, channels: Sequence[str]) -> Json:
    plan = bench.plan
    seconds: list[float] = []
    phases = random.Random(22)
    for _ in range(plan.alert_trials):
        time.sleep(phases.uniform(0, plan.alert_poll_s))  # a clue arrives at any moment of the poll cycle
        created, (clue_id,) = _add_leads(bench, 1)
        needle = f'"value": "{clue_id}"'
        for channel in channels:
            message = _wait_for(state, channel, needle, timeout=plan.alert_poll_s * 4 + 10)
            seconds.append(float(message["ts"]) - created)
    p50, p99 = statistics.median(seconds), _quantile(seconds, 0.99)
    return {"alerts": len(seconds), "p50_s": round(p50, 3), "p99_s": round(p99, 3), "max_s": round(max(seconds), 3),
            "p50_over_interval": round(p50 / plan.alert_poll_s, 3)}


def _burst(bench: Bench, bot: Any, state: FakeSlackState, channels: Sequence[str], database: Path) -> Json:
    plan = bench.plan
    calls_before = bench.crm_stats()["calls"]
    commits = bench.metric(bot, "cluebot_store_commits_total")
    before = {c: len(state.channel_messages(c)) for c in channels}
    created, ids = _add_leads(bench, plan.alert_burst)
    expected = len(ids) * len(channels)
    deadline = time.monotonic() + plan.alert_poll_s * 10 + 60
    while _posted(database, ids) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    done = time.time() - created
    posted = _posted(database, ids)
    expect(bot, posted == expected, f"burst: {posted} of {expected} deliveries posted")
    covered: dict[int, int] = {}  # delivery id -> messages naming it
    gaps: list[float] = []
    messages = 0
    for channel in channels:
        mine = _deliveries(database, ids, channel)
        new = state.channel_messages(channel)[before[channel]:]
        messages += len(new)
        stamps = [float(m["ts"]) for m in new]
        gaps += [b - a for a, b in itertools.pairwise(stamps)]
        for message in new:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            first, last = payload.get("first_delivery"), payload.get("last_delivery")
            for delivery in mine:
                if isinstance(first, int) and isinstance(last, int) and first <= delivery <= last:
                    covered[delivery] = covered.get(delivery, 0) + 1
    twice = sum(1 for n in covered.values() if n > 1)
    calls = {path: n - calls_before.get(path, 0) for path, n in bench.crm_stats()["calls"].items()
             if n - calls_before.get(path, 0)}
    return {"clues": len(ids), "deliveries": expected, "posted": posted,
            "exactly_once": posted == expected and len(covered) == expected and twice == 0,
            "covered_twice": twice, "messages": messages, "seconds_to_all": round(done, 2),
            "min_gap_per_channel_s": round(min(gaps), 3) if gaps else None,
            "crm_calls": calls, "crm_calls_per_clue": round(sum(calls.values()) / len(ids), 3),
            "db_commits_per_alert": round((bench.metric(bot, "cluebot_store_commits_total") - commits) / expected, 4)}


def _lookups_busy(bench: Bench, bot: Any, host: str, response_url: str) -> Json:
    plan = bench.plan
    request = [rq.clue_command(host, bench.secret, str(HIT_ID), response_url)]
    status, body = send_one(bot.port, request[0])
    expect(bot, status == 200 and answer_kind(body) == "card", f"/clue {HIT_ID} gave {status} {body}")
    bench.warm(bot.port, request)
    ratios: list[float] = []
    runs: list[Json] = []
    for _ in range(plan.alert_busy_rounds):
        idle = bench.load(bot.port, request, 16, plan.duration)
        stop = threading.Event()
        feeder = threading.Thread(target=_feed, args=(bench, stop), daemon=True)
        feeder.start()
        try:
            busy = bench.load(bot.port, request, 16, plan.duration)
        finally:
            stop.set()
            feeder.join()
        ratios.append(busy.rps / idle.rps if idle.rps else 0.0)
        runs.append({"idle_rps": round(idle.rps, 1), "busy_rps": round(busy.rps, 1)})
    return {"rounds": runs, "rps_ratio": round(statistics.median(ratios), 3), "new_clues_per_poll": plan.alert_feed}


def _feed(bench: Bench, stop: threading.Event) -> None:
    """``alert_feed`` new clues every poll interval until ``stop``: every round has alerts to post."""
    while not stop.is_set():
        _add_leads(bench, bench.plan.alert_feed)
        stop.wait(bench.plan.alert_poll_s)


def _wait_for(state: FakeSlackState, channel: str, needle: str, *, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in reversed(state.channel_messages(channel)):
            if needle in _text_of(message):
                return message
        time.sleep(0.005)
    raise RuntimeError(f"no alert with {needle} in {channel} within {timeout:g}s")


def _text_of(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks"), ensure_ascii=False)


def _posted(database: Path, ids: Sequence[int]) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        (count,) = conn.execute("SELECT count(*) FROM deliveries WHERE state = 'posted' AND clue_id BETWEEN ? AND ?",
                                (min(ids), max(ids))).fetchone()
    return int(count)


def _deliveries(database: Path, ids: Sequence[int], channel: str) -> list[int]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT id FROM deliveries WHERE channel_id = ? AND clue_id BETWEEN ? AND ?",
                            (channel, min(ids), max(ids))).fetchall()
    return [int(row[0]) for row in rows]


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
