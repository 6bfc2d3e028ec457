"""Matcher throughput: 1,000 watched terms over 1,000,000 repo names, on one core.

Baseline, measured in the same run: a naive loop that calls rapidfuzz for each term on each token
of each name (what a monitor without an index does). Names are realistic: ids the Hub simulator's
noise generator builds from real Hub names, varied with owners and suffixes. Peak memory is the
child process's maximum resident set size, with the matcher built and the names in memory.
Target (issue 3): at least 100,000 names per second, peak memory under 300 MB.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import time
from datetime import UTC, datetime

from bench import Figure, Target

NAMES = 1_000_000
TERMS = 1_000
NAIVE_SAMPLE = 2_000
ORDER = 20
TITLE = "Matcher throughput (1,000 terms, 1,000,000 names, one core)"

_SYLLABLES = (
    "ka",
    "ri",
    "no",
    "va",
    "te",
    "lu",
    "mi",
    "so",
    "ze",
    "ra",
    "po",
    "qu",
    "xi",
    "da",
    "fe",
    "gor",
    "lin",
    "tar",
    "vex",
    "mon",
    "dri",
    "sal",
    "ter",
    "ion",
    "ark",
    "bel",
    "cy",
)


def watched_terms(rng: random.Random) -> list[str]:
    """1,000 unreleased-model-like names: one word, two words, or a word with a version."""
    terms: set[str] = set()
    while len(terms) < TERMS:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        shape = rng.random()
        if shape < 0.5:
            terms.add(word)
        elif shape < 0.8:
            terms.add(f"{word}-{''.join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))}")
        else:
            terms.add(f"{word}-{rng.randint(1, 9)}")
    return sorted(terms)


def repo_names(rng: random.Random, count: int) -> list[str]:
    from monitor.hubsim.scenario import noise_specs

    now = datetime.now(UTC)
    base: list[str] = []
    for repo_type, n in (("model", 12_000), ("dataset", 3_000), ("space", 5_000)):
        base += [rid for _, rid, _ in noise_specs({"type": repo_type, "count": n, "seed": 7}, now)]
    suffixes = ("", "", "", "-v2", "-gguf", "-lora", "-4bit", "-merged", "-dpo", "-test", "-final", "-exp")
    names = []
    for _ in range(count):
        owner, name = rng.choice(base).split("/", 1)
        if rng.random() < 0.6:
            name = (
                f"{name}{rng.choice(suffixes)}{'-' + str(rng.randint(1, 999)) if rng.random() < 0.2 else ''}"
            )
        names.append(f"{owner}/{name}")
    return names


def child() -> None:
    import resource

    from monitor.config import WatchConfig
    from monitor.matcher import Matcher
    from monitor.records import Repo

    rng = random.Random(11)
    terms = watched_terms(rng)
    names = repo_names(rng, NAMES)
    watches = [
        WatchConfig(name=f"w{i}", terms=tuple(terms[i * 10 : i * 10 + 10])) for i in range(TERMS // 10)
    ]
    built = time.perf_counter()
    matcher = Matcher(watches)
    build_s = time.perf_counter() - built
    when = datetime.now(UTC)

    started = time.perf_counter()
    hits = 0
    for repo_id in names:
        if matcher.match_repo(Repo("model", repo_id, when)):
            hits += 1
    ours = NAMES / (time.perf_counter() - started)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    from rapidfuzz.distance import DamerauLevenshtein

    split = re.compile(r"[^a-z0-9]+")
    keys = [t.replace("-", "") for t in terms]
    sample = names[:NAIVE_SAMPLE]
    started = time.perf_counter()
    for repo_id in sample:
        toks = [t for t in split.split(repo_id.split("/", 1)[-1].lower()) if t]
        candidates = toks + ["".join(toks[i : i + 2]) for i in range(len(toks) - 1)]
        for key in keys:
            for tok in candidates:
                if DamerauLevenshtein.distance(tok, key, score_cutoff=1) <= 1:
                    break
    naive = NAIVE_SAMPLE / (time.perf_counter() - started)
    print(json.dumps({"ours": ours, "naive": naive, "peak_mb": peak_mb, "build_s": build_s, "hits": hits}))


def run() -> list[Figure]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.matcher_speed", "--child"], capture_output=True, text=True, check=True
    )
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"Matcher: {TERMS:,} watched terms over {NAMES:,} repo names, one core")
    print(f"{'':<36}{'names/s':>12}{'target':>14}")
    print(f"{'leakmon (index)':<36}{r['ours']:>12,.0f}{'>= 100,000':>14}")
    print(f"{'naive loop, rapidfuzz per term':<36}{r['naive']:>12,.0f}")
    print(f"{'ratio':<36}{r['ours'] / r['naive']:>11,.0f}x")
    print(
        f"peak memory {r['peak_mb']:.0f} MB (target < 300 MB); index built in {r['build_s']:.2f} s; "
        f"{r['hits']:,} names matched"
    )
    return [
        Figure(
            TITLE,
            "names per second",
            round(r["ours"]),
            "names/s",
            round(r["naive"]),
            "naive loop, rapidfuzz per term",
            Target(">=", 100_000, "issue 3"),
        ),
        Figure(
            TITLE,
            "peak memory (matcher built, names in memory)",
            round(r["peak_mb"]),
            "MB",
            target=Target("<", 300, "issue 3"),
        ),
        Figure(TITLE, "index build time", round(r["build_s"], 2), "s"),
    ]


if __name__ == "__main__":
    if "--child" in sys.argv:
        child()
    else:
        run()
