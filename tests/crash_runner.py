"""Runs one scan in a child process, optionally killing itself (SIGKILL) at a chosen point.

Used by tests/test_crash.py: `python tests/crash_runner.py CONFIG MODE`, where MODE is
  normal         run the scan to the end
  after-send     die right after a notifier got a 2xx, before the outbox row is marked delivered
  mid-hit        die inside the hit+outbox transaction, after the hit row was written
Kept out of the package: production code has no crash hooks. Killed from outside at a random
moment, MODE `normal` is a scan that dies wherever it happens to be (tests/test_crash.py,
tests/test_stateful.py); it prints "ready" once imported and configured, just before the scan.
LEAKMON_TEST_PAGE_SIZE sets the Hub listing page size (default 1000), LEAKMON_TEST_LEASE the
outbox lease in seconds (default 1).
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    config_path, mode = sys.argv[1], sys.argv[2]
    from monitor import config, store
    from monitor.dispatch import Relay, build_notifiers
    from monitor.hub import HubSource
    from monitor.scanner import Scanner

    if mode == "after-send":
        real = store.Store.record_attempt

        def record_attempt(self: store.Store, item_id: int, *, ok: bool, **kwargs: object) -> None:
            if ok:
                die()
            real(self, item_id, ok=ok, **kwargs)  # type: ignore[arg-type]

        store.Store.record_attempt = record_attempt  # type: ignore[method-assign]
    elif mode == "mid-hit":
        # uuid4 makes the outbox row's webhook id: called inside the transaction, after the hit row.
        store.uuid.uuid4 = die  # type: ignore[assignment]
    elif mode != "normal":
        raise SystemExit(f"unknown mode {mode}")

    cfg = config.load(config_path)
    db = store.Store.open(cfg.database.path)
    page_size = int(os.environ.get("LEAKMON_TEST_PAGE_SIZE") or 1000)
    source = HubSource.from_config(cfg.hub, max_retries=1, base_wait=0.05, page_size=page_size)
    lease = timedelta(seconds=float(os.environ.get("LEAKMON_TEST_LEASE") or 1))
    relay = Relay(db, build_notifiers(cfg.notifiers), schedule=(0.1,), lease=lease)
    scanner = Scanner(cfg, db, source, relay, delivery_wait=3)
    print("ready", flush=True)
    result = scanner.run_once()
    print(f"{result.outcome} new={len(result.new_hit_ids)} delivered={result.delivery.delivered}")


if __name__ == "__main__":
    main()
