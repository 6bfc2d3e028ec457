"""Checks shared by the stress tests (state machine, crash runs, load): read the database file with
plain sqlite3, and the webhook receivers' records, and assert what must always hold.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any


def read_db(path: Path) -> dict[str, Any]:
    """The rows the invariants need, read with a separate connection (as another process would)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "hits" not in tables:  # killed before the schema was written: nothing else can be either
            return {"integrity": _integrity(conn), "hits": [], "outbox": [], "cursors": {}}
        return {
            "integrity": _integrity(conn),
            "hits": conn.execute("SELECT id, watch, repo_type, repo_id FROM hits ORDER BY id").fetchall(),
            "outbox": conn.execute(
                "SELECT id, hit_id, notifier, event, webhook_id, status FROM outbox ORDER BY id"
            ).fetchall(),
            "cursors": dict(conn.execute("SELECT repo_type, created_at FROM cursors").fetchall()),
        }
    finally:
        conn.close()


def _integrity(conn: sqlite3.Connection) -> str:
    return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))


def check_db(path: Path, notifiers: tuple[str, ...]) -> dict[str, Any]:
    """No half-written rows: the file is sound, each hit has exactly one `hit.created` row per notifier,
    each outbox row belongs to a hit, each repo has at most one hit per watch. Returns read_db()."""
    state = read_db(path)
    assert state["integrity"] == "ok", state["integrity"]
    hit_ids = {h[0] for h in state["hits"]}
    per_hit: dict[int, list[str]] = defaultdict(list)
    for _, hit_id, notifier, event, webhook_id, _status in state["outbox"]:
        assert hit_id in hit_ids, f"outbox row for missing hit {hit_id}"
        assert webhook_id.startswith("msg_")
        if event == "hit.created":
            per_hit[hit_id].append(notifier)
    for hit_id in hit_ids:
        assert sorted(per_hit[hit_id]) == sorted(notifiers), f"hit {hit_id} has outbox rows {per_hit[hit_id]}"
    keys = [(h[1], h[2], h[3]) for h in state["hits"]]
    assert len(keys) == len(set(keys)), "a repo was recorded twice for one watch"
    return state


def check_deliveries(
    receiver: Any, state: dict[str, Any], notifier: str, *, complete: bool, allowed: set[str] | None = None
) -> None:
    """What one webhook receiver got: every request signed; every alert for a recorded hit of an
    `allowed` repo, under the webhook-id of that hit's outbox row for this notifier, one id per repo.
    With `complete`, every hit arrived (at least once: duplicates of the same id are allowed)."""
    hits = {h[0]: h[3] for h in state["hits"]}
    ids = {(row[1], row[2]): row[4] for row in state["outbox"] if row[3] == "hit.created"}
    seen: dict[str, set[str]] = defaultdict(set)
    for d in receiver.deliveries:
        assert d.verified, "an unsigned or badly signed request"
        data = d.json["data"]
        repo_id = data["repo_id"]
        if allowed is not None:
            assert repo_id in allowed, f"an alert for a repo that must not alert: {repo_id}"
        assert hits.get(data["id"]) == repo_id, f"an alert for no recorded hit: {data}"
        assert d.headers["webhook-id"] == ids[(data["id"], notifier)], "webhook-id differs from the outbox's"
        seen[repo_id].add(d.headers["webhook-id"])
    assert all(len(v) == 1 for v in seen.values()), f"one alert under several webhook-ids: {dict(seen)}"
    if complete:
        accepted = {d.json["data"]["repo_id"] for d in receiver.accepted()}
        missing = set(hits.values()) - accepted
        assert not missing, f"{notifier}: never received {sorted(missing)}"
