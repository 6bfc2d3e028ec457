"""Hub requests per scan: leakmon's listing scan against one `search=` listing per term and repo type.

Both run against the Hub simulator with the real huggingface_hub client, in the same run; requests
are counted in the simulator's log. The per-term approach is what many monitors do; it also misses
leetspeak, typos and titles, since `search=` is a substring match on repo ids only.
Target (README, "How a scan works"): an idle scan costs one request per repo type, whatever the
number of watches.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from huggingface_hub import HfApi

from bench import Figure, Target
from monitor import config
from monitor.dispatch import Relay
from monitor.hub import HubSource
from monitor.hubsim import HubSimulator
from monitor.scanner import Scanner
from monitor.store import Store

TYPES = ("model", "dataset", "space")
ORDER = 10
TITLE = "Hub requests per scan"


def _config(tmp: Path, endpoint: str, terms: int) -> Path:
    text = f'[hub]\nendpoint = "{endpoint}"\n[database]\npath = "bench-{terms}.db"\n'
    text += "".join(f'\n[[watch]]\nname = "w{i}"\nterms = ["secretmodel{i}"]\n' for i in range(terms))
    path = tmp / f"bench-{terms}.toml"
    path.write_text(text)
    return path


def leakmon_scan(sim: HubSimulator, cfg_path: Path) -> int:
    cfg = config.load(cfg_path)
    store = Store.open(cfg.database.path)
    source = HubSource.from_config(cfg.hub)
    scanner = Scanner(cfg, store, source, Relay(store, {}), delivery_wait=0)
    try:
        sim.clear_log()
        scanner.run_once()
        return len(sim.requests())
    finally:
        scanner.close()


def per_term_scan(sim: HubSimulator, terms: int, since: datetime) -> int:
    api = HfApi(endpoint=sim.url, token=False)
    listers = {"model": api.list_models, "dataset": api.list_datasets, "space": api.list_spaces}
    sim.clear_log()
    for i in range(terms):
        for repo_type in TYPES:
            for item in listers[repo_type](search=f"secretmodel{i}", sort="created_at"):
                if item.created_at and item.created_at < since:
                    break
    return len(sim.requests())


def run() -> list[Figure]:
    figures: list[Figure] = []
    baseline = "one search= listing per term and type"
    idle_target = Target("<=", len(TYPES), "README: one request per repo type when idle")
    print("Hub requests per scan (simulator, 3 repo types; lower is better)")
    print(f"{'scenario':<34}{'leakmon':>10}{'per-term search':>18}{'ratio':>9}")
    now = datetime.now(UTC)
    for terms in (10, 100):
        with tempfile.TemporaryDirectory() as tmp, HubSimulator(quota=10**9) as sim:
            for i in range(200):  # yesterday's repos, already read by the first scan
                sim.add_repo(
                    TYPES[i % 3], f"old{i}/repo-{i}", created_at=now - timedelta(hours=20, seconds=i)
                )
            cfg_path = _config(Path(tmp), sim.url, terms)
            leakmon_scan(sim, cfg_path)  # first scan: sets the cursors
            since = now - timedelta(minutes=10)
            idle_ours = leakmon_scan(sim, cfg_path)
            idle_theirs = per_term_scan(sim, terms, since)
            label = f"idle, {terms} terms"
            print(f"{label:<34}{idle_ours:>10}{idle_theirs:>18}{idle_theirs / idle_ours:>8.1f}x")
            figures.append(
                Figure(TITLE, label, idle_ours, "requests", idle_theirs, baseline, target=idle_target)
            )
            base = datetime.now(UTC)
            for i in range(2500):
                sim.add_repo("model", f"user{i % 300}/model-{i}", created_at=base - timedelta(seconds=i))
            busy_ours = leakmon_scan(sim, cfg_path)
            busy_theirs = per_term_scan(sim, terms, since)
            label = f"busy (2,500 new), {terms} terms"
            print(f"{label:<34}{busy_ours:>10}{busy_theirs:>18}{busy_theirs / busy_ours:>8.1f}x")
            figures.append(
                Figure(TITLE, label, busy_ours, "requests", busy_theirs, baseline, note="pages of 1,000")
            )
    return figures


if __name__ == "__main__":
    run()
