"""The outbox relay against a real receiver: retries, one webhook id, dead letters, Retry-After."""

from __future__ import annotations

import json
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


def test_500_storm_dead_letters_on_schedule_while_others_deliver(store: Store) -> None:
    store.record_hits(None, [new_hit(notifiers=("broken", "fine"))], now=T0)
    clock = [T0]
    broken = Flaky([DeliveryError("HTTP 500", recoverable=True, status=500)] * 1000)
    fine = Flaky([])
    relay = Relay(store, {"broken": broken, "fine": fine}, jitter=0, clock=lambda: clock[0])
    for _ in range(24 * 60 + 10):  # a day and a bit, minute by minute
        relay.deliver_due()
        clock[0] += timedelta(minutes=1)
    assert len(fine.sent) == 1
    broken_row = next(r for r in store.outbox_rows(("dead",)) if r["notifier"] == "broken")
    times = [a["at"] for a in store.attempts_for(broken_row["id"])]
    # At 0, then after 2 s, 10 s, 30 s, 2 min, 10 min, 30 min (each rounded up to the minute-by-minute
    # clock: 1, 2, 3, 5, 15, 45 min), then hourly while within 24 h of the first: 1:45 ... 23:45.
    assert len(times) == len(broken.sent) == 7 + 23
    assert broken_row["status"] == "dead" and "HTTP 500" in broken_row["last_error"]
    assert store.outbox_counts() == {"pending": 0, "delivered": 1, "dead": 1}


def test_a_plugin_installed_in_the_environment_is_discovered_and_used(tmp_path: Path, receiver: Any) -> None:
    import os
    import subprocess
    import sys

    site = tmp_path / "site"
    (site / "leakmon_testplugin-1.0.dist-info").mkdir(parents=True)
    (site / "leakmon_testplugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: leakmon-testplugin\nVersion: 1.0\n"
    )
    (site / "leakmon_testplugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[leakmon.notifiers]\nfile = leakmon_testplugin:FileNotifier\n"
    )
    (site / "leakmon_testplugin.py").write_text(
        "import json\n"
        "from monitor.config import Option\n"
        "from monitor.notifiers.base import Notifier\n"
        "class FileNotifier(Notifier):\n"
        "    type = 'file'\n"
        "    options = {'path': Option('str', required=True)}\n"
        "    def send(self, alert):\n"
        "        with open(self.config['path'], 'a') as f:\n"
        "            line = {'event': alert.event, 'id': alert.delivery_id, **alert.data}\n"
        "            f.write(json.dumps(line) + '\\n')\n"
    )
    out = tmp_path / "alerts.jsonl"
    config = tmp_path / "leakmon.toml"
    config.write_text(
        '[hub]\nendpoint = "http://127.0.0.1:9"\n[[watch]]\nname = "sora"\nterms = ["sora"]\n'
        f'[[notifier]]\nname = "journal"\ntype = "file"\npath = "{out}"\n'
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "notify-test", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "journal (file): delivered" in proc.stdout
    assert json.loads(out.read_text())["event"] == "test"
    bad = config.read_text().replace('path = "', 'paht = "')
    config.write_text(bad)
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "check", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "notifier[0].paht: unknown key" in proc.stderr
