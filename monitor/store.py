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
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from monitor import evidence as evidence_mod
from monitor.errors import StoreError, UnknownHit
from monitor.records import OPEN_STATUSES, Match, Repo, Suppression

# The listing item kept with a hit is bounded: a hostile card must not grow the database without limit.
MAX_EVIDENCE_BYTES = 64 * 1024
# The evidence captured at detection (monitor/evidence.py) is bounded too.
MAX_CAPTURE_BYTES = evidence_mod.MAX_BYTES
# Who leakmon itself is in a hit's history (automatic removal and reopening).
SYSTEM_ACTOR = "leakmon"

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
    """
    -- Triage and evidence (issue 7).
    ALTER TABLE hits ADD COLUMN evidence TEXT;          -- JSON captured at detection, <= 256 KB
    ALTER TABLE hits ADD COLUMN reupload_of INTEGER REFERENCES hits(id);  -- same files as that hit
    ALTER TABLE hits ADD COLUMN reopened_at TEXT;       -- last time a removed repo came back
    ALTER TABLE hit_events ADD COLUMN suppression_id INTEGER;  -- added with this change, if any
    CREATE TABLE suppressions (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('repo', 'owner', 'pattern')),
        value TEXT NOT NULL,                       -- owner/name, an owner, or a regex
        watch TEXT,                                -- NULL: every watch
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        note TEXT,
        hit_id INTEGER REFERENCES hits(id)         -- the hit whose triage added it
    );
    -- A hit reopened twice is alerted twice: the outbox loses UNIQUE (hit_id, notifier, event)
    -- (a table rebuild, the only way SQLite drops a constraint) and gains the event's own data.
    CREATE TABLE outbox_new (
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
        digest_id TEXT,
        requeued_at TEXT,
        data TEXT                                  -- JSON merged into the alert's data
    );
    INSERT INTO outbox_new (id, hit_id, notifier, event, webhook_id, created_at, status, attempts,
        next_attempt_at, lease_until, last_error, delivered_at, digest_id, requeued_at)
        SELECT id, hit_id, notifier, event, webhook_id, created_at, status, attempts,
        next_attempt_at, lease_until, last_error, delivered_at, digest_id, requeued_at FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_new RENAME TO outbox;
    CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
    CREATE INDEX outbox_digest ON outbox(digest_id);
    CREATE INDEX outbox_hit ON outbox(hit_id, notifier, event);
    """,
    """
    -- The content tier's queue (issue 6).
    CREATE TABLE probes (
        id INTEGER PRIMARY KEY,
        repo_type TEXT NOT NULL,
        repo_id TEXT NOT NULL,
        kind TEXT NOT NULL,                        -- candidate (may become a hit) | evidence (of a hit)
        needs TEXT NOT NULL,                       -- JSON list: files, config, header, texts
        repo TEXT NOT NULL,                        -- JSON: the listing item, to judge it again
        created_at TEXT NOT NULL,                  -- the repo's createdAt on the Hub
        enqueued_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',    -- pending | done | gone | failed
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        finished_at TEXT,
        UNIQUE (repo_type, repo_id)
    );
    CREATE INDEX probes_due ON probes(status, kind, created_at);
    """,
)


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


MAX_EVIDENCE_TEXT = 8_000  # characters of one text kept in a hit's evidence


def _probe_item(repo: Repo) -> str:
    """The listing item a probe re-judges the repo from; bounded (a hostile item keeps its id)."""
    text = utf8(json.dumps(dict(repo.raw), ensure_ascii=False, default=str))
    if len(text.encode()) <= MAX_EVIDENCE_BYTES:
        return text
    return json.dumps({"id": repo.repo_id, "createdAt": iso(repo.created_at)})  # ASCII: safe


@dataclass(frozen=True, slots=True)
class NewHit:
    """A hit to record: one repo matched one watch, with the notifiers to alert."""

    watch: str
    severity: str
    repo: Repo
    url: str
    matches: Sequence[Match]
    notifiers: Sequence[str]


@dataclass
class Recorded:
    """What `Store.record` did: the ids of hits new, and of removed hits reopened (re-uploads)."""

    new: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StatusChange:
    """What `Store.change_status` did. `applied` False: the move was not allowed, nothing changed."""

    hit_id: int
    previous: str
    status: str
    applied: bool
    event_id: int | None = None
    suppression_id: int | None = None


@dataclass(frozen=True, slots=True)
class NewProbe:
    """A repo the content tier must fetch files of: a `candidate` that may become a hit, or the
    `evidence` of a hit (queued only when that hit is new)."""

    repo: Repo
    kind: str  # "candidate" | "evidence"
    needs: frozenset[str]


@dataclass(frozen=True, slots=True)
class Probe:
    id: int
    repo_type: str
    repo_id: str
    kind: str
    needs: frozenset[str]
    item: dict[str, Any]  # the listing item
    created_at: datetime
    attempts: int


MAX_PROBE_ATTEMPTS = 10  # a probe the Hub keeps failing is given up (status failed) after this many


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
    data: Mapping[str, Any] | None = None  # the event's own fields, merged into the alert's data


class Store:
    """A leakmon database. Open with `Store.open(path)`; use as a context manager to close it."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None) -> None:
        self.path = path
        self.db = sqlite_utils.Database(conn, execute_plugins=False)
        self.conn = conn
        self._columns: list[str] | None = None

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
        if version == len(MIGRATIONS):
            return
        # A migration may rebuild a table that others reference (SQLite's documented procedure):
        # foreign keys are off meanwhile (the pragma is a no-op inside a transaction), and checked
        # before each migration commits.
        self.conn.execute("PRAGMA foreign_keys = OFF")
        try:
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                with self._write() as conn:
                    for statement in _statements(script):
                        conn.execute(statement)
                    broken = conn.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise StoreError(f"migration {number} would break references: {broken[:3]}")
                    conn.execute(f"PRAGMA user_version = {number}")
        finally:
            self.conn.execute("PRAGMA foreign_keys = ON")

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
        self,
        scan_id: int | None,
        hits: Sequence[NewHit],
        now: datetime | None = None,
        probes: Sequence[NewProbe] = (),
    ) -> list[int]:
        """Record hits, their outbox rows and the probes of the content tier in one transaction.
        Returns the ids of hits that are new.

        See `record`, which also reports the hits reopened.
        """
        return self.record(scan_id, hits, now, probes).new

    def record(
        self,
        scan_id: int | None,
        hits: Sequence[NewHit],
        now: datetime | None = None,
        probes: Sequence[NewProbe] = (),
    ) -> Recorded:
        """Record hits, their outbox rows and the content tier's probes in one transaction.

        A hit already recorded for (watch, repo type, repo id) only has `last_seen` refreshed: it is
        never alerted twice, except when it was `removed` and the listing shows a repo of that id
        created since (a re-upload): then it is reopened (status `new`, a history entry) and
        alerted again as `hit.reopened`. A listing showing the removed repo's own creation time
        is a stale listing, not a re-upload; the re-check decides those. An `evidence` probe is
        queued only for a repo with a new or reopened hit.
        """
        stamp = iso(now or utcnow())
        if not hits and not probes:
            return Recorded()
        with self._write() as conn:
            out, fresh = self._insert_hits(conn, scan_id, hits, stamp)
            for probe in probes:
                if probe.kind == "candidate" or (probe.repo.repo_type, probe.repo.repo_id) in fresh:
                    self._enqueue_probe(conn, probe, stamp)
        return out

    def _insert_hits(
        self, conn: sqlite3.Connection, scan_id: int | None, hits: Sequence[NewHit], stamp: str
    ) -> tuple[Recorded, set[tuple[str, str]]]:
        """Insert hits (outbox rows for the new ones; removed ones re-uploaded are reopened), inside
        the caller's transaction. Returns what was done, and the repos with a new or reopened hit."""
        out = Recorded()
        fresh: set[tuple[str, str]] = set()
        for hit in hits:
            repo = hit.repo
            # Hub text with a lone surrogate (JSON "\ud800") cannot be stored as it is: utf8().
            repo_id = utf8(repo.repo_id)
            matches = utf8(json.dumps([m.as_dict() for m in hit.matches], ensure_ascii=False))
            listing = bounded_json(dict(repo.raw))
            created = iso(repo.created_at)
            cur = conn.execute(
                "INSERT OR IGNORE INTO hits (watch, repo_type, repo_id, author, url, severity,"
                " created_at, first_seen, last_seen, scan_id, matches, repo)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    hit.watch,
                    repo.repo_type,
                    repo_id,
                    utf8(repo.author),
                    utf8(hit.url),
                    hit.severity,
                    created,
                    stamp,
                    stamp,
                    scan_id,
                    matches,
                    listing,
                ),
            )
            if cur.rowcount != 1:
                hit_id, status, was_created = conn.execute(
                    "SELECT id, status, created_at FROM hits WHERE watch = ? AND repo_type = ?"
                    " AND repo_id = ?",
                    (hit.watch, repo.repo_type, repo_id),
                ).fetchone()
                conn.execute("UPDATE hits SET last_seen = ? WHERE id = ?", (stamp, hit_id))
                if status == "removed" and was_created != created:
                    note = f"re-uploaded: the repo is on the Hub again, created {created}"
                    if was_created:
                        note += f" (the removed one was created {was_created})"
                    self._reopen(conn, hit_id, hit.notifiers, stamp, note)
                    conn.execute(
                        "UPDATE hits SET created_at = ?, author = ?, matches = ?, repo = ?, scan_id = ?"
                        " WHERE id = ?",
                        (created, utf8(repo.author), matches, listing, scan_id, hit_id),
                    )
                    out.reopened.append(hit_id)
                    fresh.add((repo.repo_type, repo.repo_id))
                continue
            hit_id = int(cur.lastrowid or 0)
            out.new.append(hit_id)
            fresh.add((repo.repo_type, repo.repo_id))
            # Before the alert is queued, so that it says so.
            self._link_reupload(conn, hit_id, hit.watch, stamp, matches=hit.matches)
            for notifier in hit.notifiers:
                self._enqueue(conn, hit_id, notifier, "hit.created", stamp)
        return out, fresh

    def _link_reupload(
        self,
        conn: sqlite3.Connection,
        hit_id: int,
        watch: str,
        stamp: str,
        *,
        matches: Sequence[Match] = (),
        hashes: Collection[str] = (),
    ) -> int | None:
        """A hit is a re-upload of a removed hit of the same watch when it holds the same
        fingerprint, or the same checkpoint files (LFS sha256). Link it (`reupload_of`, a history
        entry by leakmon) unless it is linked already. Returns the original's id."""
        terms = sorted({m.term for m in matches if m.rule in ("fingerprint", "sha256")})
        found, why = None, "the same fingerprint"
        # Placeholders only are formatted in; every value travels as a parameter.
        if terms:
            found = conn.execute(
                "SELECT h.id FROM hits h, json_each(h.matches) m WHERE h.status = 'removed'"  # noqa: S608
                " AND h.watch = ? AND h.id != ?"
                " AND json_extract(m.value, '$.rule') IN ('fingerprint', 'sha256')"
                f" AND json_extract(m.value, '$.term') IN ({','.join('?' * len(terms))})"
                " ORDER BY h.removed_at DESC LIMIT 1",
                (watch, hit_id, *terms),
            ).fetchone()
        if found is None and hashes:
            digests, why = sorted(hashes), "the same checkpoint files"
            found = conn.execute(
                "SELECT h.id FROM hits h, json_each(h.evidence, '$.files') f WHERE h.status = 'removed'"  # noqa: S608
                " AND h.watch = ? AND h.id != ? AND json_valid(h.evidence)"
                f" AND json_extract(f.value, '$.sha256') IN ({','.join('?' * len(digests))})"
                " ORDER BY h.removed_at DESC LIMIT 1",
                (watch, hit_id, *digests),
            ).fetchone()
        if found is None:
            return None
        linked = conn.execute(
            "UPDATE hits SET reupload_of = ? WHERE id = ? AND reupload_of IS NULL RETURNING status",
            (found[0], hit_id),
        ).fetchone()
        if linked:
            conn.execute(
                "INSERT INTO hit_events (hit_id, at, actor, from_status, to_status, note)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (hit_id, stamp, SYSTEM_ACTOR, linked[0], linked[0], f"re-upload of hit #{found[0]}: {why}"),
            )
        return int(found[0])

    @staticmethod
    def _enqueue(
        conn: sqlite3.Connection,
        hit_id: int,
        notifier: str,
        event: str,
        stamp: str,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """One outbox row: an alert waiting for one notifier, with its own webhook id."""
        conn.execute(
            "INSERT INTO outbox (hit_id, notifier, event, webhook_id, created_at, next_attempt_at, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                hit_id,
                notifier,
                event,
                f"msg_{uuid.uuid4().hex}",
                stamp,
                stamp,
                json.dumps(dict(data), ensure_ascii=False) if data else None,
            ),
        )

    def _reopen(
        self, conn: sqlite3.Connection, hit_id: int, notifiers: Sequence[str], stamp: str, note: str
    ) -> bool:
        row = conn.execute("SELECT status, removed_at FROM hits WHERE id = ?", (hit_id,)).fetchone()
        if row is None or row[0] != "removed":
            return False
        conn.execute(
            "UPDATE hits SET status = 'new', removed_at = NULL, reopened_at = ?, checked_at = ? WHERE id = ?",
            (stamp, stamp, hit_id),
        )
        conn.execute(
            "INSERT INTO hit_events (hit_id, at, actor, from_status, to_status, note)"
            " VALUES (?, ?, ?, 'removed', 'new', ?)",
            (hit_id, stamp, SYSTEM_ACTOR, note),
        )
        for notifier in notifiers:
            self._enqueue(
                conn,
                hit_id,
                notifier,
                "hit.reopened",
                stamp,
                {"reopened": True, "previous_removed_at": row[1]},
            )
        return True

    def reopen_hit(
        self, hit_id: int, notifiers: Sequence[str], *, note: str, now: datetime | None = None
    ) -> bool:
        """A removed hit's repo is on the Hub again: status `new`, a history entry by leakmon and a
        `hit.reopened` alert per notifier, in one transaction. False if the hit was not removed."""
        with self._write() as conn:
            return self._reopen(conn, hit_id, notifiers, iso(now or utcnow()), note)

    def _hit_rows(
        self, where: str = "", params: Sequence[Any] = (), *, evidence: bool = False
    ) -> list[dict[str, Any]]:
        # The evidence (up to 256 KB a hit) is read only when asked for.
        columns = "*" if evidence else ", ".join(c for c in self._hit_columns() if c != "evidence")
        # `where` is built here from fixed clauses with ? placeholders; values travel as params.
        rows = self.db.query(f"SELECT {columns} FROM hits {where} ORDER BY id", list(params))  # noqa: S608
        out = []
        for row in rows:
            row["matches"] = json.loads(row["matches"])
            row["repo"] = json.loads(row["repo"]) if row["repo"] else None
            if evidence:
                row["evidence"] = json.loads(row["evidence"]) if row["evidence"] else None
            out.append(row)
        return out

    def _hit_columns(self) -> list[str]:
        if self._columns is None:
            self._columns = [r[1] for r in self.conn.execute("PRAGMA table_info(hits)")]
        return self._columns

    def get_hit(self, hit_id: int, *, evidence: bool = False) -> dict[str, Any] | None:
        """One hit as a dict (`matches` and `repo` parsed; `evidence` too when asked for)."""
        rows = self._hit_rows("WHERE id = ?", [hit_id], evidence=evidence)
        return rows[0] if rows else None

    def list_hits(
        self,
        *,
        status: str | Sequence[str] | None = None,
        watch: str | Sequence[str] | None = None,
        since: datetime | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[dict[str, Any]]:
        """Hits in id order; a filter given as a sequence matches any of its values."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("status", status), ("watch", watch)):
            values = [value] if isinstance(value, str) else list(value or ())
            if values:
                clauses.append(f"{column} IN ({','.join('?' * len(values))})")
                params.extend(values)
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
            " requeued_at, data",
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
                    data=json.loads(row[9]) if row[9] else None,
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
                " VALUES (?, ?, ?, ?, 'removed', 'the repo is gone from the Hub')",
                (hit_id, stamp, SYSTEM_ACTOR, row[0]),
            )
            for notifier in notifiers:
                self._enqueue(conn, hit_id, notifier, "hit.removed", stamp, {"removed_at": stamp})
        return True

    def removed_hits(
        self, checked_before: datetime, removed_since: datetime, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Hits removed since `removed_since` and not checked since `checked_before`: is the repo back?"""
        return list(
            self.db.query(
                "SELECT id, watch, repo_type, repo_id, status, severity, first_seen, removed_at FROM hits"
                " WHERE status = 'removed' AND removed_at >= ? AND (checked_at IS NULL OR checked_at < ?)"
                " ORDER BY checked_at IS NOT NULL, checked_at, id LIMIT ?",
                [iso(removed_since), iso(checked_before), limit],
            )
        )

    def hit_events(self, hit_id: int) -> list[dict[str, Any]]:
        """A hit's history of status changes and notes, oldest first."""
        return list(self.db.query("SELECT * FROM hit_events WHERE hit_id = ? ORDER BY id", [hit_id]))

    def all_hit_events(self) -> dict[int, list[dict[str, Any]]]:
        """Every hit's history, by hit id (for exports)."""
        out: dict[int, list[dict[str, Any]]] = {}
        for row in self.db.query("SELECT * FROM hit_events ORDER BY hit_id, id"):
            out.setdefault(row["hit_id"], []).append(row)
        return out

    # --- triage --------------------------------------------------------------------------------

    def change_status(
        self,
        hit_id: int,
        status: str,
        *,
        allowed_from: Collection[str],
        actor: str,
        note: str | None = None,
        suppression: Suppression | None = None,
        now: datetime | None = None,
    ) -> StatusChange:
        """Move a hit to `status` if its current status is in `allowed_from` (the caller's transition
        table), with a history entry, and optionally a suppression, in one transaction.

        `removed` records `removed_at`; leaving `removed` clears it and records `reopened_at`.
        Raises UnknownHit; a move not allowed changes nothing (`applied` False).
        """
        stamp = iso(now or utcnow())
        with self._write() as conn:
            row = conn.execute("SELECT status FROM hits WHERE id = ?", (hit_id,)).fetchone()
            if row is None:
                raise UnknownHit(f"no hit #{hit_id} (see `leakmon hits`)")
            previous = row[0]
            if previous not in allowed_from:
                return StatusChange(hit_id, previous, status, applied=False)
            sets, params = ["status = ?"], [status]
            if status == "removed":
                sets.append("removed_at = ?")
                params.append(stamp)
            if previous == "removed":
                sets += ["removed_at = NULL", "reopened_at = ?"]
                params.append(stamp)
            conn.execute(f"UPDATE hits SET {', '.join(sets)} WHERE id = ?", (*params, hit_id))  # noqa: S608
            suppression_id = None
            if suppression is not None:
                suppression_id, _ = self._add_suppression(conn, suppression, actor, note, hit_id, stamp)
            cur = conn.execute(
                "INSERT INTO hit_events (hit_id, at, actor, from_status, to_status, note, suppression_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (hit_id, stamp, actor, previous, status, note, suppression_id),
            )
            return StatusChange(hit_id, previous, status, True, int(cur.lastrowid or 0), suppression_id)

    def set_evidence(self, hit_id: int, evidence: Mapping[str, Any]) -> int:
        """Store the evidence captured for a hit (see monitor/evidence.py for its keys), bounded to
        256 KB: the largest texts are cut first, then the longest lists. Returns the bytes stored."""
        text = evidence_mod.bound(evidence, MAX_CAPTURE_BYTES)
        with self._write() as conn:
            cur = conn.execute("UPDATE hits SET evidence = ? WHERE id = ?", (text, hit_id))
            if cur.rowcount != 1:
                raise UnknownHit(f"no hit #{hit_id}")
        return len(text.encode("utf-8"))

    def get_evidence(self, hit_id: int) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT evidence FROM hits WHERE id = ?", (hit_id,)).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def set_reupload_of(self, hit_id: int, original_id: int | None) -> None:
        """Mark a hit as a re-upload of another hit (the same files under another name), or clear it."""
        with self._write() as conn:
            for wanted in (hit_id, original_id):
                if (
                    wanted is not None
                    and not conn.execute("SELECT 1 FROM hits WHERE id = ?", (wanted,)).fetchone()
                ):
                    raise UnknownHit(f"no hit #{wanted}")
            if original_id == hit_id:
                raise StoreError(f"hit #{hit_id} cannot be a re-upload of itself")
            conn.execute("UPDATE hits SET reupload_of = ? WHERE id = ?", (original_id, hit_id))

    # --- suppressions --------------------------------------------------------------------------

    @staticmethod
    def _add_suppression(
        conn: sqlite3.Connection,
        sup: Suppression,
        actor: str,
        note: str | None,
        hit_id: int | None,
        stamp: str,
    ) -> tuple[int, bool]:
        # Repo ids and owners compare case-insensitively (as the matcher applies them); patterns as written.
        for sup_id, value in conn.execute(
            "SELECT id, value FROM suppressions WHERE kind = ? AND watch IS ?", (sup.kind, sup.watch)
        ):
            same = value == sup.value if sup.kind == "pattern" else value.casefold() == sup.value.casefold()
            if same:
                return int(sup_id), False
        cur = conn.execute(
            "INSERT INTO suppressions (kind, value, watch, created_at, created_by, note, hit_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (sup.kind, sup.value, sup.watch, stamp, actor, note, hit_id),
        )
        return int(cur.lastrowid or 0), True

    def add_suppression(
        self,
        sup: Suppression,
        *,
        actor: str,
        note: str | None = None,
        hit_id: int | None = None,
        now: datetime | None = None,
    ) -> tuple[int, bool]:
        """Store a suppression; (its id, True) or, when the same one exists, (that id, False)."""
        with self._write() as conn:
            return self._add_suppression(conn, sup, actor, note, hit_id, iso(now or utcnow()))

    def suppressions(self) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM suppressions ORDER BY id"))

    def suppression_records(self) -> tuple[Suppression, ...]:
        """The database's suppressions as the matcher takes them."""
        return tuple(
            Suppression(kind, value, watch)
            for kind, value, watch in self.conn.execute(
                "SELECT kind, value, watch FROM suppressions ORDER BY id"
            )
        )

    def remove_suppression(self, sup_id: int) -> dict[str, Any] | None:
        """Delete one suppression; the row it was, or None if there is no such id."""
        with self._write() as conn:
            cur = conn.execute("SELECT * FROM suppressions WHERE id = ?", (sup_id,))
            row = cur.fetchone()
            if row is None:
                return None
            names = [d[0] for d in cur.description]
            conn.execute("DELETE FROM suppressions WHERE id = ?", (sup_id,))
            return dict(zip(names, row, strict=True))

    # --- the content tier's probes ---------------------------------------------------------------

    def _enqueue_probe(self, conn: sqlite3.Connection, probe: NewProbe, stamp: str) -> None:
        """Queue a probe, or widen a pending one. A finished probe is queued again only when it
        needs more than was fetched (a repo re-read within the overlap is not fetched twice)."""
        repo = probe.repo
        row = conn.execute(
            "SELECT id, kind, needs, status FROM probes WHERE repo_type = ? AND repo_id = ?",
            (repo.repo_type, utf8(repo.repo_id)),
        ).fetchone()
        needs = set(probe.needs)
        if row is None:
            conn.execute(
                "INSERT INTO probes (repo_type, repo_id, kind, needs, repo, created_at, enqueued_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    repo.repo_type,
                    utf8(repo.repo_id),
                    probe.kind,
                    json.dumps(sorted(needs)),
                    _probe_item(repo),
                    iso(repo.created_at),
                    stamp,
                ),
            )
            return
        probe_id, kind, old_json, status = row
        old = set(json.loads(old_json))
        if status == "pending" or not needs <= old:
            kind = "candidate" if "candidate" in (kind, probe.kind) else kind
            conn.execute(
                "UPDATE probes SET kind = ?, needs = ?, repo = ?, status = 'pending', attempts = 0,"
                " last_error = NULL, finished_at = NULL,"
                " enqueued_at = CASE WHEN status = 'pending' THEN enqueued_at ELSE ? END WHERE id = ?",
                (kind, json.dumps(sorted(needs | old)), _probe_item(repo), stamp, probe_id),
            )

    def due_probes(self, limit: int = 500) -> list[Probe]:
        """Pending probes: the evidence of hits first (proof must be kept before a takedown; there
        are few), then candidates, the newest repos first (the ones most likely still up)."""
        rows = self.conn.execute(
            "SELECT id, repo_type, repo_id, kind, needs, repo, created_at, attempts FROM probes"
            " WHERE status = 'pending' ORDER BY kind = 'candidate', created_at DESC, id LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            Probe(
                r[0], r[1], r[2], r[3], frozenset(json.loads(r[4])), json.loads(r[5]), parse_iso(r[6]), r[7]
            )
            for r in rows
        ]

    def complete_probe(
        self,
        probe_id: int,
        scan_id: int | None,
        hits: Sequence[NewHit],
        evidence: Mapping[str, Any] | None,
        now: datetime | None = None,
        hashes: Collection[str] = (),
    ) -> Recorded:
        """A probe's outcome in one transaction: its hits and their outbox rows, the evidence on
        every hit of that repo, the probe marked done. Hits of the repo holding checkpoint files
        (`hashes`) of a removed hit of their watch are linked to it as re-uploads."""
        stamp = iso(now or utcnow())
        with self._write() as conn:
            row = conn.execute("SELECT repo_type, repo_id FROM probes WHERE id = ?", (probe_id,)).fetchone()
            if row is None:
                return Recorded()
            recorded, _ = self._insert_hits(conn, scan_id, hits, stamp)
            if evidence is not None:
                conn.execute(
                    "UPDATE hits SET evidence = ? WHERE repo_type = ? AND repo_id = ?",
                    (evidence_mod.bound(evidence, MAX_CAPTURE_BYTES), row[0], row[1]),
                )
            if hashes:
                for hit_id, watch in conn.execute(
                    "SELECT id, watch FROM hits WHERE repo_type = ? AND repo_id = ? AND status != 'removed'",
                    (row[0], row[1]),
                ).fetchall():
                    self._link_reupload(conn, hit_id, watch, stamp, hashes=hashes)
            conn.execute(
                "UPDATE probes SET status = 'done', finished_at = ?, last_error = NULL WHERE id = ?",
                (stamp, probe_id),
            )
        return recorded

    def end_probe(self, probe_id: int, status: str, error: str, now: datetime | None = None) -> None:
        """A probe that cannot complete: "gone" (the repo is not on the Hub), or a Hub failure that
        leaves it pending for the next scan ("failed" after MAX_PROBE_ATTEMPTS)."""
        stamp = iso(now or utcnow())
        with self._write() as conn:
            if status == "gone":
                conn.execute(
                    "UPDATE probes SET status = 'gone', last_error = ?, finished_at = ? WHERE id = ?",
                    (error, stamp, probe_id),
                )
                return
            conn.execute(
                "UPDATE probes SET attempts = attempts + 1, last_error = ?,"
                " status = CASE WHEN attempts + 1 >= ? THEN 'failed' ELSE 'pending' END,"
                " finished_at = CASE WHEN attempts + 1 >= ? THEN ? END WHERE id = ?",
                (error, MAX_PROBE_ATTEMPTS, MAX_PROBE_ATTEMPTS, stamp, probe_id),
            )

    def prune_probes(self, before: datetime) -> int:
        """Forget finished probes older than `before` (they only keep re-reads from fetching twice)."""
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM probes WHERE status != 'pending' AND finished_at < ?", (iso(before),)
            )
            return cur.rowcount

    def probe_counts(self) -> dict[str, int]:
        counts = {"pending": 0, "done": 0, "gone": 0, "failed": 0}
        for status, n in self.conn.execute("SELECT status, COUNT(*) FROM probes GROUP BY status"):
            counts[status] = n
        return counts

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
