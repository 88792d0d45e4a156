"""The command line against the sandbox CRM: ``main(argv)`` in this process, and once as ``python -m bot``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from slack_sdk.models.metadata import EntityMetadata

from bot.config import SANDBOX_APP_ID, SANDBOX_APP_KEY
from bot.dev.sandbox import SandboxServer
from tests.blockkit import assert_valid_blocks
from tests.support import run_cli as run

ROOT = Path(__file__).resolve().parents[1]


def crm_env(sandbox: SandboxServer) -> dict[str, str]:
    return {"CRM_BASE_URL": sandbox.url, "CRM_APP_ID": SANDBOX_APP_ID, "CRM_APP_KEY": SANDBOX_APP_KEY}


def test_python_m_bot_runs_the_command_line_and_exits_with_its_status(sandbox: SandboxServer) -> None:
    """The one real interpreter (the other cases call ``main`` in this process): ``python -m bot`` reaches
    the CRM and ends with main's status and its one-line message, no traceback."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CRM_", "CLUE_", "REDIS_"))}
    result = subprocess.run([sys.executable, "-m", "bot", "clue", "404"], capture_output=True, text=True,
                            timeout=60, cwd=ROOT, env={**clean, **crm_env(sandbox)}, check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("clue bot: ") and "not found" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert sandbox.state.stats().clue_gets == {404: 1}


def test_clue_json(sandbox: SandboxServer) -> None:
    result = run("clue", "8", "--json", env=crm_env(sandbox))
    assert result.returncode == 0, result.stderr
    clue = json.loads(result.stdout)
    assert clue["id"] == 8 and clue["name"] == "打马赛克就"
    assert clue["stage"]["text"] == "初步接触"


def test_clue_text_masks_the_phone(sandbox: SandboxServer) -> None:
    result = run("clue", "8", env=crm_env(sandbox))
    assert result.returncode == 0, result.stderr
    assert "打马赛克就" in result.stdout and "初步接触" in result.stdout
    assert "145678388" not in result.stdout


def test_clue_uses_the_embedded_sandbox_without_configuration() -> None:
    result = run("clue", "410983932389440", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"] == 410983932389440


def test_card_message_and_unfurl_are_valid_block_kit(sandbox: SandboxServer) -> None:
    message = json.loads(run("card", "8", env=crm_env(sandbox)).stdout)
    assert set(message) == {"text", "blocks"}
    assert_valid_blocks(message["blocks"])
    unfurl = json.loads(run("card", "8", "--unfurl", "--locale", "zh", env=crm_env(sandbox)).stdout)
    assert set(unfurl) == {"blocks"}
    assert_valid_blocks(unfurl["blocks"])
    assert "145678388" not in json.dumps(unfurl)


def test_card_work_object_prints_the_entity_metadata(sandbox: SandboxServer) -> None:
    result = run("card", "1", "--work-object", "--locale", "zh", env=crm_env(sandbox))
    assert result.returncode == 0, result.stderr
    metadata = json.loads(result.stdout)
    assert EntityMetadata(**metadata).to_dict() == metadata
    assert metadata["entity_type"] == "slack#/entities/item"
    assert metadata["external_ref"] == {"id": "1", "type": "clue"}
    assert metadata["entity_payload"]["attributes"]["title"]["text"] == "张伟"
    fields = {f["key"]: f for f in metadata["entity_payload"]["custom_fields"]}
    assert fields["next_follow_up"]["type"] == "slack#/types/timestamp"
    assert "13812345678" not in result.stdout
    assert fields["overdue"]["label"] == "已逾期"  # the seed's next follow-up (2025-03-11) is past
    # CLUE_DUE_FIELD reaches the Work Object here too: a due field the tenant does not have shows none.
    other = run("card", "1", "--work-object", env={**crm_env(sandbox), "CLUE_DUE_FIELD": "回访时间"})
    keys = {f["key"] for f in json.loads(other.stdout)["entity_payload"]["custom_fields"]}
    assert "next_follow_up" not in keys and "overdue" not in keys


def test_errors_are_one_line_and_non_zero(sandbox: SandboxServer) -> None:
    junk = run("clue", "abc", env=crm_env(sandbox))
    assert junk.returncode == 1 and junk.stderr.count("\n") == 1 and "abc" in junk.stderr
    missing = run("clue", "404", env=crm_env(sandbox))
    assert missing.returncode == 1 and "not found" in missing.stderr
    assert sandbox.state.stats().clue_gets == {404: 1}


def test_bad_configuration_lists_every_problem() -> None:
    result = run("clue", "8", env={"CRM_BASE_URL": "ftp://x", "CRM_TIMEOUT_SECONDS": "soon", "LOG_LEVEL": "LOUD"})
    assert result.returncode == 2
    for needle in ("CRM_BASE_URL", "CRM_APP_ID", "CRM_APP_KEY", "CRM_TIMEOUT_SECONDS", "LOG_LEVEL"):
        assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_search_pages_and_json(sandbox: SandboxServer) -> None:
    text = run("search", "+86", "139-0013-0000", env=crm_env(sandbox))
    assert text.returncode == 0, text.stderr
    assert "101" in text.stdout and "张三" in text.stdout
    page = run("search", "13900130", "--page", "2", "--json", env=crm_env(sandbox))
    assert page.returncode == 0, page.stderr
    data = json.loads(page.stdout)
    assert data["page"] == 2 and [h["customer_id"] for h in data["hits"]] == [111, 112]
    assert "13900130" not in json.dumps(data["query"])  # the query is described, not repeated


def test_search_refuses_what_it_cannot_search(sandbox: SandboxServer) -> None:
    result = run("search", "z", env=crm_env(sandbox))
    assert result.returncode == 1 and result.stdout == ""
    assert "type at least 2 letters" in result.stderr and "too_short" not in result.stderr  # words, not codes


def test_an_unusable_redis_url_is_a_one_line_configuration_error() -> None:
    for url in ("redis://:hunter2-secret@127.0.0.1:99999/0", "redis://127.0.0.1:6379/zero", "unix://"):
        result = run("serve", env={"REDIS_URL": url, "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32})
        assert result.returncode == 2, result.stderr
        problems = [line for line in result.stderr.splitlines() if "REDIS_URL" in line]
        assert len(problems) == 1, result.stderr
        assert "Traceback" not in result.stderr and "hunter2" not in result.stderr


def test_followups_text_and_json_walk_every_page(sandbox: SandboxServer) -> None:
    from bot.dev.sandbox import seed

    lines = run("followups", str(seed.LONG_ID_CLUE_ID), env=crm_env(sandbox)).stdout.splitlines()
    assert len(lines) == 25  # three CRM pages of at most ten
    assert lines[0].startswith("2025-03-05T18:30+08:00  张三  [note]  电话沟通需求")
    items = json.loads(run("followups", "8", "--json", env=crm_env(sandbox)).stdout)
    assert [(i["id"], i["kind"], i["note"], i["operator"]) for i in items] == [
        ("430000000000801", 1, "u 诶IE", "张三")]
