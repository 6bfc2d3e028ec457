"""`make bench`: run every benchmark of the project in turn, then write bench/RESULTS.md.

`python -m bench` runs them all and writes the report; `python -m bench NAME...` runs the named
modules only and prints their figures without touching the report.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_ENDPOINT", "http://127.0.0.1:9")  # never the real Hub

import importlib
import pkgutil
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import bench
from bench import Figure, number
from monitor import logs

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def discover() -> list[ModuleType]:
    """Every module of the bench package that defines `run()`, by ORDER then name."""
    found = []
    for info in pkgutil.iter_modules(bench.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        if callable(getattr(module, "run", None)):
            found.append(module)
    return sorted(found, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def machine() -> dict[str, str]:
    def first(path: str, key: str) -> str:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1]
        except OSError:
            pass
        return ""

    mem_kb = first("/proc/meminfo", "MemTotal").split()
    os_name = first("/etc/os-release", "PRETTY_NAME=").strip('"') or platform.platform()
    return {
        "CPU": first("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": str(os.cpu_count()),
        "RAM": f"{int(mem_kb[0]) / 2**20:.1f} GiB" if mem_kb else "unknown",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "OS": f"{os_name} (Linux {platform.release()})" if sys.platform == "linux" else platform.platform(),
    }


def _cell(value: float | None, unit: str) -> str:
    return "–" if value is None else f"{number(value)} {unit}".strip()


def report(figures: list[Figure], started: datetime, seconds: float, errors: list[str]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {started.strftime('%Y-%m-%d %H:%M UTC')} in {seconds / 60:.1f} minutes."
        " Every baseline was measured in the same run, on the same machine; targets come from the",
        "issues and docs named in the notes. Numbers from one run on a shared machine: compare",
        "each figure with its baseline rather than across runs.",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in machine().items()),
        "",
    ]
    for title in dict.fromkeys(f.benchmark for f in figures):
        lines += [
            f"## {title}",
            "",
            "| figure | value | baseline | target | met | notes |",
            "|---|---:|---:|---:|:---:|---|",
        ]
        for f in (f for f in figures if f.benchmark == title):
            base = _cell(f.baseline, f.unit) + (f" ({f.baseline_name})" if f.baseline_name else "")
            met = {True: "yes", False: "**no**", None: ""}[f.passed]
            target = f"{f.target} {f.unit}".strip() if f.target else ""
            notes = "; ".join(x for x in (f.note, f.target.source if f.target else "") if x)
            lines.append(f"| {f.name} | {_cell(f.value, f.unit)} | {base} | {target} | {met} | {notes} |")
        lines.append("")
    if errors:
        lines += ["## Benchmarks that failed", "", *(f"- {e}" for e in errors), ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    logs.configure(level="warning")
    modules = discover()
    if argv:
        modules = [m for m in modules if m.__name__.removeprefix("bench.") in argv]
    started, tick = datetime.now(UTC), time.monotonic()
    figures: list[Figure] = []
    errors: list[str] = []
    for module in modules:
        try:
            figures += module.run()
        except Exception as err:  # one broken benchmark must not hide the others' figures
            errors.append(f"{module.__name__}: {type(err).__name__}: {err}")
            print(f"{module.__name__} failed: {err}", file=sys.stderr)
        print()
    missed = [f for f in figures if f.passed is False]
    for f in missed:
        print(f"target missed: {f.benchmark}: {f.name} = {number(f.value)} {f.unit} (target {f.target})")
    if not argv:
        RESULTS.write_text(report(figures, started, time.monotonic() - tick, errors))
        print(f"wrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
