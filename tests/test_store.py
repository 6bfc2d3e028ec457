"""The store on real SQLite files: WAL, uniqueness, atomic hit+outbox, cursors, leases."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import StoreError, UnknownHit
from monitor.records import Match, Repo, Suppression
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


# --- schema 4: triage, evidence, suppressions ---------------------------------------------------


def test_migration_from_schema_3_keeps_the_outbox_and_lets_an_event_repeat(tmp_path: Path) -> None:
    from monitor.store import MIGRATIONS

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:3], start=1):
        conn.executescript(script)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.execute(
        "INSERT INTO hits (id, watch, repo_type, repo_id, url, severity, first_seen, last_seen, matches)"
        " VALUES (1, 'sora', 'space', 'a/sora', ?, 'critical', ?, ?, '[]')",
        ("https://huggingface.co/spaces/a/sora", iso(T0), iso(T0)),
    )
    conn.execute(
        "INSERT INTO outbox (id, hit_id, notifier, event, webhook_id, created_at, next_attempt_at, status,"
        " digest_id) VALUES (7, 1, 'security', 'hit.created', 'msg_old', ?, ?, 'delivered', 'msg_d')",
        (iso(T0), iso(T0)),
    )
    conn.execute("INSERT INTO attempts (outbox_id, at, ok, status_code) VALUES (7, ?, 1, 204)", (iso(T0),))
    conn.commit()
    conn.close()

    with Store.open(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 5
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        (row,) = store.outbox_rows(("delivered",))
        assert (row["id"], row["webhook_id"], row["digest_id"], row["data"]) == (7, "msg_old", "msg_d", None)
        assert [a["status_code"] for a in store.attempts_for(7)] == [204]
        # The same (hit, notifier, event) twice: a hit removed and re-uploaded twice alerts twice.
        for _ in range(2):
            assert store.mark_removed(1, ["security"], now=T0)
            assert store.reopen_hit(1, ["security"], note="back", now=T0)
        events = [r["event"] for r in store.outbox_rows(("pending",))]
        assert events == ["hit.removed", "hit.reopened"] * 2
        indexes = {r[1] for r in store.conn.execute("PRAGMA index_list(outbox)")}
        assert {"outbox_due", "outbox_digest", "outbox_hit"} <= indexes


def realistic_evidence() -> dict[str, Any]:
    return {
        "captured_at": "2024-11-26T13:10:02Z",
        "repo": {"id": "PR-Puppets/PR-Puppet-Sora", "sdk": "gradio", "likes": 12, "private": False},
        "files": [
            {"path": ".gitattributes", "size": 1519, "sha256": None, "lfs": False},
            {"path": "app.py", "size": 4211, "sha256": None, "lfs": False},
            {"path": "sora-weights.safetensors", "size": 7_340_032_000, "sha256": "ab" * 32, "lfs": True},
        ],
        "files_truncated": False,
        "card": {"path": "README.md", "text": "---\ntitle: PR Puppet Sora\n---\n# Sora API access\n"},
        "app": {"path": "app.py", "text": "import gradio as gr\nAPI = 'https://video.internal.example'\n"},
        "findings": [
            {"rule": "content", "file": "app.py", "line": 2, "text": "API = 'https://video.internal.example'"}
        ],
        "errors": [],
    }


def test_evidence_is_stored_as_given_when_it_fits(store: Store) -> None:
    (hit_id,) = store.record_hits(None, [new_hit()], now=T0)
    assert store.get_evidence(hit_id) is None and store.get_hit(hit_id, evidence=True)["evidence"] is None
    assert "evidence" not in store.get_hit(hit_id)  # listings never read it
    evidence = realistic_evidence()
    stored = store.set_evidence(hit_id, evidence)
    assert stored == len(json.dumps(evidence, ensure_ascii=False, separators=(",", ":")).encode())
    assert store.get_evidence(hit_id) == evidence
    with pytest.raises(UnknownHit):
        store.set_evidence(999, evidence)


def test_evidence_is_bounded_largest_texts_first(store: Store) -> None:
    (hit_id,) = store.record_hits(None, [new_hit()], now=T0)
    evidence = realistic_evidence()
    evidence["card"]["text"] = "# card\n" + "é" * 300_000  # 600 KB of UTF-8
    evidence["app"]["text"] = "x = 1\n" * 10_000  # 60 KB
    evidence["errors"] = ["lone surrogate \ud800 in a path"]
    assert store.set_evidence(hit_id, evidence) <= 256 * 1024
    raw = store.conn.execute("SELECT evidence FROM hits WHERE id = ?", (hit_id,)).fetchone()[0]
    assert len(raw.encode()) <= 256 * 1024
    kept = json.loads(raw)
    assert kept["truncated"] == ["card.text"]  # the largest text was enough
    assert kept["card"]["text"].startswith("# card\néé") and "cut by leakmon" in kept["card"]["text"]
    assert kept["app"]["text"] == evidence["app"]["text"]
    assert kept["files"] == evidence["files"] and kept["files_truncated"] is False
    assert kept["errors"] == ["lone surrogate \ufffd in a path"]


def test_evidence_with_a_huge_file_list_keeps_the_head_and_says_so(store: Store) -> None:
    (hit_id,) = store.record_hits(None, [new_hit()], now=T0)
    evidence = realistic_evidence()
    evidence["files"] = [
        {
            "path": f"shards/model-{i:05d}-of-50000.safetensors",
            "size": 10**9,
            "sha256": f"{i:064x}",
            "lfs": True,
        }
        for i in range(50_000)
    ]
    evidence["findings"] = [
        {"rule": "content", "file": "app.py", "line": i, "text": "k" * 900} for i in range(500)
    ]
    assert store.set_evidence(hit_id, evidence) <= 256 * 1024
    kept = store.get_evidence(hit_id)
    assert kept is not None
    assert kept["files_truncated"] is True
    assert 100 < len(kept["files"]) < 50_000 and kept["files"][:3] == evidence["files"][:3]
    assert "findings.*.text" in kept["truncated"]
    assert kept["card"] == evidence["card"] and kept["app"] == evidence["app"]  # small texts untouched


def test_status_changes_are_checked_inside_the_transaction(store: Store) -> None:
    (hit_id,) = store.record_hits(None, [new_hit()], now=T0)
    refused = store.change_status(hit_id, "new", allowed_from=("removed",), actor="alice", now=T0)
    assert not refused.applied and refused.previous == "new" and store.hit_events(hit_id) == []
    done = store.change_status(hit_id, "removed", allowed_from=("new",), actor="alice", note="gone", now=T0)
    assert done.applied and store.get_hit(hit_id)["removed_at"] == iso(T0)
    later = T0 + timedelta(hours=1)
    store.change_status(hit_id, "new", allowed_from=("removed",), actor="bob", now=later)
    hit = store.get_hit(hit_id)
    assert hit["removed_at"] is None and hit["reopened_at"] == iso(later)
    assert [(e["actor"], e["from_status"], e["to_status"], e["note"]) for e in store.hit_events(hit_id)] == [
        ("alice", "new", "removed", "gone"),
        ("bob", "removed", "new", None),
    ]
    with pytest.raises(UnknownHit):
        store.change_status(999, "removed", allowed_from=("new",), actor="alice")


def test_suppressions_are_deduplicated_and_removable(store: Store) -> None:
    first, created = store.add_suppression(Suppression("repo", "A/Sora", "sora"), actor="alice", now=T0)
    assert created
    assert store.add_suppression(Suppression("repo", "a/sora", "sora"), actor="bob") == (first, False)
    other, created = store.add_suppression(Suppression("repo", "a/sora", None), actor="bob")  # global
    assert created and other != first
    assert store.suppression_records() == (
        Suppression("repo", "A/Sora", "sora"),
        Suppression("repo", "a/sora", None),
    )
    removed = store.remove_suppression(first)
    assert removed is not None and removed["created_by"] == "alice" and removed["created_at"] == iso(T0)
    assert store.remove_suppression(first) is None
    assert [s["id"] for s in store.suppressions()] == [other]


def test_reupload_of_links_two_hits(store: Store) -> None:
    first, second = store.record_hits(None, [new_hit("a/sora"), new_hit("b/totally-not-sora")], now=T0)
    store.set_reupload_of(second, first)
    assert store.get_hit(second)["reupload_of"] == first
    with pytest.raises(UnknownHit):
        store.set_reupload_of(second, 999)
    with pytest.raises(StoreError):
        store.set_reupload_of(first, first)
    store.set_reupload_of(second, None)
    assert store.get_hit(second)["reupload_of"] is None


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
