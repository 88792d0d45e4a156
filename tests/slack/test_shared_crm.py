"""Nobody can take the CRM from the others (#25 item 4), through the real ASGI app and the sandbox CRM."""

from __future__ import annotations

from bot.dev.sandbox import SandboxServer
from bot.dev.sandbox.seed import CONVERTED_CLUE_IDS, DOC_CLUE_ID, RICH_CLUE_ID
from tests.slack.harness import SlackDriver


async def test_one_clue_the_crm_fails_on_does_not_open_the_breaker_for_everyone(
        slack: SlackDriver, sandbox: SandboxServer) -> None:
    """Five lookups of one id the CRM answers with HTTP 500 (CRM_BREAKER_FAILURES is 5): the breaker stays
    closed, and another person's lookup of another clue is answered with its card."""
    await slack.command(str(CONVERTED_CLUE_IDS[0]))  # reference data loaded: no success between the failures
    await slack.drain()
    sandbox.state.set_fault(DOC_CLUE_ID, status=500)
    for _ in range(5):
        await slack.command(str(DOC_CLUE_ID))
        await slack.drain()
    assert sandbox.state.stats().clue_gets[DOC_CLUE_ID] == 5
    assert slack.instance.crm.breaker_state == "closed"

    card = (await slack.command(str(RICH_CLUE_ID), user="U0OTHER001"))[0].json()
    await slack.drain()
    assert "张伟" in card["text"]
    assert sandbox.state.stats().clue_gets[RICH_CLUE_ID] == 1
