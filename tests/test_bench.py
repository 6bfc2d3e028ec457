"""The benchmark harness (not the benchmarks: `make bench` runs those): discovery, targets, report."""

from __future__ import annotations

from datetime import UTC, datetime

from bench import Figure, Target, number
from bench.__main__ import discover, report


def test_every_benchmark_module_is_discovered_in_order() -> None:
    names = [m.__name__ for m in discover()]
    assert names == [
        "bench.scan_requests",
        "bench.matcher_speed",
        "bench.content",
        "bench.burst",
        "bench.daemon",
    ]


def test_targets_and_numbers() -> None:
    assert Figure("b", "x", 120_000, "names/s", target=Target(">=", 100_000)).passed is True
    assert Figure("b", "x", 301, "MB", target=Target("<", 300)).passed is False
    assert Figure("b", "x", 3, "requests").passed is None
    assert [number(v) for v in (1234567, 0.5, 12.25, 3.0, 0.0123)] == [
        "1,234,567",
        "0.5",
        "12.25",
        "3",
        "0.0123",
    ]


def test_report_has_the_machine_each_figure_its_baseline_and_target() -> None:
    figures = [
        Figure(
            "Matcher",
            "names per second",
            250_000,
            "names/s",
            400,
            "naive loop",
            Target(">=", 100_000, "issue 3"),
        ),
        Figure("Matcher", "peak memory", 310, "MB", target=Target("<", 300, "issue 3")),
        Figure("Scan", "idle, 10 terms", 3, "requests", 30, "per-term search"),
    ]
    text = report(figures, datetime(2025, 1, 2, 3, 4, tzinfo=UTC), 90.0, ["bench.x: boom"])
    for needle in ("| CPU |", "| cores |", "| RAM |", "| Python |", "| OS |", "2025-01-02 03:04 UTC"):
        assert needle in text
    assert (
        "| names per second | 250,000 names/s | 400 names/s (naive loop) | >= 100,000 names/s | yes"
        " | issue 3 |" in text
    )
    assert "| peak memory | 310 MB | – | < 300 MB | **no** | issue 3 |" in text
    assert "## Scan" in text and "bench.x: boom" in text
