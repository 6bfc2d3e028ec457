"""Triage: a hit's lifecycle, who moved it and why, and suppressions added along the way.

    new ──> acknowledged ──> reported ──> removed ──(re-upload)──> new
     │            │              │
     └────────────┴──────────────┴──> false_positive | benign ──> new

`TRANSITIONS` is the one table of allowed moves; the store applies a move only when the hit's
current status allows it (checked inside the write transaction), with a history entry.
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from monitor.errors import InvalidTransition, UsageError
from monitor.records import HIT_STATUSES, SUPPRESSION_KINDS, Suppression
from monitor.store import StatusChange, Store, parse_iso

# status -> the statuses a person may move it to. Leakmon itself also moves open hits to `removed`
# (the re-check) and `removed` hits back to `new` (a re-upload).
TRANSITIONS: Mapping[str, tuple[str, ...]] = {
    "new": ("acknowledged", "reported", "removed", "false_positive", "benign"),
    "acknowledged": ("new", "reported", "removed", "false_positive", "benign"),
    "reported": ("acknowledged", "removed", "false_positive", "benign"),
    "removed": ("new",),
    "false_positive": ("new",),
    "benign": ("new",),
}
assert set(TRANSITIONS) == set(HIT_STATUSES)

# Statuses that may come with a suppression: the repo is not a leak.
SUPPRESSIBLE = ("false_positive", "benign")

MAX_NOTE = 4000
MAX_ACTOR = 100
_HUB_PART = re.compile(r"^[\w.-]{1,96}$")  # one part of a repo id (\w includes Unicode letters)


def allowed_from(status: str) -> tuple[str, ...]:
    """The statuses a hit may be in to move to `status`."""
    return tuple(s for s, targets in TRANSITIONS.items() if status in targets)


def default_actor() -> str:
    """The OS user, as `--by` defaults to."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (containers, DynamicUser)
        return "unknown"


def check_status(status: str) -> str:
    if status not in HIT_STATUSES:
        raise UsageError(f"unknown status {status!r} (one of: {', '.join(HIT_STATUSES)})")
    return status


def _text(value: str | None, what: str, limit: int) -> str | None:
    if value is None:
        return None
    if len(value) > limit:
        raise UsageError(f"{what} is {len(value):,} characters long; at most {limit:,}")
    return value


# --- suppressions --------------------------------------------------------------------------------


def check_repo_id(value: str) -> str:
    parts = value.split("/")
    if len(parts) != 2 or not all(_HUB_PART.match(p) for p in parts):
        raise UsageError(f"{value!r} is not a repo id (owner/name)")
    return value


def check_owner(value: str) -> str:
    if not _HUB_PART.match(value):
        raise UsageError(f"{value!r} is not a Hub user or organisation name")
    return value


def check_pattern(value: str) -> str:
    try:
        compiled = re.compile(value, re.IGNORECASE)
    except re.error as err:
        raise UsageError(f"pattern {value!r} is not a valid regular expression: {err}") from None
    if compiled.search("") is not None:
        raise UsageError(f"pattern {value!r} matches an empty text, so it would silence every repo")
    return value


def make_suppression(kind: str, value: str, watch: str | None, watches: Iterable[str]) -> Suppression:
    """A validated suppression: a known kind, a repo id / owner / regex that works, a known watch."""
    if kind not in SUPPRESSION_KINDS:
        raise UsageError(f"unknown suppression kind {kind!r} (one of: {', '.join(SUPPRESSION_KINDS)})")
    value = value.strip()
    if kind == "repo":
        check_repo_id(value)
    elif kind == "owner":
        check_owner(value)
    else:
        check_pattern(value)
    known = list(watches)
    if watch is not None and watch not in known:
        raise UsageError(f"no watch named {watch!r} in the config (known: {', '.join(known) or 'none'})")
    return Suppression(kind, value, watch)  # type: ignore[arg-type]


def suppression_for_hit(
    spec: str, hit: Mapping[str, Any], *, global_: bool, watches: Iterable[str]
) -> Suppression:
    """`--suppress repo|owner|pattern:REGEX` for a hit: its repo, its owner, or a pattern; for the
    hit's watch, or every watch with `--global`."""
    kind, sep, rest = spec.partition(":")
    repo_id = str(hit["repo_id"])
    if kind == "repo" and not sep:
        value = repo_id
    elif kind == "owner" and not sep:
        value = repo_id.split("/", 1)[0] if "/" in repo_id else str(hit.get("author") or "")
    elif kind == "pattern" and sep:
        value = rest
    else:
        raise UsageError(f"--suppress {spec!r}: use repo, owner or pattern:REGEX")
    watch = None if global_ else str(hit["watch"])
    return make_suppression(kind, value, watch, [*watches, *([] if watch is None else [watch])])


# --- status changes ------------------------------------------------------------------------------


def set_status(
    store: Store,
    hit_id: int,
    status: str,
    *,
    actor: str | None = None,
    note: str | None = None,
    suppression: Suppression | None = None,
    now: datetime | None = None,
) -> StatusChange:
    """Move a hit along `TRANSITIONS`, recording who, when and why. Raises UnknownHit, UsageError
    (unknown status, a suppression with a status that is not false_positive/benign) or
    InvalidTransition; in each case nothing changed."""
    check_status(status)
    if suppression is not None and status not in SUPPRESSIBLE:
        raise UsageError(f"--suppress goes with {' or '.join(SUPPRESSIBLE)}, not {status}")
    who = (actor if actor is not None else default_actor()).strip()
    if not who:
        raise UsageError("--by must name someone")
    _text(who, "--by", MAX_ACTOR)
    _text(note, "--note", MAX_NOTE)
    change = store.change_status(
        hit_id,
        status,
        allowed_from=allowed_from(status),
        actor=who,
        note=note,
        suppression=suppression,
        now=now,
    )
    if not change.applied:
        targets = TRANSITIONS[change.previous]
        raise InvalidTransition(
            f"hit #{hit_id} is {change.previous}: it can move to {', '.join(targets)}, not {status}"
        )
    return change


# --- what a hit looks like outside ---------------------------------------------------------------


def time_to_removal(hit: Mapping[str, Any]) -> int | None:
    """Seconds from detection (first seen, or the last reopening) to removal; None if not removed."""
    removed = hit.get("removed_at")
    if not removed:
        return None
    detected = hit.get("reopened_at") or hit.get("first_seen")
    if not detected:
        return None
    return max(int((parse_iso(removed) - parse_iso(detected)).total_seconds()), 0)


HIT_KEYS = (
    "id",
    "watch",
    "repo_type",
    "repo_id",
    "url",
    "status",
    "severity",
    "first_seen",
    "last_seen",
    "author",
    "created_at",
    "removed_at",
    "reopened_at",
    "time_to_removal",
    "reupload_of",
    "matches",
)


def hit_json(hit: Mapping[str, Any]) -> dict[str, Any]:
    """The documented fields of a hit in `--json` output (interface.md), and the triage fields."""
    out = {k: hit.get(k) for k in HIT_KEYS}
    out["time_to_removal"] = time_to_removal(hit)
    return out


def event_json(event: Mapping[str, Any]) -> dict[str, Any]:
    return {k: event.get(k) for k in ("at", "actor", "from_status", "to_status", "note", "suppression_id")}


def hit_detail(store: Store, hit_id: int) -> dict[str, Any]:
    """`hits show --json`: the hit, the listing metadata, its evidence, and its history."""
    from monitor.errors import UnknownHit

    hit = store.get_hit(hit_id, evidence=True)
    if hit is None:
        raise UnknownHit(f"no hit #{hit_id} (see `leakmon hits`)")
    out = hit_json(hit)
    out["checked_at"] = hit.get("checked_at")
    out["repo"] = hit.get("repo")
    out["evidence"] = hit.get("evidence")
    out["history"] = [event_json(e) for e in store.hit_events(hit_id)]
    original = store.get_hit(hit["reupload_of"]) if hit.get("reupload_of") else None
    out["reupload_of_hit"] = (
        {k: original[k] for k in ("id", "repo_type", "repo_id", "url", "status")} if original else None
    )
    return out


def export_items(
    store: Store, *, statuses: Sequence[str] = (), watches: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """`hits export`: every hit (filtered) as in `hits --json`, with its history."""
    for status in statuses:
        check_status(status)
    events = store.all_hit_events()
    items = []
    for hit in store.list_hits(status=list(statuses), watch=list(watches)):
        item = hit_json(hit)
        item["history"] = [event_json(e) for e in events.get(hit["id"], [])]
        items.append(item)
    return items
