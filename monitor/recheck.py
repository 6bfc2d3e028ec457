"""Is the repo of each open hit still on the Hub? When it is gone: status `removed`, the time of
removal recorded, and a `hit.removed` alert to the hit's notifiers. And is the repo of a hit
removed within `REOPEN_WINDOW` back? Then the hit is reopened, with a `hit.reopened` alert."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from monitor.errors import HubError
from monitor.scanner import Scanner
from monitor.store import utcnow

log = structlog.get_logger("leakmon.recheck")

# How long after its removal a hit's repo is still checked for coming back. (A re-upload that the
# listings show, with a new creation time, reopens the hit at any age.)
REOPEN_WINDOW = timedelta(days=30)


@dataclass
class RecheckResult:
    checked: int = 0
    removed: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)
    error: str | None = None


def recheck(scanner: Scanner, *, budget: int = 50, now: datetime | None = None) -> RecheckResult:
    """Check up to `budget` hits not checked within `hub.recheck_interval`, least recent first: open
    hits (removed when their repo is gone), then hits removed in the last `REOPEN_WINDOW` (reopened
    when their repo is back).

    Stops at the first Hub failure: a hit is marked removed only on the Hub's own "not found".
    """
    now = now or utcnow()
    cfg, store = scanner.cfg, scanner.store
    result = RecheckResult()
    stale = now - timedelta(seconds=cfg.hub.recheck_interval)
    candidates = store.open_hits(checked_before=stale, limit=budget)
    if len(candidates) < budget:
        candidates += store.removed_hits(stale, now - REOPEN_WINDOW, limit=budget - len(candidates))
    for hit in candidates:
        if scanner.stop.is_set():
            break
        try:
            present = scanner.source.exists(hit["repo_type"], hit["repo_id"])
        except HubError as err:
            result.error = str(err)
            log.warning("recheck.failed", hit_id=hit["id"], error=str(err))
            break
        result.checked += 1
        notifiers = scanner.notifier_names(hit["watch"], hit["severity"])
        if hit["status"] == "removed":
            if present and store.reopen_hit(
                hit["id"], notifiers, note="re-uploaded: the repo is on the Hub again", now=now
            ):
                result.reopened.append(hit["id"])
                log.warning(
                    "hit.reopened", hit_id=hit["id"], repo_type=hit["repo_type"], repo_id=hit["repo_id"]
                )
            else:
                store.mark_checked(hit["id"], now)
            continue
        if present:
            store.mark_checked(hit["id"], now)
            continue
        if store.mark_removed(hit["id"], notifiers, now):
            result.removed.append(hit["id"])
            log.warning("hit.removed", hit_id=hit["id"], repo_type=hit["repo_type"], repo_id=hit["repo_id"])
    return result
