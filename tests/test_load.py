"""Load: a spam burst of 50,000 new repos in one poll interval, against the anonymous rate limit.

`leakmon scan` runs as a subprocess (the real CLI, the real huggingface_hub client) against the
simulator with the Hub's anonymous API quota (500 requests per 5-minute window). It must read the
whole burst within its share of that quota (`max_quota_share`, 0.5 by default) without a single
429, find the two leaks hidden in it, and hold one page at a time: its peak memory may grow over an
idle scan's by only a fraction of what holding every page costs (measured in the same run by a
child that lists the same burst and keeps it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config

BURST = 50_000
QUOTA, WINDOW = 500, 300  # anonymous API limit (hub-api.md)
SPAM_TAGS = ["transformers", "safetensors", "text-generation", "conversational", "license:mit", "region:us"]

# Runs a command, passes its stdout on, then prints a last line: the command's peak RSS in KB (the
# only child this wrapper waited for, so no earlier test's process counts) and its exit code.
PEAK = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE);"
    " sys.stdout.buffer.write(r.stdout + b'\\n');"
    " print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)"
)
# Lists the same burst through leakmon's HubSource and keeps every page: what not streaming costs.
HOLD_ALL = """
import sys
from datetime import datetime, timedelta
from monitor.hub import HubSource
from monitor.matcher import Matcher
source = HubSource(sys.argv[1])
since = datetime.fromisoformat(sys.argv[2])
fields = Matcher.required_fields
pages = [p for t in ("model", "dataset", "space") for p in source.iter_new(t, since, fields[t])]
print(sum(map(len, pages)))
"""


def peak_kb(*command: str) -> tuple[int, int, str]:
    """(peak RSS in KB, exit code, stdout) of a command run in a fresh child process."""
    proc = subprocess.run(
        [sys.executable, "-c", PEAK, *command], capture_output=True, text=True, timeout=300, check=True
    )
    out, _, last = proc.stdout.rstrip("\n").rpartition("\n")
    kb, code = last.split()
    return int(kb), int(code), out + proc.stderr[-2000:] if int(code) else out


def spam_burst(sim: Any, start: datetime, span: timedelta) -> tuple[str, str]:
    """BURST repos created within `span` after `start` (80% models, 10% datasets, 10% Spaces), with
    two leaks among them: a model in the middle and a Space among the oldest (the last page)."""
    step = span / BURST
    leaks = ("quiet-user/sora-2-weights-leak", "pr-puppets/PR-Puppet-Sora")
    for i in range(BURST):
        repo_type = "model" if i % 10 < 8 else ("dataset" if i % 10 == 8 else "space")
        repo_id = f"spam{i % 997}/free-gpt-{i}-crypto-airdrop"
        if i == BURST // 2:
            repo_type, repo_id = "model", leaks[0]
        elif i == 3:
            repo_type, repo_id = "space", leaks[1]
        sim.add_repo(repo_type, repo_id, created_at=start + i * step, tags=SPAM_TAGS)
    return leaks


@pytest.mark.timeout(300)
def test_spam_burst_of_50000_within_the_rate_limit_and_bounded_memory(sim: Any, tmp_path: Path) -> None:
    sim.set_quota(QUOTA, WINDOW)
    now = datetime.now(UTC)
    sim.add_repo("model", "someone/yesterdays-model", created_at=now - timedelta(seconds=900))
    config = write_config(tmp_path / "leakmon.toml", endpoint=sim.url)
    cli = ("-m", "monitor", "scan", "--json", "--config", str(config))

    idle_kb, code, out = peak_kb(sys.executable, *cli)  # the first scan sets the cursors
    assert code == 0, out
    leaks = spam_burst(sim, now - timedelta(seconds=300), timedelta(seconds=299))
    sim.clear_log()

    burst_kb, code, out = peak_kb(sys.executable, *cli)
    assert code == 0, out
    result = json.loads(out)
    assert result["outcome"] == "ok" and result["repos_read"] >= BURST
    assert sorted(h["repo_id"] for h in result["new_hits"]) == sorted(leaks)

    requests = sim.requests()
    assert [r for r in requests if r.status == 429] == []
    assert len(requests) == result["hub_requests"] <= QUOTA // 2  # max_quota_share = 0.5 by default
    assert len(requests) >= BURST // 1000  # pages of 1000: it really paged through the burst

    since = (now - timedelta(hours=1)).isoformat()
    hold_kb, _, listed = peak_kb(sys.executable, "-c", HOLD_ALL, sim.url, since)
    assert int(listed) >= BURST
    growth, hold_growth = burst_kb - idle_kb, hold_kb - idle_kb
    print(f"requests {len(requests)}; peak RSS KB: idle {idle_kb}, burst {burst_kb}, holding all {hold_kb}")
    assert hold_growth > 20_000, f"holding every page cost only {hold_growth} KB: the bound below is void"
    assert growth < hold_growth / 3, f"scan grew {growth} KB over idle; holding all pages: {hold_growth} KB"
