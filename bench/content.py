"""What fingerprints and content cost (issue 6): extra Hub requests and bytes per new repo for each
tier, and the share of the Hub's API and resolver quotas a day of typical traffic takes.

A day of typical Hub traffic (hub-api.md, "Volume": about 100 models, 20 datasets and 80 Spaces an
hour) from the simulator's noise generator, plus the leaks of the `fingerprints` scenario, is
scanned twice on fresh databases: with names only, and with a lab's full config (a name watch, a
GGUF metadata fingerprint, a config.json fingerprint, 20 known sha256, content strings). Every
request the simulator logged is sorted into listings, API repo reads and resolver file reads.

Baseline, measured in the same run: probing every new repo (its file list and every small text file
it has) with no cheap tier to rule repos out, on a sample of each type.
"""

from __future__ import annotations

import hashlib
import random
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from bench import Figure, Target
from monitor.hubsim import HubSimulator
from monitor.hubsim.scenario import read_scenario

ORDER = 25
TITLE = "Content tier: a day of typical Hub traffic"
PER_HOUR = {"model": 100, "dataset": 20, "space": 80}
DAY = {t: n * 24 for t, n in PER_HOUR.items()}
SCANS_PER_DAY = 24 * 3600 // 300  # the default poll interval
QUOTAS = {  # requests per 5-minute window (hub-api.md, September 2025)
    "anonymous": {"api": 500, "resolvers": 3_000},
    "free account": {"api": 1_000, "resolvers": 5_000},
}
SAMPLE = 200  # repos per type probed by the baseline
KNOWN = [hashlib.sha256(f"lab checkpoint {i}".encode()).hexdigest() for i in range(19)]
KNOWN.append("f3c76204089fba31f50544f6bf83d406c7570d8c25a9f4941b4abdb2bbd36bdb")  # in the scenario

NAMES = """
[[watch]]
name = "medium"
terms = ["mistral-medium", "aurora-13b"]
"""
LAB = (
    NAMES
    + """content = ["video-preview.internal.example", "api.internal.example/v2"]
content_patterns = ['sk-sora-[A-Za-z0-9]{20}']
  [[watch.fingerprint]]
  architecture = "llama"
  context_length = 32764
  parameters = 68_976_648_192
  tolerance = 0.01
  [[watch.fingerprint]]
  architecture = "llama"
  hidden_size = 5120
  num_hidden_layers = 48
  vocab_size = 100352
  [[watch.fingerprint]]
  sha256 = [SHA256S]
""".replace("SHA256S", ", ".join(f'"{h}"' for h in KNOWN))
)
CONFIG = """
[hub]
endpoint = "{endpoint}"
lookback = 90000
[database]
path = "{db}"
[content]
max_requests = {budget}
max_bytes = 100_000_000_000
{watches}
"""


def _kind(path: str) -> str:
    if path in ("/api/models", "/api/datasets", "/api/spaces"):
        return "listing"
    if path.startswith("/api/"):
        return "api"
    return "resolvers" if "/resolve/" in path else "other"


def _repo_of(path: str) -> tuple[str, str] | None:
    """(repo type, repo id) a content request concerns."""
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) >= 4:
        return {"models": "model", "datasets": "dataset", "spaces": "space"}[parts[1]], "/".join(parts[2:4])
    if "resolve" in parts:
        if parts[0] in ("datasets", "spaces"):
            return parts[0][:-1], "/".join(parts[1:3])
        return "model", "/".join(parts[0:2])
    return None


def _scan(sim: HubSimulator, tmp: Path, name: str, watches: str, budget: int) -> dict[str, Any]:
    from monitor import config
    from monitor.scanner import open_scanner

    path = tmp / f"{name}.toml"
    path.write_text(CONFIG.format(endpoint=sim.url, db=tmp / f"{name}.db", budget=budget, watches=watches))
    sim.clear_log()
    scanner = open_scanner(config.load(path))
    try:
        started = time.perf_counter()
        result = scanner.run_once()
        seconds = time.perf_counter() - started
        hits = scanner.store.list_hits()
    finally:
        scanner.close()
    log = sim.requests()
    by_kind = Counter(_kind(r.path) for r in log)
    hit_repos = {(h["repo_type"], h["repo_id"]) for h in hits}
    content_by_type: Counter[tuple[str, str]] = Counter()
    evidence: Counter[str] = Counter()
    for r in log:
        kind = _kind(r.path)
        repo = _repo_of(r.path) if kind in ("api", "resolvers") else None
        if repo is None:
            continue
        content_by_type[(repo[0], kind)] += 1
        if repo in hit_repos:
            evidence[kind] += 1
    return {
        "result": result,
        "seconds": seconds,
        "by_kind": by_kind,
        "content_by_type": content_by_type,
        "evidence": evidence,
        "hits": sorted(f"{h['repo_type']} {h['repo_id']} ({h['matches'][0]['rule']})" for h in hits),
        "by_evidence": sum(
            1 for h in hits if h["matches"][0]["rule"] in ("fingerprint", "sha256", "content")
        ),
    }


def _listing_bytes(sim: HubSimulator, expand: dict[str, list[str]]) -> dict[str, int]:
    """Bytes of the first listing page of each type with these `expand` fields."""
    out = {}
    for repo_type, fields in expand.items():
        params = [("sort", "createdAt"), ("limit", "1000"), *(("expand", f) for f in fields)]
        body = requests.get(f"{sim.url}/api/{repo_type}s", params=params, timeout=30).content
        out[repo_type] = len(body)
    return out


def _baseline(sim: HubSimulator, ids: dict[str, list[str]]) -> dict[str, tuple[float, float]]:
    """Probe every repo of a sample: its file list, then every small text file it holds."""
    from monitor.errors import HubError
    from monitor.hub import HubSource

    texts = ("README.md", "config.json", "app.py", "requirements.txt", "Dockerfile", "main.py")
    out = {}
    with HubSource(sim.url, timeout=30) as hub:
        for repo_type, sample in ids.items():
            before, bytes_before = hub.requests, hub.bytes_read
            for repo_id in sample:
                try:
                    _, files = hub.repo_files(repo_type, repo_id)  # type: ignore[arg-type]
                    for f in files:
                        if f["path"] in texts:
                            hub.read_file(repo_type, repo_id, f["path"], max_bytes=262_144)  # type: ignore[arg-type]
                except HubError:
                    pass
            n = max(len(sample), 1)
            out[repo_type] = ((hub.requests - before) / n, (hub.bytes_read - bytes_before) / n)
    return out


def measure() -> dict[str, Any]:
    scenario = read_scenario("fingerprints")
    scenario["noise"] = [
        {"type": t, "count": n, "within": "24h", "seed": 70 + i} for i, (t, n) in enumerate(DAY.items())
    ]
    with tempfile.TemporaryDirectory() as tmp, HubSimulator(quota=10**9, resolver_quota=10**9) as sim:
        sim.load_scenario(scenario)
        new = {t: sim.repo_count(t) for t in DAY}
        names = _scan(sim, Path(tmp), "names", NAMES, budget=0)
        lab = _scan(sim, Path(tmp), "lab", LAB, budget=10**9)
        base_expand = {"model": ["createdAt", "author", "cardData", "tags", "baseModels"],
                       "dataset": ["createdAt", "author", "cardData", "tags"],
                       "space": ["createdAt", "author", "cardData", "tags", "models"]}  # fmt: skip
        lab_expand = {
            "model": [*base_expand["model"], "safetensors", "gguf", "config", "siblings"],
            "dataset": [*base_expand["dataset"], "siblings"],
            "space": [*base_expand["space"], "siblings"],
        }
        listing_plain = _listing_bytes(sim, base_expand)
        listing_lab = _listing_bytes(sim, lab_expand)
        rng = random.Random(5)
        sample = {}
        for t in DAY:
            page = requests.get(
                f"{sim.url}/api/{t}s", params={"limit": 1000, "sort": "createdAt"}, timeout=30
            )
            sample[t] = rng.sample([item["id"] for item in page.json()], SAMPLE)
        baseline = _baseline(sim, sample)
    return {
        "new": new,
        "names": names,
        "lab": lab,
        "listing_plain": listing_plain,
        "listing_lab": listing_lab,
        "baseline": baseline,
    }


def run() -> list[Figure]:
    r = measure()
    new, lab, names = r["new"], r["lab"], r["names"]
    total_new = sum(new.values())
    c = lab["result"].content
    print(
        f"Content tier: one day of typical Hub traffic ({new['model']:,} models, "
        f"{new['dataset']:,} datasets, {new['space']:,} Spaces),\n  a lab config: GGUF and config.json"
        f" fingerprints, {len(KNOWN)} sha256, content strings"
    )
    print(f"{'tier':<52}{'requests/new repo':>18}{'bytes/new repo':>16}")
    listing_extra = sum(r["listing_lab"][t] - r["listing_plain"][t] for t in DAY) / sum(
        min(new[t], 1000) for t in DAY
    )
    print(f"{'names only (listings)':<52}{names['by_kind']['listing'] / total_new:>18.4f}{'':>16}")
    print(f"{'cheap tier (listing expand fields)':<52}{0:>18.4f}{listing_extra:>16,.0f}")
    figures = {}
    for t in DAY:
        api = lab["content_by_type"][(t, "api")]
        res = lab["content_by_type"][(t, "resolvers")]
        per = (api + res) / max(new[t], 1)
        figures[t] = per
        print(f"{f'content tier, {t}s (API {api:,}, files {res:,})':<52}{per:>18.3f}{'':>16}")
    content_bytes = c.bytes_read / total_new if c else 0.0
    content_requests = (c.hub_requests if c else 0) / total_new
    print(f"{'content tier, all types (incl. evidence)':<52}{content_requests:>18.3f}{content_bytes:>16,.0f}")
    hits = max(len(lab["hits"]), 1)
    ev = lab["evidence"]
    print(f"{'evidence, per hit':<52}{(ev['api'] + ev['resolvers']) / hits:>18.2f}{'':>16}")
    for t, (req, byt) in r["baseline"].items():
        print(f"{f'baseline: probe every new {t} (no cheap tier)':<52}{req:>18.3f}{byt:>16,.0f}")
    print(f"hits: {', '.join(lab['hits'])}")

    # A day: three listings per scan (an idle scan's cost; new repos add a page per 1,000), plus the
    # content tier's day of work spread over the day's scans.
    api_day = 3 * SCANS_PER_DAY + lab["by_kind"]["api"]
    res_day = lab["by_kind"]["resolvers"]
    print(
        f"{'Quota share of a day (1 scan / 5 min)':<52}{'API':>10}{'resolvers':>12}   an average 5-min window"
    )
    shares = {}
    for plan, q in QUOTAS.items():
        api_share = api_day / (q["api"] * SCANS_PER_DAY)
        res_share = res_day / (q["resolvers"] * SCANS_PER_DAY)
        window_api = (3 + lab["by_kind"]["api"] / SCANS_PER_DAY) / q["api"]
        window_res = (lab["by_kind"]["resolvers"] / SCANS_PER_DAY) / q["resolvers"]
        shares[plan] = (api_share, res_share)
        print(
            f"{plan:<52}{api_share:>10.2%}{res_share:>12.2%}   API {window_api:.1%},"
            f" resolvers {window_res:.1%} (cap: hub.max_quota_share, 50%)"
        )
    out = [
        Figure(
            TITLE,
            f"extra requests per new {t} (content tier)",
            per,
            "requests",
            baseline=r["baseline"][t][0],
            baseline_name=f"probing every new {t}",
        )
        for t, per in figures.items()
    ]
    base_bytes = sum(r["baseline"][t][1] * new[t] for t in DAY) / total_new
    out += [
        Figure(TITLE, "extra bytes per new repo (content tier)", content_bytes, "bytes",
               baseline=base_bytes, baseline_name="probing every new repo"),
        Figure(
            TITLE, "extra listing bytes per new repo (cheap tier)", listing_extra, "bytes", note="0 requests"
        ),
        Figure(TITLE, "requests per hit for its evidence", (ev["api"] + ev["resolvers"]) / hits, "requests"),
        Figure(TITLE, "leaks found (metadata, config.json, sha256, content)", lab["by_evidence"], "of 4",
               target=Target(">=", 4, "issue 6 scenarios")),
    ]  # fmt: skip
    for plan, (api_share, res_share) in shares.items():
        cap = Target("<=", 0.5, "hub.max_quota_share (issue 5)")
        out.append(Figure(TITLE, f"share of a day's API quota, {plan}", api_share, "", target=cap))
        out.append(Figure(TITLE, f"share of a day's resolver quota, {plan}", res_share, "", target=cap))
    return out


if __name__ == "__main__":
    from monitor import logs

    logs.configure(level="warning")
    run()
