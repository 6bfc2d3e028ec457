"""The labelled matcher corpus of issue 3: recall and precision of 1.0 on real-world look-alikes.

tests/data/matcher_corpus.toml holds the watches (a real leakmon config), tests/data/matcher_corpus.tsv
the labelled texts: disguised variants of the watched names, and innocent look-alikes from the Hub's
vocabulary. Every label says why in the file; a failure lists each miss with the matcher's explanation.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from monitor import config
from monitor.matcher import Matcher, split_text

DATA = Path(__file__).parent / "data"
CONFIG = DATA / "matcher_corpus.toml"
CORPUS = DATA / "matcher_corpus.tsv"
COLUMNS = ["text", "expected", "why"]
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


@dataclass(frozen=True)
class Row:
    line: int
    text: str
    expected: frozenset[str]
    why: str


def load_config() -> config.Config:
    return config.parse(tomllib.loads(CONFIG.read_text(encoding="utf-8")), CONFIG.parent, CONFIG)


def load_corpus() -> list[Row]:
    """The rows of the TSV; comment lines start with "#", and the text column's \\uXXXX escapes
    (invisible characters) are decoded."""
    rows: list[Row] = []
    header = None
    for n, line in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if header is None:
            header = fields
            assert header == COLUMNS, f"{CORPUS.name}:{n}: header must be {COLUMNS}, not {header}"
            continue
        assert len(fields) == 3, f"{CORPUS.name}:{n}: expected 3 tab-separated columns, got {len(fields)}"
        text, expected, why = fields
        text = _ESCAPE.sub(lambda m: chr(int(m[1], 16)), text)
        names = frozenset() if expected == "-" else frozenset(x.strip() for x in expected.split(","))
        rows.append(Row(n, text, names, why.strip()))
    return rows


@cache
def corpus() -> tuple[tuple[Row, ...], config.Config, Matcher]:
    cfg = load_config()
    return tuple(load_corpus()), cfg, Matcher(cfg.watches, cfg.allowlist)


def test_config_is_a_real_leakmon_config() -> None:
    _, cfg, _ = corpus()
    assert 5 <= len(cfg.watches) <= 8
    kinds = {
        "ignore_authors": any(w.ignore_authors for w in cfg.watches),
        "exclude": any(w.exclude for w in cfg.watches),
        "owners": any(w.owners for w in cfg.watches),
        "patterns": any(w.patterns for w in cfg.watches),
        "multi-word term": any(len(t.split()) > 1 for w in cfg.watches for t in w.terms),
        "versioned term": any(re.search(r"\d", t) for w in cfg.watches for t in w.terms),
        "allowlist": bool(cfg.allowlist),
    }
    assert all(kinds.values()), kinds


def test_corpus_shape() -> None:
    rows, cfg, _ = corpus()
    names = {w.name for w in cfg.watches}
    assert len(rows) >= 300
    positives = [r for r in rows if r.expected]
    assert len(positives) * 3 >= len(rows), f"{len(positives)} positive rows of {len(rows)}"
    assert len(rows) - len(positives) >= len(rows) // 3, "look-alikes must be well represented"
    problems = []
    seen: dict[str, int] = {}
    for r in rows:
        if not r.why:
            problems.append(f"line {r.line}: {r.text!r} has no why")
        if r.text in seen:
            problems.append(f"line {r.line}: {r.text!r} repeats line {seen[r.text]}")
        seen.setdefault(r.text, r.line)
        unknown = r.expected - names
        if unknown:
            problems.append(f"line {r.line}: {r.text!r} names unknown watches {sorted(unknown)}")
        if r.text != r.text.strip() or "\t" in r.text:
            problems.append(f"line {r.line}: {r.text!r} has surrounding whitespace or a tab")
    assert not problems, "\n".join(problems)
    # Every watch is exercised both ways, in repo ids and in titles.
    for name in names:
        mine = [r for r in rows if name in r.expected]
        assert any(split_text(r.text)[2] == "repo_id" for r in mine), f"no repo id matches {name}"
        assert any(split_text(r.text)[2] == "title" for r in mine), f"no title matches {name}"


def test_recall_and_precision_are_one() -> None:
    rows, _, matcher = corpus()
    true_pos = false_pos = false_neg = 0
    failures = []
    for r in rows:
        got = {m.watch for m in matcher.match_text(r.text)}
        tp, fp, fn = got & r.expected, got - r.expected, r.expected - got
        true_pos += len(tp)
        false_pos += len(fp)
        false_neg += len(fn)
        if fp or fn:
            what = [f"false positive {sorted(fp)}"] * bool(fp) + [f"false negative {sorted(fn)}"] * bool(fn)
            explanation = "\n".join(f"    {x}" for x in matcher.explain(r.text).lines())
            failures.append(f"line {r.line}: {r.text!r}: {', '.join(what)} (why: {r.why})\n{explanation}")
    recall = true_pos / ((true_pos + false_neg) or 1)
    precision = true_pos / ((true_pos + false_pos) or 1)
    summary = f"recall {recall:.4f}, precision {precision:.4f} over {len(rows)} rows"
    assert (recall, precision) == (1.0, 1.0), summary + "\n" + "\n".join(failures)


def test_filtered_look_alikes_match_without_the_filters() -> None:
    """The look-alikes that ignore_authors, exclude or the allowlist silence ("why" says which) do
    match without those filters: they test the filters, not a blind spot of the terms."""
    rows, cfg, _ = corpus()
    bare = Matcher([replace(w, ignore_authors=(), exclude=()) for w in cfg.watches])
    filtered = [r for r in rows if re.match(r"(ignore_authors|exclude|global allowlist)\b", r.why)]
    assert len(filtered) >= 20
    unmatched = [f"line {r.line}: {r.text!r}" for r in filtered if not bare.match_text(r.text)]
    assert not unmatched, "\n".join(unmatched)
