"""The outbox relay: claim due rows, send, back off, dead-letter. Notifiers never retry themselves."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from monitor.errors import DeliveryError
from monitor.notifiers.base import Notifier
from monitor.records import Alert, basis
from monitor.store import OutboxItem, Store, parse_iso, utcnow

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


# Timestamps in alert data read like the Hub's: seconds, UTC, a Z.
_TIMES = ("created_at", "removed_at", "previous_removed_at")


def _stamp(value: Any) -> str | None:
    if not value:
        return None
    try:
        return parse_iso(str(value)).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return str(value)


def alert_data(
    hit: Mapping[str, Any], event: str = "hit.created", extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The documented `data` of a hit event (interface.md, webhook body), with the event's own
    fields: `removed_at` for hit.removed; `reopened` and `previous_removed_at` for hit.reopened."""
    data = {
        "id": hit["id"],
        "watch": hit["watch"],
        "severity": hit["severity"],
        "repo_type": hit["repo_type"],
        "repo_id": hit["repo_id"],
        "url": hit["url"],
        "author": hit.get("author") or "",
        "created_at": hit.get("created_at"),
        "matches": list(hit["matches"]),
        # What the severity rests on: "sha256", "fingerprint", "content" or "name".
        "basis": basis(m.get("rule", "") for m in hit["matches"] if isinstance(m, Mapping)),
    }
    if hit.get("reupload_of"):  # the same fingerprint or files as a hit whose repo was removed
        data["reupload_of"] = hit["reupload_of"]
    if event == "hit.removed":  # rows queued before the outbox kept event data
        data["removed_at"] = hit.get("removed_at")
    data.update(extra or {})
    for key in _TIMES:
        if key in data:
            data[key] = _stamp(data[key])
    return data


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
        self._last_sent: dict[str, float] = {}

    def _delay(self, attempts: int, retry_after: float | None) -> float:
        base = self.schedule[min(attempts - 1, len(self.schedule) - 1)]
        delay = base * (1 + random.uniform(-self.jitter, self.jitter))
        # The service's own Retry-After wins when it asks for longer.
        return max(delay, retry_after or 0.0)

    def deliver_due(self) -> DeliveryStats:
        """One pass: send every message due now (a row, or a digest's rows together)."""
        stats = DeliveryStats()
        while True:
            items = self.store.claim_due(self.clock(), self.lease, limit=BATCH)
            messages: dict[str | int, list[OutboxItem]] = {}
            for item in items:
                messages.setdefault(item.digest_id or item.id, []).append(item)
            for group in messages.values():
                self._deliver(group, stats)
            # A short batch means nothing more was due; a full one may have left rows behind.
            if len(items) < BATCH:
                return stats

    def _message(self, group: list[OutboxItem]) -> Alert | str:
        """The alert for a row or a digest, or why it cannot be sent."""
        hits = [self.store.get_hit(item.hit_id) for item in group]
        if any(h is None for h in hits):  # the store's foreign key forbids it; never send an empty alert
            return "hit is gone"
        first = group[0]
        if first.digest_id:
            data: dict[str, Any] = {"count": len(hits), "hits": [alert_data(h) for h in hits if h]}
            return Alert("hit.digest", first.digest_id, min(i.created_at for i in group), data)
        return Alert(
            first.event,
            first.webhook_id,
            first.created_at,
            alert_data(hits[0] or {}, first.event, first.data),
        )

    def _pace(self, name: str, notifier: Notifier) -> None:
        """Services with a message rate limit (Slack: one a second) declare `min_interval`."""
        interval = float(getattr(notifier, "min_interval", 0) or 0)
        last = self._last_sent.get(name)
        if interval and last is not None:
            wait = last + interval - time.monotonic()
            if wait > 0:
                self.sleep(wait)
        self._last_sent[name] = time.monotonic()

    def _deliver(self, group: list[OutboxItem], stats: DeliveryStats) -> None:
        started = self.clock()
        first = group[0]
        bound = log.bind(
            outbox_ids=[i.id for i in group],
            hit_ids=[i.hit_id for i in group],
            notifier=first.notifier,
            webhook_id=first.digest_id or first.webhook_id,
        )
        notifier = self.notifiers.get(first.notifier)
        alert = (
            self._message(group) if notifier is not None else f"notifier {first.notifier!r} is not configured"
        )
        if notifier is None or isinstance(alert, str):
            for item in group:
                self.store.record_attempt(item.id, ok=False, at=started, error=str(alert))
            stats.dead += len(group)
            bound.error("delivery.dead", reason=alert)
            return
        self._pace(first.notifier, notifier)
        tick = time.monotonic()
        try:
            notifier.send(alert)
        except DeliveryError as err:
            self._failed(group, err, started, int((time.monotonic() - tick) * 1000), stats, bound)
            return
        except Exception as err:  # a plugin's bug must not stop the other deliveries
            wrapped = DeliveryError(f"notifier crashed: {type(err).__name__}", recoverable=True)
            self._failed(group, wrapped, started, int((time.monotonic() - tick) * 1000), stats, bound)
            return
        done = self.clock()
        for item in group:
            self.store.record_attempt(
                item.id, ok=True, at=done, duration_ms=int((time.monotonic() - tick) * 1000)
            )
        stats.delivered += len(group)
        bound.info("delivery.ok", attempt=first.attempts + 1, alerts=len(group))

    def _failed(
        self,
        group: list[OutboxItem],
        err: DeliveryError,
        started: datetime,
        duration_ms: int,
        stats: DeliveryStats,
        bound: Any,
    ) -> None:
        first = group[0]
        attempts = first.attempts + 1
        window_start = first.first_attempt_at or started
        next_at: datetime | None = None
        if err.recoverable:
            candidate = started + timedelta(seconds=self._delay(attempts, err.retry_after))
            if candidate - window_start <= self.max_age:
                next_at = candidate
        for item in group:
            self.store.record_attempt(
                item.id,
                ok=False,
                at=started,
                status_code=err.status,
                error=str(err),
                duration_ms=duration_ms,
                next_attempt_at=next_at,
            )
        stats.errors.append(f"{first.notifier}: {err}")
        if next_at is None:
            stats.dead += len(group)
            bound.error(
                "delivery.dead",
                error=str(err),
                attempt=attempts,
                reason="permanent error" if not err.recoverable else "retries exhausted",
            )
        else:
            stats.failed += len(group)
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


def test_alert(endpoint: str) -> Alert:
    """A clearly marked test alert for `leakmon notify-test`: event "test", a sample hit."""
    now = utcnow()
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    data = {
        "id": 0,
        "watch": "leakmon-test",
        "severity": "low",
        "repo_type": "model",
        "repo_id": "leakmon/notify-test",
        "url": f"{endpoint.rstrip('/')}/leakmon/notify-test",
        "author": "leakmon",
        "created_at": stamp,
        "matches": [
            {"rule": "term", "field": "repo_id", "term": "notify-test", "text": "notify-test", "score": 1.0}
        ],
        "basis": "name",
        "test": True,
    }
    return Alert("test", f"msg_test_{uuid.uuid4().hex}", now, data)


def send_now(notifier: Notifier, alert: Alert) -> str | None:
    """Send once, outside the outbox (notify-test): None when delivered, else why not."""
    try:
        notifier.send(alert)
    except DeliveryError as err:
        return f"{err} ({'would be retried' if err.recoverable else 'permanent'})"
    except Exception as err:  # a plugin's bug, reported rather than raised
        return f"notifier crashed: {type(err).__name__}: {err}"
    return None
