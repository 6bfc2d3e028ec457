"""Is the repo of each open hit still on the Hub? When it is gone: status `removed`, the time of
removal recorded, and a `hit.removed` alert to the hit's notifiers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from monitor.errors import HubError
from monitor.scanner import Scanner
from monitor.store import utcnow

log = structlog.get_logger("leakmon.recheck")


@dataclass
class RecheckResult:
    checked: int = 0
    removed: list[int] = field(default_factory=list)
    error: str | None = None


def recheck(scanner: Scanner, *, budget: int = 50, now: datetime | None = None) -> RecheckResult:
    """Check up to `budget` open hits not checked within `hub.recheck_interval`, least recent first.

    Stops at the first Hub failure: a hit is marked removed only on the Hub's own "not found".
    """
    now = now or utcnow()
    cfg, store = scanner.cfg, scanner.store
    result = RecheckResult()
    stale = now - timedelta(seconds=cfg.hub.recheck_interval)
    watches = {w.name: w for w in cfg.watches}
    for hit in store.open_hits(checked_before=stale, limit=budget):
        if scanner.stop.is_set():
            break
        try:
            present = scanner.source.exists(hit["repo_type"], hit["repo_id"])
        except HubError as err:
            result.error = str(err)
            log.warning("recheck.failed", hit_id=hit["id"], error=str(err))
            break
        result.checked += 1
        if present:
            store.mark_checked(hit["id"], now)
            continue
        watch = watches.get(hit["watch"])
        candidates = cfg.notifiers_for(watch) if watch else cfg.notifiers
        notifiers = [n.name for n in candidates if n.accepts(hit["severity"])]
        if store.mark_removed(hit["id"], notifiers, now):
            result.removed.append(hit["id"])
            log.warning("hit.removed", hit_id=hit["id"], repo_type=hit["repo_type"], repo_id=hit["repo_id"])
    return result
