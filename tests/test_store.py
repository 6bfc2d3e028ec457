"""The store on real SQLite files: WAL, uniqueness, atomic hit+outbox, cursors, leases."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.errors import StoreError
from monitor.records import Match, Repo
from monitor.store import NewHit, Store, iso

T0 = datetime(2024, 11, 26, 13, 9, 54, tzinfo=UTC)


def new_hit(
    repo_id: str = "PR-Puppets/PR-Puppet-Sora", notifiers: tuple[str, ...] = ("security", "ops")
) -> NewHit:
    repo = Repo(
        "space",
        repo_id,
        T0,
        author=repo_id.split("/")[0],
        title="PR Puppet Sora",
        raw={"id": repo_id, "createdAt": "2024-11-26T13:09:54.000Z"},
    )
    match = Match("sora", "term", "repo_id", "sora", repo.name, 1.0)
    return NewHit("sora", "critical", repo, f"https://huggingface.co/spaces/{repo_id}", [match], notifiers)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "state" / "leakmon.db")
    yield s
    s.close()


def test_open_sets_wal_and_schema(store: Store) -> None:
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    from monitor.store import MIGRATIONS

    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert {"hits", "outbox", "scans", "cursors", "attempts"} <= set(store.db.table_names())


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE stuff (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a leakmon database"):
        Store.open(path)
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open database"):
        Store.open(tmp_path / "junk.db")


def test_hit_is_recorded_once_with_its_outbox(store: Store) -> None:
    scan = store.start_scan(T0)
    assert len(store.record_hits(scan, [new_hit()], now=T0)) == 1
    assert store.record_hits(scan, [new_hit()], now=T0 + timedelta(minutes=5)) == []
    hits = store.list_hits()
    assert len(hits) == 1
    assert hits[0]["first_seen"] == iso(T0) and hits[0]["last_seen"] == iso(T0 + timedelta(minutes=5))
    assert hits[0]["matches"][0]["text"] == "PR-Puppet-Sora"
    rows = store.outbox_rows()
    assert sorted(r["notifier"] for r in rows) == ["ops", "security"]
    assert len({r["webhook_id"] for r in rows}) == 2


def test_hit_and_outbox_share_one_transaction(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two outbox rows with the same webhook id violate UNIQUE: the hit must vanish with them.
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=7))
    with pytest.raises(sqlite3.IntegrityError):
        store.record_hits(None, [new_hit()], now=T0)
    assert store.list_hits() == []
    assert store.outbox_rows() == []
    assert not store.conn.in_transaction


def test_cursor_never_moves_back(store: Store) -> None:
    store.set_cursor("model", T0, None)
    store.set_cursor("model", T0 - timedelta(hours=1), None)
    assert store.get_cursor("model") == T0
    store.set_cursor("model", T0 + timedelta(seconds=1), None)
    assert store.get_cursor("model") == T0 + timedelta(seconds=1)
    assert store.get_cursor("space") is None


def test_claim_leases_rows(store: Store, tmp_path: Path) -> None:
    store.record_hits(None, [new_hit(notifiers=("security",))], now=T0)
    lease = timedelta(seconds=60)
    other = Store.open(store.path)  # a second process sharing the file
    try:
        first = store.claim_due(T0, lease)
        assert [i.notifier for i in first] == ["security"]
        assert other.claim_due(T0 + timedelta(seconds=1), lease) == []  # leased
        again = other.claim_due(T0 + timedelta(seconds=61), lease)  # lease expired: at-least-once
        assert [i.webhook_id for i in again] == [first[0].webhook_id]
        other.record_attempt(again[0].id, ok=True, at=T0 + timedelta(seconds=62), status_code=204)
        assert store.claim_due(T0 + timedelta(days=1), lease) == []
        assert store.outbox_counts() == {"pending": 0, "delivered": 1, "dead": 0}
    finally:
        other.close()


def test_evidence_is_bounded(store: Store) -> None:
    hit = new_hit()
    big = Repo("space", hit.repo.repo_id, T0, raw={"cardData": {"text": "x" * 500_000}})
    store.record_hits(None, [NewHit("sora", "critical", big, hit.url, hit.matches, ())], now=T0)
    stored = store.conn.execute("SELECT length(repo) FROM hits").fetchone()[0]
    assert stored < 70_000
    assert store.list_hits()[0]["repo"]["truncated"] is True


def test_hub_text_with_a_lone_surrogate_is_recorded(store: Store) -> None:
    """JSON "\\ud800" decodes to a lone surrogate, which SQLite cannot store: the hit's INSERT raised
    UnicodeEncodeError and the scan failed on that repo every time (a card title can carry one)."""
    import json

    item = json.loads('{"id": "x/video-app", "cardData": {"title": "Sora \\ud800 demo"}}')
    repo = Repo("space", "x/video-app\udcff", T0, author="x\ud800", title=item["cardData"]["title"], raw=item)
    match = Match("sora", "term", "title", "sora", repo.title or "", 1.0)
    hit = NewHit("sora", "high", repo, "https://huggingface.co/spaces/x/video-app\udcff", [match], ["a"])
    scan_id = store.start_scan(T0)
    (hit_id,) = store.record_hits(scan_id, [hit], now=T0)
    assert store.record_hits(scan_id, [hit], now=T0) == []  # the same repo again: still one hit
    row = store.get_hit(hit_id)
    assert row is not None
    assert row["repo_id"] == "x/video-app?" and row["author"] == "x?"
    assert row["matches"][0]["text"] == "Sora ? demo"
    assert row["repo"]["cardData"]["title"] == "Sora ? demo"
    assert store.outbox_counts()["pending"] == 1
