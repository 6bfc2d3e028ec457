"""`make bench`: run every benchmark of the project in turn."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_ENDPOINT", "http://127.0.0.1:9")  # never the real Hub

from bench import content, daemon, matcher_speed, scan_requests
from monitor import logs

BENCHMARKS = [scan_requests, matcher_speed, content, daemon]


def main() -> None:
    logs.configure(level="warning")
    for bench in BENCHMARKS:
        bench.main()
        print()


if __name__ == "__main__":
    main()
