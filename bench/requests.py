"""Raw HTTP/1.1 requests the load drivers send: signed Slack commands and events, signed CRM reads.

Each request is built once as the exact bytes on the wire, so wrk (via its Lua script) and the Python
driver send identical traffic. Slack signatures carry a timestamp Bolt accepts for 5 minutes, so build
requests right before each run.
"""

from __future__ import annotations

import time
from typing import Any

from bot.config import SANDBOX_APP_ID, SANDBOX_APP_KEY
from bot.crm.client import CLUE_GET, SEARCH, encode_body
from bot.crm.signing import sign as crm_sign
from bot.dev import slack_requests

TEAM = "T0BENCH001"
CHANNEL = "C0BENCH001"
USER = "U0BENCH001"
APP_ID = "A0CLUE0001"
CLUE_URL = "https://crm.example.com/clues/{id}"  # clue bot's default CLUE_URL_TEMPLATE
SLACK_PATH = "/slack/events"


def raw_post(host: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One keep-alive POST as bytes on the wire."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def slack_post(host: str, request: slack_requests.SignedRequest) -> bytes:
    return raw_post(host, SLACK_PATH, request.body, request.headers)


def clue_command(host: str, secret: str, text: str, response_url: str, *, user: str = USER,
                 channel: str = CHANNEL) -> bytes:
    """A signed ``/clue <text>`` slash command; ``response_url`` must point at the fake Slack."""
    form = {"token": "legacy-bench-token", "team_id": TEAM, "team_domain": "bench", "channel_id": channel,
            "channel_name": "bench", "user_id": user, "user_name": "bench", "command": "/clue", "text": text,
            "api_app_id": APP_ID, "is_enterprise_install": "false", "response_url": response_url,
            "trigger_id": "1000.2000.bench"}
    return slack_post(host, slack_requests.slash_command(secret, form))


def button_click(host: str, secret: str, action_id: str, value: str, response_url: str, *, channel: str,
                 user: str = USER) -> bytes:
    """A signed ``block_actions`` click on a button of an ephemeral card in ``channel``."""
    container = {"type": "message", "message_ts": "1700000000.000100", "channel_id": channel, "is_ephemeral": True}
    payload = slack_requests.button_click(team=TEAM, user=user, action_id=action_id, value=value,
                                          trigger_id="1000.2000.bench", api_app_id=APP_ID, channel=channel,
                                          response_url=response_url, container=container, team_domain="bench",
                                          user_name="bench")
    return slack_post(host, slack_requests.interaction(secret, payload))


def link_shared_event(host: str, secret: str, event_id: str, clue_id: int, seq: int) -> bytes:
    """A signed ``link_shared`` event_callback for one clue link, in a posted message."""
    ts = f"{1_700_000_000 + seq}.000100"
    url = CLUE_URL.format(id=clue_id)
    body = {
        "token": "legacy-bench-token", "team_id": TEAM, "api_app_id": APP_ID, "type": "event_callback",
        "event_id": event_id, "event_time": 1_700_000_000 + seq, "is_ext_shared_channel": False,
        "event": {"type": "link_shared", "channel": CHANNEL, "user": USER, "message_ts": ts,
                  "source": "conversations_history", "is_bot_user_member": True, "event_ts": ts,
                  "links": [{"domain": "crm.example.com", "url": url}]},
    }
    return slack_post(host, slack_requests.event_callback(secret, body))


def home_opened(host: str, secret: str, user: str, event_id: str) -> bytes:
    """A signed ``app_home_opened`` event_callback: the person opened the app's Home tab (Slack's published event:
    ``user``, their DM ``channel``, ``tab``, ``event_ts``)."""
    now = time.time()
    body = {
        "token": "legacy-bench-token", "team_id": TEAM, "api_app_id": APP_ID, "type": "event_callback",
        "event_id": event_id, "event_time": int(now),
        "event": {"type": "app_home_opened", "user": user, "channel": f"D{user[1:]}", "tab": "home",
                  "event_ts": f"{now:.6f}"},
    }
    return slack_post(host, slack_requests.event_callback(secret, body))


def home_pick(host: str, secret: str, user: str, action_id: str, block_id: str, option: dict[str, Any],
              view: dict[str, Any]) -> bytes:
    """A signed ``block_actions``: ``option`` picked in the static_select ``action_id`` of the person's Home tab
    (``view`` as Slack holds it)."""
    element = slack_requests.select_element(action_id, option, block_id=block_id, kind="static_select")
    sender = slack_requests.Sender(TEAM, user, APP_ID, team_domain="bench", user_name="bench")
    return slack_post(host, slack_requests.interaction(
        secret, slack_requests.view_actions(sender, element, trigger_id="1000.2000.bench", view=view)))


def crm_clue_get(host: str, clue_id: int) -> bytes:
    """A clue/get signed exactly as clue bot's CRM client signs it (the sandbox checks a 5-minute window)."""
    return crm_post(host, CLUE_GET, {"customerId": clue_id})


def crm_search(host: str, key: str, page_no: int = 1, page_size: int = 10) -> bytes:
    """A customer/search as clue bot sends it for a pick list."""
    return crm_post(host, SEARCH, {"searchKey": key, "pageNo": page_no, "pageSize": page_size})


def crm_post(host: str, path: str, payload: dict[str, object]) -> bytes:
    body = encode_body(payload)
    return raw_post(host, path, body, crm_headers(body))


def crm_headers(body: bytes) -> dict[str, str]:
    """The headers of one signed CRM request (the sandbox's app id and key), timestamped now."""
    timestamp = str(time.time_ns() // 1_000_000)
    return {"Content-Type": "application/json", "appId": SANDBOX_APP_ID, "timestamp": timestamp,
            "sign": crm_sign(SANDBOX_APP_ID, timestamp, body, SANDBOX_APP_KEY)}
