"""SIGKILL at the two dangerous points of delivery: nothing lost, nothing half-written, same webhook id."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

RUNNER = Path(__file__).resolve().parent / "crash_runner.py"


def run(config_file: Path, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUNNER), str(config_file), mode], capture_output=True, text=True, timeout=60
    )


def db_rows(config_file: Path) -> dict[str, Any]:
    conn = sqlite3.connect(config_file.parent / "leakmon.db")
    try:
        return {
            "integrity": conn.execute("PRAGMA integrity_check").fetchone()[0],
            "hits": conn.execute("SELECT repo_id FROM hits").fetchall(),
            "outbox": conn.execute("SELECT status, webhook_id FROM outbox").fetchall(),
            "cursors": conn.execute("SELECT repo_type FROM cursors").fetchall(),
            "scans": conn.execute("SELECT outcome FROM scans ORDER BY id").fetchall(),
        }
    finally:
        conn.close()


def test_kill_between_2xx_and_outbox_update_redelivers_under_the_same_id(
    sim: Any, receiver: Any, config_file: Path
) -> None:
    sim.add_repo("space", "PR-Puppets/PR-Puppet-Sora", created_at=datetime.now(UTC) - timedelta(hours=1))
    killed = run(config_file, "after-send")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert len(receiver.accepted()) == 1  # the receiver has it; leakmon never learnt so
    state = db_rows(config_file)
    assert state["integrity"] == "ok" and state["outbox"][0][0] == "pending"

    time.sleep(1.2)  # the dead process's lease on the row expires
    done = run(config_file, "normal")
    assert done.returncode == 0, done.stderr
    first, second = receiver.accepted()
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == state["outbox"][0][1]
    assert first.body == second.body
    after = db_rows(config_file)
    assert after["integrity"] == "ok"
    assert after["hits"] == [("PR-Puppets/PR-Puppet-Sora",)]
    assert after["outbox"] == [("delivered", state["outbox"][0][1])]
    assert [s[0] for s in after["scans"]] == ["interrupted", "ok"]


def test_kill_inside_the_hit_transaction_leaves_no_half_rows(
    sim: Any, receiver: Any, config_file: Path
) -> None:
    sim.add_repo("space", "PR-Puppets/PR-Puppet-Sora", created_at=datetime.now(UTC) - timedelta(hours=1))
    killed = run(config_file, "mid-hit")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    state = db_rows(config_file)
    assert state["integrity"] == "ok"
    assert state["hits"] == [] and state["outbox"] == []  # the hit went with its outbox rows
    assert receiver.deliveries == []

    done = run(config_file, "normal")
    assert done.returncode == 0, done.stderr
    after = db_rows(config_file)
    assert after["hits"] == [("PR-Puppets/PR-Puppet-Sora",)]
    assert [s for s, _ in after["outbox"]] == ["delivered"]
    assert len(receiver.accepted()) == 1
