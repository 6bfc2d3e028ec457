"""The daemon: detection latency (repo created in the simulator -> webhook received) at 5 s and 60 s
poll intervals, and memory after 1,000 idle cycles next to memory after the first.

Latency: 20 matching repos appear at random moments over three poll intervals while `leakmon run`
runs as a subprocess; each latency is the webhook's arrival time minus the repo's creation time.
Both intervals run at the same time (separate simulators, receivers and databases). Expected: about
half an interval on average, at most an interval plus scan and delivery time: the target on the
largest latency is 1.1 intervals (the scan job's jitter is up to 10%) plus 5 s for scan and delivery.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import Figure, Target
from monitor.hubsim import HubSimulator
from monitor.receiver import WebhookReceiver

REPOS = 20
ORDER = 40
TITLE = "Daemon: detection latency and idle memory"
SECRET = "whsec_" + base64.b64encode(b"leakmon-bench-signing-key-32byte").decode()
CONFIG = """
[hub]
endpoint = "{endpoint}"
poll_interval = {interval}
[database]
path = "{db}"
[[watch]]
name = "sora"
terms = ["sora"]
[[notifier]]
name = "bench"
type = "webhook"
url = "{hook}"
secret = "{secret}"
allow_private = true
"""


def latency_run(interval: float, out: dict[float, list[float]]) -> None:
    rng = random.Random(int(interval))
    with (
        tempfile.TemporaryDirectory() as tmp,
        HubSimulator(quota=10**9) as sim,
        WebhookReceiver(SECRET) as hook,
    ):
        config = Path(tmp) / "leakmon.toml"
        config.write_text(
            CONFIG.format(
                endpoint=sim.url, interval=interval, db=Path(tmp) / "l.db", hook=hook.url, secret=SECRET
            )
        )
        env = {**os.environ, "HF_HUB_DISABLE_TELEMETRY": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(2)  # start-up and the first (empty) scan
            created: dict[str, float] = {}
            moments = sorted(rng.uniform(0, 3 * interval) for _ in range(REPOS))
            start = time.time()
            for i, moment in enumerate(moments):
                time.sleep(max(0.0, start + moment - time.time()))
                repo_id = f"leaker{i}/sora-{i}"
                created[repo_id] = time.time()
                sim.add_repo("model", repo_id, created_at=datetime.now(UTC))
            hook.wait_for(REPOS, timeout=2 * interval + 30)
            out[interval] = [d.received_at - created[d.json["data"]["repo_id"]] for d in hook.accepted()]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


def memory_child() -> None:
    from monitor import config as config_mod
    from monitor import logs
    from monitor.daemon import Daemon

    logs.configure(level="critical")
    with tempfile.TemporaryDirectory() as tmp, HubSimulator(quota=10**9) as sim:
        for i in range(50):
            sim.add_repo("model", f"user{i}/model-{i}")
        path = Path(tmp) / "leakmon.toml"
        path.write_text(
            CONFIG.format(
                endpoint=sim.url,
                interval=60,
                db=Path(tmp) / "l.db",
                hook="https://hooks.example.com/x",
                secret=SECRET,
            )
        )
        daemon = Daemon(config_mod.load(path))
        daemon.scanner = daemon._open()

        def rss_mb() -> float:
            pages = int(Path("/proc/self/statm").read_text().split()[1])
            return pages * os.sysconf("SC_PAGE_SIZE") / 2**20

        daemon.scan_job()
        first = rss_mb()
        for _ in range(999):
            daemon.scan_job()
            daemon.relay_job()
        print(json.dumps({"first": first, "after": rss_mb()}))
        daemon.scanner.close()


def run() -> list[Figure]:
    figures: list[Figure] = []
    results: dict[float, list[float]] = {}
    threads = [threading.Thread(target=latency_run, args=(interval, results)) for interval in (5.0, 60.0)]
    mem = subprocess.Popen(
        [sys.executable, "-m", "bench.daemon", "--memory"], stdout=subprocess.PIPE, text=True
    )
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    memory = json.loads(mem.communicate(timeout=600)[0].strip().splitlines()[-1])
    print("Daemon: detection latency, repo created -> webhook received (20 repos per interval)")
    print(f"{'poll interval':<16}{'received':>10}{'median':>10}{'p95':>10}{'max':>10}")
    for interval in (5.0, 60.0):
        lat = sorted(results.get(interval, []))
        label = f"poll every {interval:.0f} s"
        figures.append(
            Figure(TITLE, f"{label}: alerts received", len(lat), "of 20", target=Target("==", REPOS))
        )
        if not lat:
            print(f"{interval:>6.0f} s{'':<9}{0:>10}")
            continue
        p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
        median = statistics.median(lat)
        print(f"{interval:>6.0f} s{'':<9}{len(lat):>10}{median:>9.1f}s{p95:>9.1f}s{lat[-1]:>9.1f}s")
        worst = Target("<=", round(1.1 * interval + 5, 1), "module docstring: an interval + jitter + scan")
        figures += [
            Figure(
                TITLE, f"{label}: median latency", round(median, 1), "s", note="expected ~half an interval"
            ),
            Figure(TITLE, f"{label}: p95 latency", round(p95, 1), "s"),
            Figure(TITLE, f"{label}: max latency", round(lat[-1], 1), "s", target=worst),
        ]
    growth = memory["after"] - memory["first"]
    print(
        f"memory (RSS) after the first idle cycle {memory['first']:.1f} MB, "
        f"after 1,000: {memory['after']:.1f} MB ({growth:+.1f} MB)"
    )
    figures.append(
        Figure(
            TITLE,
            "RSS after 1,000 idle cycles (scan + relay)",
            round(memory["after"], 1),
            "MB",
            round(memory["first"], 1),
            "after the first idle cycle",
        )
    )
    return figures


if __name__ == "__main__":
    if "--memory" in sys.argv:
        memory_child()
    else:
        run()
