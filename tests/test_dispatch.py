"""The outbox relay against a real receiver: retries, one webhook id, dead letters, Retry-After."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.dispatch import Relay, build_notifiers
from monitor.errors import DeliveryError
from monitor.notifiers.base import Notifier
from monitor.records import Alert
from monitor.store import Store
from tests.test_store import T0, new_hit


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "leakmon.db")
    yield s
    s.close()


@pytest.fixture
def webhook(tmp_path: Path, receiver: Any) -> dict[str, Notifier]:
    """The `security` webhook notifier of a real config, pointed at the test receiver."""
    from monitor import config
    from tests.conftest import write_config

    path = write_config(tmp_path / "leakmon.toml", endpoint="http://127.0.0.1:9", hook_url=receiver.url)
    return build_notifiers(config.load(path).notifiers)


def test_fails_twice_then_delivered_once_under_one_id(store: Store, receiver: Any, webhook: Any) -> None:
    store.record_hits(None, [new_hit(notifiers=("security",))])
    receiver.fail_next([500, 503])
    relay = Relay(store, webhook, schedule=(0.05, 0.1))
    stats = relay.drain(wait=5)
    assert (stats.delivered, stats.failed, stats.dead) == (1, 2, 0)
    assert [d.status for d in receiver.deliveries] == [500, 503, 204]
    assert len({d.headers["webhook-id"] for d in receiver.deliveries}) == 1
    assert len({d.body for d in receiver.deliveries}) == 1
    assert len(receiver.accepted()) == 1
    row = store.conn.execute("SELECT status, attempts FROM outbox").fetchone()
    assert row == ("delivered", 3)
    assert [a["ok"] for a in store.attempts_for(1)] == [0, 0, 1]
    assert relay.drain(wait=1).delivered == 0  # nothing left


def test_permanent_error_is_dead_at_once(store: Store, receiver: Any, webhook: Any) -> None:
    store.record_hits(None, [new_hit(notifiers=("security",))])
    receiver.fail_next([404])
    stats = Relay(store, webhook, schedule=(0.05,)).drain(wait=2)
    assert (stats.delivered, stats.dead) == (0, 1)
    assert len(receiver.deliveries) == 1
    assert store.outbox_counts()["dead"] == 1
    assert "HTTP 404" in store.outbox_rows(("dead",))[0]["last_error"]


class Flaky(Notifier):
    type = "flaky"

    def __init__(self, errors: list[Exception]) -> None:
        super().__init__("security", {})
        self.errors = errors
        self.sent: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.sent.append(alert)
        if self.errors:
            raise self.errors.pop(0)


def test_retry_after_is_honoured(store: Store) -> None:
    store.record_hits(None, [new_hit(notifiers=("security",))], now=T0)
    clock = [T0]
    notifier = Flaky([DeliveryError("HTTP 429", recoverable=True, retry_after=90, status=429)])
    relay = Relay(store, {"security": notifier}, schedule=(1,), clock=lambda: clock[0])
    relay.deliver_due()
    clock[0] = T0 + timedelta(seconds=60)
    assert relay.deliver_due().delivered == 0  # 60 s < Retry-After 90 s: not retried early
    clock[0] = T0 + timedelta(seconds=91)
    assert relay.deliver_due().delivered == 1
    assert len(notifier.sent) == 2


def test_retries_end_in_a_dead_letter(store: Store) -> None:
    store.record_hits(None, [new_hit(notifiers=("security",))], now=T0)
    clock = [T0]
    notifier = Flaky([DeliveryError("HTTP 500", recoverable=True)] * 100)
    relay = Relay(
        store,
        {"security": notifier},
        schedule=(600, 3600),
        max_age=timedelta(hours=3),
        jitter=0,
        clock=lambda: clock[0],
    )
    for _ in range(10):
        relay.deliver_due()
        clock[0] += timedelta(hours=1)
    # attempts at 0 s, +600 s, then hourly while within 3 h of the first: 0:00, 0:10, 1:10, 2:10
    assert len(notifier.sent) == 4
    assert store.outbox_counts()["dead"] == 1


def test_crashing_plugin_does_not_stop_others(store: Store, receiver: Any, webhook: Any) -> None:
    store.record_hits(None, [new_hit(notifiers=("security", "broken"))])

    class Broken(Notifier):
        def send(self, alert: Alert) -> None:
            raise RuntimeError("bug")

    notifiers = {**webhook, "broken": Broken("broken", {})}
    stats = Relay(store, notifiers, schedule=(10,)).drain(wait=0)
    assert stats.delivered == 1 and stats.failed == 1
    assert len(receiver.accepted()) == 1


def test_unconfigured_notifier_is_dead_lettered(store: Store) -> None:
    store.record_hits(None, [new_hit(notifiers=("gone",))])
    stats = Relay(store, {}).drain(wait=0)
    assert stats.dead == 1
    assert "is not configured" in store.outbox_rows(("dead",))[0]["last_error"]
