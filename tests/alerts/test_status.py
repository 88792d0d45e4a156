"""``python -m bot alerts status`` lists what the alerts database holds, watches included."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.alerts.status import status
from bot.config import Settings
from bot.store.alerts import AlertStore
from bot.store.database import connect
from bot.store.watches import WatchStore


async def test_status_lists_subscriptions_and_watches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'alerts.db'}"
    db = connect(url)
    await db.migrate()
    await AlertStore(db, time.time).subscribe("T1", "C0SALES001", {}, "U0ALICE001")
    watches = WatchStore(db, time.time)
    await watches.watch("T1", "C0SALES001", 8, "U0ALICE001", "1700000000.000100")
    await watches.watch("T1", "C0OTHER001", 9, "U0BOB00001")
    await watches.record(8, "{}", "f")
    await watches.disable("C0OTHER001", "is_archived")
    await db.aclose()
    assert await status(Settings.from_env({"DATABASE_URL": url})) == 0
    out = capsys.readouterr().out
    assert "subscriptions: 1 (0 stopped)" in out
    assert "watches: 2 (1 stopped); changes: 0 pending, 0 posted" in out
    assert "clue 8 in C0SALES001 by U0ALICE001, checked 0 s ago, thread 1700000000.000100" in out
    assert "clue 9 in C0OTHER001 by U0BOB00001, not checked yet [stopped: is_archived]" in out
