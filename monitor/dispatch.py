"""The outbox relay: claim due rows, send, back off, dead-letter. Notifiers never retry themselves."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from monitor.errors import DeliveryError
from monitor.notifiers.base import Notifier
from monitor.records import Alert
from monitor.store import Store, parse_iso, utcnow

log = structlog.get_logger("leakmon.dispatch")

# Seconds to wait after the 1st, 2nd, ... failed attempt; the last value repeats until MAX_AGE.
DEFAULT_SCHEDULE: tuple[float, ...] = (2, 10, 30, 120, 600, 1800, 3600)
MAX_AGE = timedelta(hours=24)
BATCH = 200


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryStats) -> None:
        self.delivered += other.delivered
        self.failed += other.failed
        self.dead += other.dead
        self.errors.extend(other.errors)


def alert_data(hit: Mapping[str, Any]) -> dict[str, Any]:
    """The documented `data` of a hit event (interface.md, webhook body)."""
    created = hit.get("created_at")
    return {
        "id": hit["id"],
        "watch": hit["watch"],
        "severity": hit["severity"],
        "repo_type": hit["repo_type"],
        "repo_id": hit["repo_id"],
        "url": hit["url"],
        "author": hit.get("author") or "",
        "created_at": parse_iso(created).strftime("%Y-%m-%dT%H:%M:%SZ") if created else None,
        "matches": list(hit["matches"]),
    }


class Relay:
    """Delivers the outbox at least once per (hit, notifier, event), under a stable webhook id."""

    def __init__(
        self,
        store: Store,
        notifiers: Mapping[str, Notifier],
        *,
        schedule: Sequence[float] = DEFAULT_SCHEDULE,
        max_age: timedelta = MAX_AGE,
        lease: timedelta = timedelta(seconds=120),
        jitter: float = 0.1,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.notifiers = dict(notifiers)
        self.schedule = tuple(schedule)
        self.max_age = max_age
        self.lease = lease
        self.jitter = jitter
        self.clock = clock
        self.sleep = sleep

    def _delay(self, attempts: int, retry_after: float | None) -> float:
        base = self.schedule[min(attempts - 1, len(self.schedule) - 1)]
        delay = base * (1 + random.uniform(-self.jitter, self.jitter))
        # The service's own Retry-After wins when it asks for longer.
        return max(delay, retry_after or 0.0)

    def deliver_due(self) -> DeliveryStats:
        """One pass: send every row due now."""
        stats = DeliveryStats()
        while True:
            items = self.store.claim_due(self.clock(), self.lease, limit=BATCH)
            for item in items:
                self._deliver(item, stats)
            # A short batch means nothing more was due; a full one may have left rows behind.
            if len(items) < BATCH:
                return stats

    def _deliver(self, item: Any, stats: DeliveryStats) -> None:
        started = self.clock()
        notifier = self.notifiers.get(item.notifier)
        bound = log.bind(
            outbox_id=item.id, hit_id=item.hit_id, notifier=item.notifier, webhook_id=item.webhook_id
        )
        if notifier is None:
            self.store.record_attempt(
                item.id, ok=False, at=started, error=f"notifier {item.notifier!r} is no longer configured"
            )
            stats.dead += 1
            bound.warning("delivery.dead", reason="notifier not configured")
            return
        hit = self.store.get_hit(item.hit_id)
        if hit is None:  # cannot happen through the store's foreign key; never send an empty alert
            self.store.record_attempt(item.id, ok=False, at=started, error=f"hit {item.hit_id} is gone")
            stats.dead += 1
            return
        alert = Alert(
            event=item.event, delivery_id=item.webhook_id, timestamp=item.created_at, data=alert_data(hit)
        )
        tick = time.monotonic()
        try:
            notifier.send(alert)
        except DeliveryError as err:
            self._failed(item, err, started, int((time.monotonic() - tick) * 1000), stats, bound)
            return
        except Exception as err:  # a plugin's bug must not stop the other deliveries
            wrapped = DeliveryError(f"notifier crashed: {type(err).__name__}", recoverable=True)
            self._failed(item, wrapped, started, int((time.monotonic() - tick) * 1000), stats, bound)
            return
        self.store.record_attempt(
            item.id, ok=True, at=self.clock(), duration_ms=int((time.monotonic() - tick) * 1000)
        )
        stats.delivered += 1
        bound.info("delivery.ok", attempt=item.attempts + 1)

    def _failed(
        self,
        item: Any,
        err: DeliveryError,
        started: datetime,
        duration_ms: int,
        stats: DeliveryStats,
        bound: Any,
    ) -> None:
        attempts = item.attempts + 1
        first = item.first_attempt_at or started
        next_at: datetime | None = None
        if err.recoverable:
            candidate = started + timedelta(seconds=self._delay(attempts, err.retry_after))
            if candidate - first <= self.max_age:
                next_at = candidate
        self.store.record_attempt(
            item.id,
            ok=False,
            at=started,
            status_code=err.status,
            error=str(err),
            duration_ms=duration_ms,
            next_attempt_at=next_at,
        )
        message = f"{item.notifier}: {err}"
        stats.errors.append(message)
        if next_at is None:
            stats.dead += 1
            bound.error(
                "delivery.dead",
                error=str(err),
                attempt=attempts,
                reason="permanent error" if not err.recoverable else "retries exhausted",
            )
        else:
            stats.failed += 1
            bound.warning(
                "delivery.retry", error=str(err), attempt=attempts, next_attempt_at=next_at.isoformat()
            )

    def drain(self, wait: float) -> DeliveryStats:
        """Deliver what is due, and keep retrying for up to `wait` seconds while rows are pending."""
        stats = DeliveryStats()
        deadline = time.monotonic() + wait
        while True:
            stats.add(self.deliver_due())
            due = self.store.next_due()
            if due is None:
                return stats
            pause = (due - self.clock()).total_seconds()
            if time.monotonic() + max(pause, 0) > deadline:
                return stats
            if pause > 0:
                self.sleep(pause)

    def close(self) -> None:
        for notifier in self.notifiers.values():
            notifier.close()


def build_notifiers(configs: Sequence[Any]) -> dict[str, Notifier]:
    from monitor.notifiers import notifier_class

    return {c.name: notifier_class(c.type)(c.name, c.options) for c in configs}


__all__ = ["DEFAULT_SCHEDULE", "DeliveryError", "DeliveryStats", "Relay", "alert_data", "build_notifiers"]
