"""A spam burst: 50,000 new repos in one poll interval, scanned at the Hub's anonymous rate limit.

`leakmon scan` runs as a child process against the simulator set to 500 API requests per 5-minute
window; two leaks hide in the burst. Figures: Hub requests (target: within `max_quota_share` = 0.5
of the window, issue 8), the leaks found, and the scan's peak RSS next to two baselines measured in
the same run: an idle scan, and a child that lists the same burst through leakmon's HubSource and
keeps every page (what a scan that does not stream would hold).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import Figure, Target
from monitor.hubsim import HubSimulator

ORDER = 30
TITLE = "Spam burst: 50,000 new repos in one interval, anonymous rate limit"
BURST = 50_000
QUOTA, WINDOW = 500, 300
TAGS = ["transformers", "safetensors", "text-generation", "conversational", "license:mit", "region:us"]
LEAKS = ("quiet-user/sora-2-weights-leak", "pr-puppets/PR-Puppet-Sora")
CONFIG = """
[hub]
endpoint = "{endpoint}"
[database]
path = "burst.db"
[[watch]]
name = "sora"
terms = ["sora"]
"""
# Runs a command, passes its stdout on, then prints its peak RSS (KB) and exit code on a last line.
PEAK = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE);"
    " sys.stdout.buffer.write(r.stdout + b'\\n');"
    " print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)"
)
HOLD_ALL = """
import sys
from datetime import datetime
from monitor.hub import HubSource
from monitor.matcher import Matcher
source = HubSource(sys.argv[1])
since = datetime.fromisoformat(sys.argv[2])
fields = Matcher.required_fields
pages = [p for t in ("model", "dataset", "space") for p in source.iter_new(t, since, fields[t])]
print(sum(map(len, pages)))
"""


def peak(*command: str) -> tuple[float, str]:
    """(peak RSS in MB, stdout) of a command in a fresh child process."""
    proc = subprocess.run([sys.executable, "-c", PEAK, *command], capture_output=True, text=True, check=True)
    out, _, last = proc.stdout.rstrip("\n").rpartition("\n")
    kb, code = last.split()
    if int(code) not in (0, 1):
        raise RuntimeError(f"{command[1:3]} exited {code}: {proc.stderr[-500:]}")
    return int(kb) / 1024, out


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp, HubSimulator(quota=QUOTA, window=WINDOW) as sim:
        now = datetime.now(UTC)
        sim.add_repo("model", "someone/yesterdays-model", created_at=now - timedelta(seconds=900))
        config = Path(tmp) / "leakmon.toml"
        config.write_text(CONFIG.format(endpoint=sim.url))
        scan = (sys.executable, "-m", "monitor", "scan", "--json", "--config", str(config))
        idle_mb, _ = peak(*scan)
        start, step = now - timedelta(seconds=300), timedelta(seconds=299) / BURST
        for i in range(BURST):
            repo_type = "model" if i % 10 < 8 else ("dataset" if i % 10 == 8 else "space")
            repo_id = f"spam{i % 997}/free-gpt-{i}-crypto-airdrop"
            if i == BURST // 2:
                repo_type, repo_id = "model", LEAKS[0]
            elif i == 3:
                repo_type, repo_id = "space", LEAKS[1]
            sim.add_repo(repo_type, repo_id, created_at=start + i * step, tags=TAGS)
        sim.clear_log()
        tick = time.monotonic()
        scan_mb, out = peak(*scan)
        seconds = time.monotonic() - tick
        result = json.loads(out)
        requests = len(sim.requests())
        limited = len(sim.requests(status=429))
        found = sum(h["repo_id"] in LEAKS for h in result["new_hits"])
        since = (now - timedelta(hours=1)).isoformat()
        hold_mb, _ = peak(sys.executable, "-c", HOLD_ALL, sim.url, since)
    print(f"Spam burst: {BURST:,} new repos in one interval, simulator at {QUOTA} requests / {WINDOW} s")
    print(f"{'':<44}{'leakmon scan':>14}{'baseline':>12}")
    print(
        f"{'Hub requests (target: at most 250, half the quota)':<44}{requests:>14}{'':>12}  {limited} got 429"
    )
    print(f"{'leaks found (of 2)':<44}{found:>14}")
    print(f"{'peak RSS, MB (baseline: idle scan)':<44}{scan_mb:>14.1f}{idle_mb:>12.1f}")
    print(f"{'peak RSS, MB (baseline: holding every page)':<44}{scan_mb:>14.1f}{hold_mb:>12.1f}")
    print(f"scan took {seconds:.1f} s for {result['repos_read']:,} repos")
    quota = Target("<=", QUOTA // 2, "issue 8: within the rate limit (max_quota_share 0.5 of 500/5 min)")
    return [
        Figure(TITLE, "Hub requests", requests, "requests", target=quota, note=f"{limited} answered 429"),
        Figure(TITLE, "leaks found", found, "of 2", target=Target("==", len(LEAKS), "issue 8")),
        Figure(TITLE, "scan peak RSS", round(scan_mb, 1), "MB", round(idle_mb, 1), "idle scan"),
        Figure(
            TITLE,
            "scan peak RSS",
            round(scan_mb, 1),
            "MB",
            round(hold_mb, 1),
            "a child holding every page of the burst",
            Target("<", round(idle_mb + (hold_mb - idle_mb) / 3, 1), "issue 8: bounded memory"),
            note="target: a third of what holding every page adds",
        ),
        Figure(TITLE, "scan wall time", round(seconds, 1), "s", note=f"{result['repos_read']:,} repos read"),
    ]


if __name__ == "__main__":
    run()
