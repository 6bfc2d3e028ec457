"""`leakmon run`: scans, deliveries, re-checks and sweeps on a schedule, supervised by systemd.

APScheduler 3 (BlockingScheduler, in-memory job store, UTC). Every job is guarded: a failure is
logged and the next run happens as planned. SIGTERM/SIGINT set a stop event that every step checks
(between pages, during waits), then `shutdown(wait=True)` lets the step in progress finish: the
process exits 0 within seconds, and nothing unread is marked read.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import structlog
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_SCHEDULER_STARTED,
    JobExecutionEvent,
    SchedulerEvent,
)
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import Config
from monitor.dispatch import Relay, build_notifiers
from monitor.errors import LeakmonError
from monitor.hub import HubSource
from monitor.metrics import Metrics
from monitor.recheck import recheck
from monitor.scanner import Scanner
from monitor.store import Store
from monitor.sweep import sweep

log = structlog.get_logger("leakmon.daemon")

RELAY_INTERVAL = 10.0  # seconds between outbox relay runs (retries, alerts a scan left behind)
RECHECK_BUDGET = 50  # Hub requests one re-check run may spend


class AlreadyRunning(LeakmonError):
    """Another `leakmon run` holds the database."""


def notify_systemd(*states: str) -> bool:
    """sd_notify(3) over $NOTIFY_SOCKET (a datagram socket; '@' means the abstract namespace)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        # Never blocks: a reader that stopped reading must not hang the scheduler's jobs (a full
        # datagram queue drops this message, with a warning).
        with socket.socket(
            socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
        ) as sock:
            sock.connect(address)
            sock.sendall("\n".join(states).encode())
    except OSError as err:
        log.warning("systemd.notify_failed", error=str(err))
        return False
    return True


def lock_database(db_path: Path) -> IO[str]:
    """One daemon per database: an exclusive lock on `<db>.lock`, held for the process's life.

    `leakmon scan`, `hits` and `status` don't take it: they share the database through WAL.
    """
    path = Path(f"{db_path}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise AlreadyRunning(
            f"another `leakmon run` (pid {holder}) is already using {db_path}; one daemon per database"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


@dataclass
class Health:
    last_outcome: str = "starting"
    last_ok_at: float | None = None  # time.monotonic() of the last successful scan
    started_at: float = 0.0


class Daemon:
    """The long-running service. `run()` blocks until SIGTERM/SIGINT, then returns."""

    def __init__(
        self,
        cfg: Config,
        *,
        relay_interval: float = RELAY_INTERVAL,
        source_options: dict[str, Any] | None = None,
    ) -> None:
        self.cfg = cfg
        self.relay_interval = min(relay_interval, cfg.hub.poll_interval)
        self.source_options = source_options or {}
        self.stop = threading.Event()
        self.health = Health(started_at=time.monotonic())
        self.metrics = Metrics()
        # Scans and relay runs never overlap: a scan groups its alerts into digests before sending.
        self._work = threading.Lock()
        self.scheduler = BlockingScheduler(
            timezone=UTC,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": max(30, int(cfg.hub.poll_interval)),
            },
        )

    # --- wiring --------------------------------------------------------------------------------

    def _open(self) -> Scanner:
        store = Store.open(self.cfg.database.path)
        source = HubSource.from_config(self.cfg.hub, sleep=self._sleep, **self.source_options)
        relay = Relay(store, build_notifiers(self.cfg.notifiers), sleep=self._sleep)
        return Scanner(self.cfg, store, source, relay, stop=self.stop, delivery_wait=self.relay_interval)

    def _sleep(self, seconds: float) -> None:
        """Waits end early when the daemon is stopping."""
        self.stop.wait(seconds)

    def _status(self, text: str) -> None:
        notify_systemd(f"STATUS={text}")

    # --- jobs ----------------------------------------------------------------------------------

    def scan_job(self) -> None:
        with self._work:
            if self.stop.is_set():
                return
            started = time.monotonic()
            result = self.scanner.run_once()
            self.metrics.observe_scan(result, time.monotonic() - started, self.scanner.source)
            self.health.last_outcome = result.outcome
            if result.ok:
                self.health.last_ok_at = time.monotonic()
                self._watchdog()
            self.metrics.observe_store(self.scanner.store)
            when = datetime.now(UTC).strftime("%H:%M:%S UTC")
            self._status(
                f"last scan {result.outcome} at {when}: {result.repos_read} repos, "
                f"{len(result.new_hit_ids)} new hits, {result.outbox_pending} alerts pending"
            )

    def relay_job(self) -> None:
        if not self._work.acquire(blocking=False):
            return  # a scan is running and delivers at its end
        try:
            stats = self.scanner.relay.deliver_due()
            self.metrics.observe_delivery(stats)
            self.metrics.observe_store(self.scanner.store)
        finally:
            self._work.release()

    def recheck_job(self) -> None:
        # The jobs share one database connection: a re-check's writes must not interleave with a
        # scan's or a sweep's transaction.
        with self._work:
            if self.stop.is_set():
                return
            result = recheck(self.scanner, budget=RECHECK_BUDGET)
        if result.removed or result.reopened:
            self.relay_job()  # hit.removed and hit.reopened alerts now, not at the next relay run

    def sweep_job(self) -> None:
        with self._work:
            result = sweep(self.scanner, budget=self.cfg.hub.sweep_budget)
        self.metrics.hub_requests.inc(result.hub_requests)
        if result.new_hit_ids or result.reopened_hit_ids:
            self.relay_job()

    def _watchdog(self) -> None:
        """WATCHDOG=1 only while scans succeed: systemd restarts a daemon whose scans keep failing."""
        interval = self.cfg.hub.poll_interval
        last = self.health.last_ok_at
        grace = max(3 * interval, 120.0)
        if last is None:
            healthy = time.monotonic() - self.health.started_at < grace
        else:
            healthy = time.monotonic() - last < grace
        if healthy:
            notify_systemd("WATCHDOG=1")

    # --- lifecycle -----------------------------------------------------------------------------

    def _on_event(self, event: SchedulerEvent) -> None:
        if event.code == EVENT_SCHEDULER_STARTED:
            notify_systemd("READY=1", "STATUS=started; first scan running")
            log.info("daemon.ready", poll_interval=self.cfg.hub.poll_interval)
        elif event.code == EVENT_JOB_ERROR:
            assert isinstance(event, JobExecutionEvent)
            self.metrics.errors.labels(kind=event.job_id).inc()
            log.error(
                "job.failed",
                job=event.job_id,
                error=f"{type(event.exception).__name__}: {event.exception}",
                exc_info=event.exception,
            )
        elif event.code == EVENT_JOB_MISSED:
            log.warning("job.missed", job=getattr(event, "job_id", None))
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            log.warning(
                "job.still_running",
                job=getattr(event, "job_id", None),
                hint="the previous run has not finished; this one is skipped",
            )

    def _on_signal(self, signum: int, _frame: object) -> None:
        log.info("daemon.stopping", signal=signal.Signals(signum).name)
        notify_systemd("STOPPING=1")
        self.stop.set()
        with contextlib.suppress(Exception):
            self.scheduler.shutdown(wait=True)

    def run(self) -> None:
        lock = lock_database(self.cfg.database.path)
        self.scanner = self._open()
        try:
            self._schedule()
            self.metrics.serve(self.cfg.metrics.listen)
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
            self.scheduler.start()  # blocks until a signal shuts it down
        finally:
            self.stop.set()
            self.metrics.close()
            self.scanner.close()
            lock.close()
        log.info("daemon.stopped")

    def _schedule(self) -> None:
        hub = self.cfg.hub
        now = datetime.now(UTC)
        add = self.scheduler.add_job
        # Jitter spreads many installations over the Hub's rate-limit window.
        add(
            self.scan_job,
            IntervalTrigger(seconds=hub.poll_interval, jitter=min(hub.poll_interval / 10, 30)),
            id="scan",
            next_run_time=now,
        )
        add(self.relay_job, IntervalTrigger(seconds=self.relay_interval), id="relay")
        add(
            self.recheck_job,
            IntervalTrigger(seconds=min(hub.recheck_interval, 3600)),
            id="recheck",
            next_run_time=now + timedelta(seconds=min(hub.recheck_interval, hub.poll_interval) / 2),
        )
        add(
            self.sweep_job,
            IntervalTrigger(seconds=hub.sweep_interval),
            id="sweep",
            next_run_time=now + timedelta(seconds=min(hub.sweep_interval, 60)),
        )
        watchdog_usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
        if watchdog_usec:
            add(self._watchdog, IntervalTrigger(seconds=max(watchdog_usec / 2e6, 0.5)), id="watchdog")
        self.scheduler.add_listener(
            self._on_event,
            EVENT_SCHEDULER_STARTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES,
        )
