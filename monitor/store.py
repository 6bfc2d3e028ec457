"""The only module that writes SQL: schema and migrations, scans, cursors, hits and the outbox.

SQLite in WAL mode with `synchronous=NORMAL` (survives a killed process) and a 5 s busy timeout so
the CLI and the daemon can share the file. Every write that must be atomic runs inside
`BEGIN IMMEDIATE` (a deferred BEGIN that reads then writes fails at once under WAL contention).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from monitor.errors import StoreError
from monitor.records import Match, Repo

# Evidence is bounded: a hostile card must not grow the database without limit.
MAX_EVIDENCE_BYTES = 64 * 1024

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE scans (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        outcome TEXT NOT NULL DEFAULT 'running',   -- running | ok | failed | interrupted
        repos_read INTEGER NOT NULL DEFAULT 0,
        hub_requests INTEGER NOT NULL DEFAULT 0,
        new_hits INTEGER NOT NULL DEFAULT 0,
        error TEXT
    );
    CREATE TABLE cursors (
        repo_type TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,                  -- newest createdAt fully read
        scan_id INTEGER REFERENCES scans(id),
        updated_at TEXT NOT NULL
    );
    CREATE TABLE hits (
        id INTEGER PRIMARY KEY,
        watch TEXT NOT NULL,
        repo_type TEXT NOT NULL,
        repo_id TEXT NOT NULL,
        author TEXT,
        url TEXT NOT NULL,
        severity TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'new',
        created_at TEXT,                           -- the repo's createdAt on the Hub
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        scan_id INTEGER REFERENCES scans(id),
        matches TEXT NOT NULL,                     -- JSON list of match evidence
        repo TEXT,                                 -- JSON: the listing item, bounded
        UNIQUE (watch, repo_type, repo_id)
    );
    CREATE INDEX hits_first_seen ON hits(first_seen);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        hit_id INTEGER NOT NULL REFERENCES hits(id),
        notifier TEXT NOT NULL,
        event TEXT NOT NULL,
        webhook_id TEXT NOT NULL UNIQUE,           -- stable across retries
        created_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',    -- pending | delivered | dead
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        lease_until TEXT,
        last_error TEXT,
        delivered_at TEXT,
        UNIQUE (hit_id, notifier, event)
    );
    CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        outbox_id INTEGER NOT NULL REFERENCES outbox(id),
        at TEXT NOT NULL,
        ok INTEGER NOT NULL,
        status_code INTEGER,
        error TEXT,
        duration_ms INTEGER
    );
    CREATE INDEX attempts_outbox ON attempts(outbox_id);
    """,
    """
    ALTER TABLE outbox ADD COLUMN digest_id TEXT;      -- rows sent together as one message
    ALTER TABLE outbox ADD COLUMN requeued_at TEXT;    -- `leakmon outbox retry`: retries start afresh
    CREATE INDEX outbox_digest ON outbox(digest_id);
    ALTER TABLE scans ADD COLUMN pid INTEGER;          -- the process running it (interrupted if it died)
    ALTER TABLE scans ADD COLUMN host TEXT;
    """,
    """
    ALTER TABLE hits ADD COLUMN removed_at TEXT;        -- when leakmon saw the repo gone from the Hub
    ALTER TABLE hits ADD COLUMN checked_at TEXT;        -- last time its presence was checked
    CREATE TABLE hit_events (
        id INTEGER PRIMARY KEY,
        hit_id INTEGER NOT NULL REFERENCES hits(id),
        at TEXT NOT NULL,
        actor TEXT NOT NULL,                       -- "leakmon" or the user who triaged
        from_status TEXT,
        to_status TEXT NOT NULL,
        note TEXT
    );
    CREATE INDEX hit_events_hit ON hit_events(hit_id);
    CREATE INDEX hits_status ON hits(status);
    CREATE TABLE sweeps (
        term TEXT NOT NULL,                        -- the Hub search string
        repo_type TEXT NOT NULL,
        next_url TEXT,                             -- where to resume; NULL when not started or done
        done_at TEXT,                              -- last time the whole history was read
        repos_read INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (term, repo_type)
    );
    """,
)

OPEN_STATUSES = ("new", "acknowledged", "reported")  # the hit still needs someone


def _statements(script: str) -> Iterator[str]:
    """The statements of a migration script (a `;` inside a comment does not end one)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer
            buffer = ""
    if buffer.strip():
        raise StoreError(f"incomplete statement in a migration: {buffer.strip()[:60]}")


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def iso(dt: datetime) -> str:
    """Fixed-width UTC ISO 8601 with milliseconds: sorts as text, reads like the Hub's own."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> datetime:
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def utf8(text: str) -> str:
    """`text` as SQLite can store it: a lone surrogate (JSON "\\ud800" from the Hub decodes to one)
    becomes "?". Without this the hit's INSERT raises, and the scan fails on that repo every time."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def bounded_json(value: Any, limit: int = MAX_EVIDENCE_BYTES) -> str:
    text = utf8(json.dumps(value, ensure_ascii=False, default=str))
    if len(text.encode()) <= limit:
        return text
    return json.dumps(
        {
            "truncated": True,
            "bytes": len(text.encode()),
            "head": text.encode()[: limit // 2].decode(errors="ignore"),
        },
        ensure_ascii=False,
    )


@dataclass(frozen=True, slots=True)
class NewHit:
    """A hit to record: one repo matched one watch, with the notifiers to alert."""

    watch: str
    severity: str
    repo: Repo
    url: str
    matches: Sequence[Match]
    notifiers: Sequence[str]


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    hit_id: int
    notifier: str
    event: str
    webhook_id: str
    created_at: datetime
    attempts: int
    first_attempt_at: datetime | None  # of the current round of retries (a requeue starts a new one)
    digest_id: str | None = None


class Store:
    """A leakmon database. Open with `Store.open(path)`; use as a context manager to close it."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None) -> None:
        self.path = path
        self.db = sqlite_utils.Database(conn, execute_plugins=False)
        self.conn = conn

    @classmethod
    def open(cls, path: str | Path) -> Store:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=5.0, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 5000")
            store = cls(conn, path)
            store.db.enable_wal()
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            store._migrate()
        except sqlite3.DatabaseError as err:
            raise StoreError(f"cannot open database {path}: {err}") from None
        except OSError as err:
            raise StoreError(f"cannot open database {path}: {err.strerror or err}") from None
        return store

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(f"database {self.path} was written by a newer leakmon (schema {version})")
        tables = set(self.db.table_names())
        if version == 0 and tables:
            raise StoreError(f"{self.path} is not a leakmon database (it has other tables)")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self._write() as conn:
                for statement in _statements(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    # --- scans and cursors ---------------------------------------------------------------------

    def start_scan(self, now: datetime | None = None) -> int:
        """Record a new scan; first mark scans of this host whose process died as interrupted."""
        host, pid = socket.gethostname(), os.getpid()
        with self._write() as conn:
            for scan_id, other in conn.execute(
                "SELECT id, pid FROM scans WHERE outcome = 'running' AND host = ?", (host,)
            ).fetchall():
                if other != pid and not _alive(other):
                    conn.execute(
                        "UPDATE scans SET outcome = 'interrupted', error = 'the process running it died'"
                        " WHERE id = ?",
                        (scan_id,),
                    )
            cur = conn.execute(
                "INSERT INTO scans (started_at, pid, host) VALUES (?, ?, ?)",
                (iso(now or utcnow()), pid, host),
            )
            return int(cur.lastrowid or 0)

    def finish_scan(
        self,
        scan_id: int,
        *,
        outcome: str,
        repos_read: int,
        hub_requests: int,
        new_hits: int,
        error: str | None = None,
        now: datetime | None = None,
    ) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE scans SET finished_at = ?, outcome = ?, repos_read = ?, hub_requests = ?,"
                " new_hits = ?, error = ? WHERE id = ?",
                (iso(now or utcnow()), outcome, repos_read, hub_requests, new_hits, error, scan_id),
            )

    def scans(self, limit: int = 10) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM scans ORDER BY id DESC LIMIT ?", [limit]))

    def last_successful_scan(self) -> str | None:
        row = self.conn.execute("SELECT MAX(finished_at) FROM scans WHERE outcome = 'ok'").fetchone()
        return row[0] if row else None

    def get_cursor(self, repo_type: str) -> datetime | None:
        row = self.conn.execute("SELECT created_at FROM cursors WHERE repo_type = ?", (repo_type,)).fetchone()
        return parse_iso(row[0]) if row else None

    def cursors(self) -> dict[str, datetime]:
        return {r[0]: parse_iso(r[1]) for r in self.conn.execute("SELECT repo_type, created_at FROM cursors")}

    def set_cursor(
        self, repo_type: str, created_at: datetime, scan_id: int | None, now: datetime | None = None
    ) -> None:
        """Move a repo type's cursor forward (never back)."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO cursors (repo_type, created_at, scan_id, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(repo_type) DO UPDATE SET created_at = excluded.created_at,"
                " scan_id = excluded.scan_id, updated_at = excluded.updated_at"
                " WHERE excluded.created_at > cursors.created_at",
                (repo_type, iso(created_at), scan_id, iso(now or utcnow())),
            )

    # --- hits ----------------------------------------------------------------------------------

    def record_hits(
        self, scan_id: int | None, hits: Sequence[NewHit], now: datetime | None = None
    ) -> list[int]:
        """Record hits and their outbox rows in one transaction. Returns the ids of hits that are new.

        A hit already recorded for (watch, repo type, repo id) only has `last_seen` refreshed: it is
        never alerted twice.
        """
        if not hits:
            return []
        stamp = iso(now or utcnow())
        new_ids: list[int] = []
        with self._write() as conn:
            for hit in hits:
                repo = hit.repo
                cur = conn.execute(
                    "INSERT OR IGNORE INTO hits (watch, repo_type, repo_id, author, url, severity,"
                    " created_at, first_seen, last_seen, scan_id, matches, repo)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        hit.watch,
                        repo.repo_type,
                        utf8(repo.repo_id),
                        utf8(repo.author),
                        utf8(hit.url),
                        hit.severity,
                        iso(repo.created_at),
                        stamp,
                        stamp,
                        scan_id,
                        utf8(json.dumps([m.as_dict() for m in hit.matches], ensure_ascii=False)),
                        bounded_json(dict(repo.raw)),
                    ),
                )
                if cur.rowcount != 1:
                    conn.execute(
                        "UPDATE hits SET last_seen = ? WHERE watch = ? AND repo_type = ? AND repo_id = ?",
                        (stamp, hit.watch, repo.repo_type, utf8(repo.repo_id)),
                    )
                    continue
                hit_id = int(cur.lastrowid or 0)
                new_ids.append(hit_id)
                for notifier in hit.notifiers:
                    conn.execute(
                        "INSERT INTO outbox (hit_id, notifier, event, webhook_id, created_at,"
                        " next_attempt_at) VALUES (?, ?, 'hit.created', ?, ?, ?)",
                        (hit_id, notifier, f"msg_{uuid.uuid4().hex}", stamp, stamp),
                    )
        return new_ids

    def _hit_rows(self, where: str = "", params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        # `where` is built here from fixed clauses with ? placeholders; values travel as params.
        rows = self.db.query(f"SELECT * FROM hits {where} ORDER BY id", list(params))  # noqa: S608
        out = []
        for row in rows:
            row["matches"] = json.loads(row["matches"])
            row["repo"] = json.loads(row["repo"]) if row["repo"] else None
            out.append(row)
        return out

    def get_hit(self, hit_id: int) -> dict[str, Any] | None:
        rows = self._hit_rows("WHERE id = ?", [hit_id])
        return rows[0] if rows else None

    def list_hits(
        self,
        *,
        status: str | None = None,
        watch: str | None = None,
        since: datetime | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[dict[str, Any]]:
        clauses, params = [], []
        if status:
            clauses.append("status = ?")
            params.append(status)
        if watch:
            clauses.append("watch = ?")
            params.append(watch)
        if since:
            clauses.append("first_seen >= ?")
            params.append(iso(since))
        if ids is not None:
            clauses.append(f"id IN ({','.join('?' * len(ids))})")
            params.extend(ids)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return self._hit_rows(where, params)

    # --- outbox --------------------------------------------------------------------------------

    def claim_due(self, now: datetime, lease: timedelta, limit: int = 100) -> list[OutboxItem]:
        """Lease due rows in one statement, so two relays never send the same row at once.

        A process killed mid-send leaves a lease that expires: the row is sent again, under the same
        webhook id (at-least-once).
        """
        # A digest's rows are always claimed together, whichever of them made the cut.
        rows = self.conn.execute(
            "WITH picked AS (SELECT id, digest_id FROM outbox WHERE status = 'pending'"
            "  AND next_attempt_at <= :now AND (lease_until IS NULL OR lease_until <= :now)"
            "  ORDER BY next_attempt_at, id LIMIT :limit)"
            " UPDATE outbox SET lease_until = :lease WHERE status = 'pending'"
            " AND (lease_until IS NULL OR lease_until <= :now)"
            " AND (id IN (SELECT id FROM picked)"
            "  OR digest_id IN (SELECT digest_id FROM picked WHERE digest_id IS NOT NULL))"
            " RETURNING id, hit_id, notifier, event, webhook_id, created_at, attempts, digest_id,"
            " requeued_at",
            {"now": iso(now), "lease": iso(now + lease), "limit": limit},
        ).fetchall()
        self.conn.commit()
        items = []
        for row in sorted(rows):
            since = row[8] or ""
            first = self.conn.execute(
                "SELECT MIN(at) FROM attempts WHERE outbox_id = ? AND at >= ?", (row[0], since)
            ).fetchone()[0]
            items.append(
                OutboxItem(
                    id=row[0],
                    hit_id=row[1],
                    notifier=row[2],
                    event=row[3],
                    webhook_id=row[4],
                    created_at=parse_iso(row[5]),
                    attempts=row[6],
                    first_attempt_at=parse_iso(first) if first else None,
                    digest_id=row[7],
                )
            )
        return items

    def assign_digest(self, scan_id: int, notifier: str, over: int) -> str | None:
        """Group a scan's untried alerts for one notifier into one digest when there are more than
        `over`. Returns the digest's delivery id, or None."""
        with self._write() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT o.id FROM outbox o JOIN hits h ON h.id = o.hit_id WHERE h.scan_id = ?"
                    " AND o.notifier = ? AND o.event = 'hit.created' AND o.status = 'pending'"
                    " AND o.attempts = 0 AND o.digest_id IS NULL AND o.lease_until IS NULL",
                    (scan_id, notifier),
                )
            ]
            if len(ids) <= over:
                return None
            digest_id = f"msg_{uuid.uuid4().hex}"
            conn.executemany("UPDATE outbox SET digest_id = ? WHERE id = ?", [(digest_id, i) for i in ids])
        return digest_id

    def requeue(self, outbox_id: int, now: datetime | None = None) -> int:
        """`leakmon outbox retry ID`: make a dead or pending row (and its digest) due now, with a
        fresh round of retries. Returns how many rows were requeued (0: no such undelivered row)."""
        stamp = iso(now or utcnow())
        with self._write() as conn:
            row = conn.execute(
                "SELECT digest_id FROM outbox WHERE id = ? AND status IN ('pending', 'dead')", (outbox_id,)
            ).fetchone()
            if row is None:
                return 0
            by_digest = row[0] is not None
            cur = conn.execute(
                "UPDATE outbox SET status = 'pending', next_attempt_at = ?, lease_until = NULL,"
                " requeued_at = ? WHERE status IN ('pending', 'dead') AND (id = ? OR (? AND digest_id = ?))",
                (stamp, stamp, outbox_id, by_digest, row[0]),
            )
            return cur.rowcount

    def record_attempt(
        self,
        item_id: int,
        *,
        ok: bool,
        at: datetime,
        status_code: int | None = None,
        error: str | None = None,
        duration_ms: int | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Record one delivery attempt and its consequence in one transaction.

        ok -> delivered; not ok with next_attempt_at -> pending again; not ok without -> dead letter.
        """
        with self._write() as conn:
            conn.execute(
                "INSERT INTO attempts (outbox_id, at, ok, status_code, error, duration_ms)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (item_id, iso(at), int(ok), status_code, error, duration_ms),
            )
            if ok:
                conn.execute(
                    "UPDATE outbox SET status = 'delivered', delivered_at = ?, attempts = attempts + 1,"
                    " lease_until = NULL, last_error = NULL WHERE id = ?",
                    (iso(at), item_id),
                )
            elif next_attempt_at is not None:
                conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, lease_until = NULL,"
                    " last_error = ? WHERE id = ?",
                    (iso(next_attempt_at), error, item_id),
                )
            else:
                conn.execute(
                    "UPDATE outbox SET status = 'dead', attempts = attempts + 1, lease_until = NULL,"
                    " last_error = ? WHERE id = ?",
                    (error, item_id),
                )

    def next_due(self) -> datetime | None:
        row = self.conn.execute(
            "SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until, ''))) FROM outbox WHERE status = 'pending'"
        ).fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    def outbox_counts(self) -> dict[str, int]:
        counts = {"pending": 0, "delivered": 0, "dead": 0}
        for status, n in self.conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status"):
            counts[status] = n
        return counts

    def outbox_rows(self, statuses: Sequence[str] = ("pending", "dead")) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(statuses))  # placeholders only; values travel as params
        sql = (
            "SELECT o.*, h.watch, h.repo_type, h.repo_id FROM outbox o JOIN hits h ON h.id = o.hit_id"  # noqa: S608
            f" WHERE o.status IN ({marks}) ORDER BY o.id"
        )
        return list(self.db.query(sql, list(statuses)))

    def attempts_for(self, outbox_id: int) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM attempts WHERE outbox_id = ? ORDER BY id", [outbox_id]))

    # --- hit lifecycle -------------------------------------------------------------------------

    def open_hits(self, checked_before: datetime, limit: int = 100) -> list[dict[str, Any]]:
        """Open hits whose repo presence was not checked since `checked_before`, least recent first."""
        return list(
            self.db.query(
                "SELECT id, watch, repo_type, repo_id, status, severity, first_seen FROM hits"
                " WHERE status IN ('new', 'acknowledged', 'reported')"
                " AND (checked_at IS NULL OR checked_at < ?) ORDER BY checked_at IS NOT NULL, checked_at, id"
                " LIMIT ?",
                [iso(checked_before), limit],
            )
        )

    def mark_checked(self, hit_id: int, now: datetime | None = None) -> None:
        with self._write() as conn:
            conn.execute("UPDATE hits SET checked_at = ? WHERE id = ?", (iso(now or utcnow()), hit_id))

    def mark_removed(self, hit_id: int, notifiers: Sequence[str], now: datetime | None = None) -> bool:
        """The repo of an open hit is gone: status `removed`, the time recorded, a history entry and a
        `hit.removed` alert per notifier, in one transaction. False if the hit was not open."""
        stamp = iso(now or utcnow())
        with self._write() as conn:
            row = conn.execute("SELECT status FROM hits WHERE id = ?", (hit_id,)).fetchone()
            if row is None or row[0] not in OPEN_STATUSES:
                return False
            conn.execute(
                "UPDATE hits SET status = 'removed', removed_at = ?, checked_at = ? WHERE id = ?",
                (stamp, stamp, hit_id),
            )
            conn.execute(
                "INSERT INTO hit_events (hit_id, at, actor, from_status, to_status, note)"
                " VALUES (?, ?, 'leakmon', ?, 'removed', 'the repo is gone from the Hub')",
                (hit_id, stamp, row[0]),
            )
            for notifier in notifiers:
                conn.execute(
                    "INSERT OR IGNORE INTO outbox (hit_id, notifier, event, webhook_id, created_at,"
                    " next_attempt_at) VALUES (?, ?, 'hit.removed', ?, ?, ?)",
                    (hit_id, notifier, f"msg_{uuid.uuid4().hex}", stamp, stamp),
                )
        return True

    def hit_events(self, hit_id: int) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM hit_events WHERE hit_id = ? ORDER BY id", [hit_id]))

    # --- sweeps --------------------------------------------------------------------------------

    def sweep_state(self, term: str, repo_type: str) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM sweeps WHERE term = ? AND repo_type = ?", [term, repo_type]))
        return rows[0] if rows else None

    def save_sweep(
        self,
        term: str,
        repo_type: str,
        *,
        next_url: str | None,
        done: bool,
        repos_read: int,
        now: datetime | None = None,
    ) -> None:
        """Remember where a sweep of (term, type) stands; `done` restarts it from the newest next time."""
        stamp = iso(now or utcnow())
        with self._write() as conn:
            conn.execute(
                "INSERT INTO sweeps (term, repo_type, next_url, done_at, repos_read, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(term, repo_type) DO UPDATE SET"
                " next_url = excluded.next_url, done_at = COALESCE(excluded.done_at, sweeps.done_at),"
                " repos_read = sweeps.repos_read + excluded.repos_read, updated_at = excluded.updated_at",
                (term, repo_type, None if done else next_url, stamp if done else None, repos_read, stamp),
            )

    def sweeps(self) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM sweeps ORDER BY term, repo_type"))

    def hit_counts(self) -> Mapping[str, int]:
        return dict(self.conn.execute("SELECT status, COUNT(*) FROM hits GROUP BY status").fetchall())
