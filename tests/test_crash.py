"""SIGKILL at the two dangerous points of delivery, and at seeded random moments of scan and delivery:
nothing lost, nothing half-written, the same webhook id. `make stress` runs ten times more random kills."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import scaled
from tests.invariants import check_db, check_deliveries

RUNNER = Path(__file__).resolve().parent / "crash_runner.py"
TYPES = ("model", "dataset", "space")


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


# --- SIGKILL at random moments ---------------------------------------------------------------------

RANDOM_RUNS = scaled(50, 500)
LEASE = 0.3  # the killed process's outbox lease, seconds


def _random_hub(sim: Any, rng: random.Random) -> set[str]:
    """A few leaks among noise over the last hour, in all three types; the leaks' ids."""
    now = datetime.now(UTC)
    leaks: set[str] = set()
    for i in range(rng.randint(1, 4)):
        repo_id = f"leaker{i}/sora-{rng.randint(1, 99)}-{i}"
        sim.add_repo(rng.choice(TYPES), repo_id, created_at=now - timedelta(minutes=rng.uniform(1, 59)))
        leaks.add(repo_id)
    for i in range(rng.randint(4, 16)):
        sim.add_repo(
            rng.choice(TYPES),
            f"user{i}/bert-finetune-{i}",
            created_at=now - timedelta(minutes=rng.uniform(1, 59)),
        )
    return leaks


@pytest.mark.timeout(120)
@pytest.mark.parametrize("seed", range(RANDOM_RUNS))
def test_sigkill_at_a_random_moment_loses_nothing(
    seed: int, sim: Any, receiver: Any, config_file: Path, make_scanner: Any
) -> None:
    """A scan subprocess is killed at a seeded random moment of its scan and delivery (pages of 2,
    a slightly slow Hub, a receiver that is sometimes slow or failing). Right after the kill the
    database is sound with no half-written rows; after a restart every leak has exactly one hit and
    reached the receiver under one stable webhook-id (duplicates of that id are allowed)."""
    rng = random.Random(seed)
    leaks = _random_hub(sim, rng)
    sim.latency(rng.choice([0.0, 0.01, 0.03]), path=r"^/api/", times=None)
    receiver.delay = rng.choice([0.0, 0.0, 0.05, 0.2])
    if rng.random() < 0.3:
        receiver.fail_next([rng.choice([500, 502, 503, 429])] * rng.randint(1, 2))
    env = {**os.environ, "LEAKMON_TEST_PAGE_SIZE": "2", "LEAKMON_TEST_LEASE": str(LEASE)}
    proc = subprocess.Popen(
        [sys.executable, str(RUNNER), str(config_file), "normal"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        try:  # the kill lands anywhere in listing, matching, recording and delivering
            proc.wait(timeout=rng.uniform(0.0, 0.8))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    db = config_file.parent / "leakmon.db"
    state = check_db(db, ("security",))
    check_deliveries(receiver, state, "security", complete=False, allowed=leaks)

    time.sleep(LEASE + 0.05)  # rows the dead process was sending become due again
    sim.clear_faults()
    receiver.delay = 0.0
    scanner = make_scanner(config_file, delivery_wait=2.0)
    for _ in range(10):
        result = scanner.run_once()
        if result.ok and scanner.store.outbox_counts()["pending"] == 0:
            break
    else:
        raise AssertionError(f"not recovered: {scanner.store.outbox_counts()}")
    state = check_db(db, ("security",))
    assert sorted(h[3] for h in state["hits"]) == sorted(leaks)
    assert all(row[5] == "delivered" for row in state["outbox"])
    check_deliveries(receiver, state, "security", complete=True, allowed=leaks)
