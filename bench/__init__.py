"""Reproducible benchmarks: each measures its figures next to a baseline measured in the same run.

`make bench` (`python -m bench`) runs every benchmark module of this package, prints each one's
table as it goes, and writes `bench/RESULTS.md`: the machine (CPU model, cores, RAM, Python, OS),
the date, and every figure with its baseline and, where an issue or the docs set one, its target
and whether it was met. `python -m bench NAME...` runs only the named modules (and writes nothing).

Plugging in a benchmark: add a module `bench/<name>.py` with one function

    def run() -> list[Figure]:
        ...  # measure; print a human-readable table as the existing modules do
        return [Figure("Content tier", "requests per new repo", 1.2, "requests",
                       baseline=4.0, baseline_name="probing every new repo",
                       target=Target("<=", 2), note="issue N")]

and, optionally, `ORDER = <int>` (modules run by ORDER, then by name; default 100) and `TITLE`.
`bench/__main__.py` discovers every module of this package that defines `run`; nothing else needs
changing. A module that needs a fresh process (to measure peak memory, say) runs itself as a child,
as `matcher_speed` does. Figures carry plain numbers; `Figure.passed` compares `value` with the
target. Keep the work bounded (the machine has 2 cores) and on 127.0.0.1 only.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq}


@dataclass(frozen=True)
class Target:
    """A goal for a figure, such as `Target(">=", 100_000)`; `source` says who set it."""

    op: str
    value: float
    source: str = ""

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"unknown comparison {self.op!r}")

    def met(self, value: float) -> bool:
        return bool(_OPS[self.op](value, self.value))

    def __str__(self) -> str:
        return f"{self.op} {number(self.value)}"


@dataclass(frozen=True)
class Figure:
    """One measured figure of a benchmark, with its same-run baseline and target where there is one."""

    benchmark: str  # the benchmark's title, e.g. "Matcher throughput"
    name: str  # what was measured, e.g. "names per second, leakmon (index)"
    value: float
    unit: str  # "names/s", "requests", "MB", "s", ...
    baseline: float | None = None  # the same quantity for the baseline, measured in the same run
    baseline_name: str = ""  # what the baseline is, e.g. "naive rapidfuzz loop"
    target: Target | None = None
    note: str = ""

    @property
    def passed(self) -> bool | None:
        """True or False against the target; None without one."""
        return None if self.target is None else self.target.met(self.value)


def number(value: float) -> str:
    """A figure as people read it: thousands separated, at most two decimals, no trailing zeros."""
    if value == int(value) and abs(value) >= 1:
        return f"{int(value):,}"
    text = f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3g}"
    return text.rstrip("0").rstrip(".") if "." in text else text


__all__ = ["Figure", "Target", "number"]
