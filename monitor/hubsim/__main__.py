"""Run the Hub simulator standalone: prints its base URL on stdout, serves until SIGINT/SIGTERM.

python -m monitor.hubsim [--host 127.0.0.1] [--port 0] [--scenario demo|PATH] [--quota N]
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from monitor.hubsim.scenario import scenario_path
from monitor.hubsim.server import HubSimulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitor.hubsim", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    parser.add_argument("--scenario", help="bundled scenario name (e.g. demo) or path to a JSON file")
    parser.add_argument("--quota", type=int, default=500, help="API requests per window (default 500)")
    parser.add_argument("--window", type=int, default=300, help="rate-limit window in seconds (default 300)")
    parser.add_argument("--resolver-quota", type=int, default=3000, help="/resolve/ requests per window")
    args = parser.parse_args(argv)

    sim = HubSimulator(
        host=args.host,
        port=args.port,
        quota=args.quota,
        window=args.window,
        resolver_quota=args.resolver_quota,
    )
    if args.scenario:
        path = Path(args.scenario)
        try:
            source = path if path.is_file() else scenario_path(args.scenario)
        except FileNotFoundError:
            parser.error(f"--scenario: no file or bundled scenario named {args.scenario!r}")
        count = sim.load_scenario(source)
        print(f"hubsim: loaded {count} repos from {source}", file=sys.stderr, flush=True)

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sim.start()
    print(sim.url, flush=True)
    try:
        while not stop.wait(0.5):  # a timed wait keeps the main thread responsive to signals
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
