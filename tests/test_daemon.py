"""`leakmon run` as a real subprocess against the simulator, with a 1-second poll interval."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from tests.conftest import write_config

NOW = datetime.now(UTC)


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET, read all the time as systemd does
    (a queue of unread datagrams fills after 10 messages, and the daemon's notifications are dropped)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read, name="notify-socket", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue
            except OSError:
                return

    def wait_for(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in m for m in self.messages):
                return True
            time.sleep(0.05)
        return any(text in m for m in self.messages)

    def close(self) -> None:
        self._closed.set()
        self._reader.join(timeout=5)
        self.sock.close()


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


@pytest.fixture
def daemon_config(tmp_path: Path, sim: Any, receiver: Any) -> Path:
    return write_config(tmp_path / "leakmon.toml", endpoint=sim.url, hook_url=receiver.url)


def _with_intervals(path: Path, **keys: float) -> Path:
    extra = "".join(f"{k} = {v}\n" for k, v in keys.items())
    path.write_text(path.read_text().replace("lookback = 86400\n", f"lookback = 86400\n{extra}"))
    return path


@pytest.fixture
def start_daemon() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []

    def start(config: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config)],
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def hits(config: Path) -> list[dict[str, Any]]:
    out = CliRunner().invoke(cli, ["hits", "--json", "--config", str(config)])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def test_daemon_alerts_checks_removal_sweeps_and_stops_cleanly(
    sim: Any,
    receiver: Any,
    daemon_config: Path,
    start_daemon: Any,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    config = _with_intervals(daemon_config, poll_interval=1, recheck_interval=1, sweep_interval=2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        metrics_port = s.getsockname()[1]
    config.write_text(config.read_text() + f'\n[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n')
    notify = NotifySocket(tmp_path / "notify.sock")
    request.addfinalizer(notify.close)
    proc = start_daemon(config, {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000"})
    assert notify.wait_for("READY=1", 15), (notify.messages, proc.stderr)

    # A new matching repo alerts within three intervals.
    created = time.monotonic()
    sim.add_repo("space", "PR-Puppets/PR-Puppet-Sora", created_at=datetime.now(UTC))
    assert receiver.wait_for(1, timeout=3 + 2), "no alert within three poll intervals (+ start-up slack)"
    assert time.monotonic() - created < 5
    assert notify.wait_for("WATCHDOG=1", 5) and notify.wait_for("STATUS=last scan ok", 5)

    # Prometheus metrics: scans, hits, Hub requests, rate limit, outbox, last success.
    import requests

    metrics = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    for name in (
        'leakmon_scans_total{outcome="ok"}',
        "leakmon_hits_total 1.0",
        "leakmon_hub_requests_total",
        "leakmon_hub_ratelimit_remaining",
        'leakmon_outbox{status="delivered"}',
        "leakmon_last_successful_scan_timestamp_seconds",
        "leakmon_errors_total",
    ):
        assert name in metrics, name

    # A second daemon on the same database refuses; one-shot commands work beside the daemon.
    second = subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 2 and "already using" in second.stderr
    runner = CliRunner()
    assert runner.invoke(cli, ["scan", "--config", str(config)]).exit_code == 0
    assert runner.invoke(cli, ["status", "--config", str(config)]).exit_code == 0
    assert [h["repo_id"] for h in hits(config)] == ["PR-Puppets/PR-Puppet-Sora"]

    # A matching repo older than the cursors is found by the sweep.
    sim.add_repo("model", "old-leaker/sora-weights", created_at=NOW - timedelta(days=30))
    assert wait_until(lambda: len(hits(config)) == 2, 15), "the sweep did not find the old repo"

    # A deleted repo becomes `removed`, with a hit.removed webhook.
    sim.remove_repo("space", "PR-Puppets/PR-Puppet-Sora")
    assert wait_until(lambda: any(h["status"] == "removed" for h in hits(config)), 15)
    assert wait_until(lambda: any(d.json["type"] == "hit.removed" for d in receiver.accepted()), 10)

    # SIGTERM: a clean exit 0 within 10 s.
    stopping = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert time.monotonic() - stopping < 10
    assert "STOPPING=1" in "".join(notify.messages) or notify.wait_for("STOPPING=1", 1)
    events = [json.loads(line)["event"] for line in out.splitlines() if line.startswith("{")]
    assert "daemon.ready" in events and "scan.done" in events and events[-1] == "daemon.stopped"
    assert "job.failed" not in events and "scan.type_failed" not in events, out

    created_alerts = [
        d.json["data"]["repo_id"] for d in receiver.accepted() if d.json["type"] == "hit.created"
    ]
    assert sorted(created_alerts) == ["PR-Puppets/PR-Puppet-Sora", "old-leaker/sora-weights"]  # each once


def test_sigkill_and_restart_lose_nothing_and_alert_nothing_twice(
    sim: Any, receiver: Any, daemon_config: Path, start_daemon: Any
) -> None:
    config = _with_intervals(daemon_config, poll_interval=1)
    proc = start_daemon(config)
    sim.add_repo("model", "a/sora-1", created_at=datetime.now(UTC))
    assert receiver.wait_for(1, timeout=15)
    proc.kill()
    proc.communicate(timeout=10)

    sim.add_repo("model", "b/sora-2", created_at=datetime.now(UTC))  # appears while leakmon is down
    restarted = start_daemon(config)
    assert receiver.wait_for(2, timeout=15)
    time.sleep(2.5)  # a few more cycles: nothing is alerted again
    restarted.send_signal(signal.SIGTERM)
    restarted.communicate(timeout=15)
    assert restarted.returncode == 0
    ids = [d.json["data"]["repo_id"] for d in receiver.accepted()]
    assert sorted(ids) == ["a/sora-1", "b/sora-2"]
    assert len({d.headers["webhook-id"] for d in receiver.accepted()}) == 2


@pytest.mark.timeout(30)
def test_notify_never_blocks_when_nobody_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.daemon import notify_systemd

    path = tmp_path / "unread.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        sent = [notify_systemd("WATCHDOG=1") for _ in range(200)]  # far past the datagram queue
    assert sent[0] is True and sent[-1] is False  # dropped with a warning, never a hang
