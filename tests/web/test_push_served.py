"""The CRM push on a real uvicorn: hostile bodies on raw sockets, and the sandbox CRM registering and pushing
to the app over loopback, as the real CRM would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from bot.dev.loopback import LoopbackServer
from bot.dev.playground.fake_slack import FakeSlackState
from bot.dev.sandbox import SandboxServer
from bot.web.app import create_web_app
from tests.redis_server import free_port
from tests.slack.harness import slack_settings
from tests.support import run_cli
from tests.web.test_hostile_http import (
    assert_dropped_at_the_deadline,
    connect,
    hex_chunk,
    read_response,
    send_until_refused,
    wait_for,
)
from tests.web.test_push import vendor_headers

PUSH_LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def served(sandbox_server: SandboxServer,
           fake_slack_server: tuple[LoopbackServer, FakeSlackState]) -> Iterator[tuple[str, Starlette]]:
    app = create_web_app(slack_settings(sandbox_server.url, fake_slack_server[0].url, CRM_PUSH_ENABLED="true"))
    with LoopbackServer(app, lifespan="on") as server:
        yield server.url, app


def pushes(app: Starlette) -> dict[str, int]:
    return {values[0]: count for values, count in app.state.instance.metrics.crm_pushes._counts.items()}


def test_an_unsigned_chunked_body_is_refused_before_a_byte_of_it_is_read(served: tuple[str, Starlette]) -> None:
    url, _ = served
    with connect(url, {}, chunked=True, path="/crm/push") as sock:
        assert read_response(sock) == (401, True)
    with connect(url, {**vendor_headers(), "sign": "0" * 64}, length=100 * 1024 * 1024, path="/crm/push") as sock:
        assert read_response(sock) == (401, True)


def test_a_signed_endless_body_stops_at_the_push_limit(served: tuple[str, Starlette]) -> None:
    url, _ = served
    with connect(url, vendor_headers(), chunked=True, path="/crm/push") as sock:
        sent = send_until_refused(sock, hex_chunk(64 * 1024), 64 * 1024 * 1024)
        status, closed = read_response(sock)
    assert (status, closed) == (413, True)
    assert sent < 32 * 1024 * 1024, sent
    for size, expected in ((PUSH_LIMIT, 400), (PUSH_LIMIT + 1, 413)):  # at the limit: read, then not Base64
        with connect(url, vendor_headers(), chunked=True, path="/crm/push") as sock:
            sock.sendall(hex_chunk(size - 1) + hex_chunk(1) + b"0\r\n\r\n")
            assert read_response(sock)[0] == expected, size


def sandbox_push(sandbox: SandboxServer, **args: Any) -> list[dict[str, Any]]:
    response = httpx.post(f"{sandbox.origin}/_sandbox/push", json=args, timeout=10)
    assert response.status_code == 200, response.text
    answers: list[dict[str, Any]] = response.json()["answers"]
    return answers


def test_register_then_a_replayed_push_from_the_sandbox_crm(served: tuple[str, Starlette],
                                                            sandbox: SandboxServer) -> None:
    url, app = served
    before = pushes(app)
    env = {"CRM_BASE_URL": sandbox.url, "CRM_APP_ID": "wwsandboxcorp0001_ClueBot",
           "CRM_APP_KEY": "sandbox-app-key-not-a-secret", "CRM_PUSH_ENABLED": "true"}
    registered = run_cli("push-register", f"{url}/crm/push", env=env)
    assert registered.returncode == 0, registered.stderr
    assert registered.stderr == "" and "registered" in registered.stdout
    assert sandbox.app.pusher.address == f"{url}/crm/push"
    assert sandbox.app.pusher.subscription == ("register", "new_qw_customer", "edit_qw_customer", "tag_info")
    # The CRM confirms with a register push, after answering push-register.
    assert wait_for(lambda: pushes(app).get("register", 0) == before.get("register", 0) + 1)

    answers = sandbox_push(sandbox, type="tag_info", customerId="8", times=2)
    noise = answers[0]["noise"]
    assert noise > 2**53
    assert [(a["status"], a["body"]) for a in answers] == [(200, str(noise))] * 2
    assert wait_for(lambda: pushes(app).get("replayed", 0) == before.get("replayed", 0) + 1)
    time.sleep(0.1)  # nothing else is coming
    assert pushes(app).get("applied", 0) == before.get("applied", 0) + 1


def test_push_register_wants_https_and_says_what_is_off(sandbox: SandboxServer) -> None:
    env = {"CRM_BASE_URL": sandbox.url, "CRM_APP_ID": "wwsandboxcorp0001_ClueBot",
           "CRM_APP_KEY": "sandbox-app-key-not-a-secret"}
    refused = run_cli("push", "register", "http://bot.example.com/crm/push", env=env)
    assert refused.returncode == 1 and "https://" in refused.stderr
    assert sandbox.app.pusher.address != "http://bot.example.com/crm/push"
    # A port nobody listens on: the sandbox's confirming push fails at once, nothing leaves this machine.
    noted = run_cli("push", "register", f"https://127.0.0.1:{free_port()}/hooks", "--types", "register,tag_info",
                    env=env)
    assert noted.returncode == 0
    assert "CRM_PUSH_PATH" in noted.stderr and "CRM_PUSH_ENABLED" in noted.stderr
    assert sandbox.app.pusher.subscription == ("register", "tag_info")


def test_a_slow_signed_body_is_dropped_at_the_deadline(sandbox: SandboxServer,
                                                       fake_slack: tuple[str, FakeSlackState]) -> None:
    app = create_web_app(slack_settings(sandbox.url, fake_slack[0], CRM_PUSH_ENABLED="true",
                                        SLACK_BODY_TIMEOUT_SECONDS="1"))
    with LoopbackServer(app, lifespan="on") as server, \
            connect(server.url, vendor_headers(), length=1000, path="/crm/push") as sock:
        assert_dropped_at_the_deadline(sock)
