"""The playground's "Clue 8 changes stage": the sandbox CRM moves a watched clue along and pushes it to the
served app over loopback HTTP, signed and encrypted as the real CRM would; the push's recheck reads it at once
and the "what changed" reply arrives in #playground (scheduled checks are an hour apart here)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx

from bot.config import Settings
from bot.dev.launch import create_playground_app
from bot.dev.loopback import LoopbackServer
from bot.dev.playground.page import CHANNEL_ID
from bot.store.database import connect
from bot.store.watches import WatchStore

WAIT = 30.0  # seconds any one outcome may take on a loaded machine


def posted(http: httpx.Client) -> list[dict[str, Any]]:
    calls = http.get("/playground/messages", params={"since": 0}).json()["calls"]
    return [c["body"] for c in calls if c["name"] == "chat.postMessage"]


def first_read_done(url: str) -> bool:
    async def read() -> bool:
        db = connect(url)
        try:
            return all(w.fingerprint for w in await WatchStore(db, time.time).watches())
        finally:
            await db.aclose()

    return asyncio.run(read())


def wait_for(what: str, condition: Any) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_watched_clue_changing_stage_is_pushed_and_replied_in_the_channel(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'alerts.db'}"
    app = create_playground_app(Settings.from_env({"DATABASE_URL": url, "CLUE_ALERT_POLL_SECONDS": "0.2",
                                                   "CLUE_WATCH_CHECK_SECONDS": "3600"}))
    with LoopbackServer(app, lifespan="on") as server, httpx.Client(base_url=server.url, timeout=10) as http:
        ack = http.post("/playground/command", json={"text": "watch 8", "response_key": "w1", "viewer": "en"})
        assert "Watching clue 8" in json.dumps(ack.json())
        wait_for("the first read of clue 8", lambda: first_read_done(url))
        moved = http.post("/playground/stage", json={"clue": 8})
        assert moved.status_code == 200, moved.text
        assert moved.json()["stage"] == "意向明确" and moved.json()["answers"][0]["status"] == 200
        wait_for("the reply", lambda: len(posted(http)) == 1)
        [reply] = posted(http)
        assert reply["channel"] == CHANNEL_ID and "初步接触 → 意向明确" in json.dumps(reply, ensure_ascii=False)
        assert http.post("/playground/stage", json={"clue": 999_999}).status_code == 404
        assert http.post("/playground/stage", json={"clue": "8"}).status_code == 400
