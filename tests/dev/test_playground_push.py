"""The playground's "CRM pushes an edit": the sandbox CRM edits clue 1 and pushes it to the served app over
loopback HTTP, signed and encrypted as the real CRM would; the next /clue 1 shows the edit at once."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from bot.config import Settings
from bot.dev.launch import create_playground_app
from bot.dev.loopback import LoopbackServer


def command(http: httpx.Client, text: str, key: str) -> dict[str, Any]:
    answer = http.post("/playground/command", json={"text": text, "response_key": key, "viewer": "en"})
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def test_the_crm_pushes_an_edit_and_the_next_card_shows_it() -> None:
    app = create_playground_app(Settings())
    with LoopbackServer(app, lifespan="on") as server, httpx.Client(base_url=server.url, timeout=10) as http:
        before = command(http, "1", "k1")
        assert "Clue 1" in json.dumps(before) and "✎" not in json.dumps(before, ensure_ascii=False)  # now cached
        pushed = http.post("/playground/push", json={"customerId": 1})
        assert pushed.status_code == 200, pushed.text
        answer = pushed.json()["answers"][0]
        assert (answer["status"], answer["body"]) == (200, str(answer["noise"]))
        for attempt in range(20):  # the push is applied on the app's loop, after its answer
            time.sleep(0.05 * attempt)
            after = command(http, "1", f"k{attempt + 2}")
            if "✎" in json.dumps(after, ensure_ascii=False):
                break
        else:
            raise AssertionError("the pushed edit never reached the card")
        assert http.post("/playground/push", json={"customerId": 404}).status_code == 400
