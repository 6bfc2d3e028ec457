"""`leakmon demo`: the Sora leak replayed offline among a day of realistic Hub noise.

Everything runs on 127.0.0.1 inside a temporary directory that is removed at the end: the Hub
simulator with the bundled scenario, a webhook receiver that verifies signatures, and a scan that
goes through exactly the code `leakmon scan` runs.
"""

from __future__ import annotations

import base64
import json
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from monitor.text import for_terminal

DEMO_CONFIG = """\
# Written by `leakmon demo`; removed when it ends.
[hub]
endpoint = "{endpoint}"
lookback = 86400
timeout = 10
max_retries = 2

[database]
path = "leakmon.db"

[[watch]]
name = "sora"
terms = ["sora", "sora-turbo"]
ignore_authors = ["openai"]
severity = "critical"

[[notifier]]
name = "security"
type = "webhook"
url = "{hook}"
secret = "{secret}"
allow_private = true
"""


def _lookalikes(scenario: Path, word: str) -> list[tuple[str, str]]:
    data = json.loads(scenario.read_text(encoding="utf-8"))
    return [
        (r["type"], r["id"])
        for r in data.get("repos", [])
        if word in r["id"].lower() and r["id"] != "PR-Puppets/PR-Puppet-Sora"
    ]


def run_demo(echo: Callable[[str], None]) -> None:
    from monitor import config
    from monitor.dispatch import Relay, build_notifiers
    from monitor.hub import HubSource
    from monitor.hubsim import HubSimulator, scenario_path
    from monitor.receiver import WebhookReceiver
    from monitor.scanner import Scanner
    from monitor.store import Store

    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    scenario = scenario_path("demo")
    with (
        tempfile.TemporaryDirectory(prefix="leakmon-demo-") as tmp,
        HubSimulator() as sim,
        WebhookReceiver(secret) as receiver,
    ):
        loaded = sim.load_scenario(scenario)
        counts = {t: sim.repo_count(t) for t in ("model", "dataset", "space")}
        cfg_path = Path(tmp) / "leakmon.toml"
        cfg_path.write_text(DEMO_CONFIG.format(endpoint=sim.url, hook=receiver.url, secret=secret))
        cfg = config.load(cfg_path)

        echo("leakmon demo: the Sora leak of 26 November 2024, replayed offline among a day of Hub noise")
        echo(
            f"  Hub simulator   {sim.url}  ({loaded:,} repos: {counts['model']:,} models, "
            f"{counts['dataset']:,} datasets, {counts['space']:,} spaces)"
        )
        echo(f"  webhook         {receiver.url}  (verifies Standard Webhooks signatures)")
        echo(f"  config          {cfg_path}  (watch 'sora': terms sora, sora-turbo; severity critical)")
        echo("")

        store = Store.open(cfg.database.path)
        source = HubSource.from_config(cfg.hub)
        relay = Relay(store, build_notifiers(cfg.notifiers))
        scanner = Scanner(cfg, store, source, relay, delivery_wait=10)
        try:
            started = time.monotonic()
            first = scanner.run_once()
            took = time.monotonic() - started
            hits = store.list_hits(ids=first.new_hit_ids)
            echo(
                f"scan #{first.scan_id} {first.outcome}: {first.repos_read:,} new repos read with "
                f"{first.hub_requests} Hub requests in {took:.1f} s; {len(hits)} new hit(s)"
            )
            for hit in hits:
                echo(
                    f"  #{hit['id']} {hit['severity'].upper()} {hit['repo_type']} "
                    f"{for_terminal(hit['repo_id'])}  {for_terminal(hit['url'])}"
                )
                for m in hit["matches"]:
                    echo(
                        f"      {m['rule']} {m['term']!r} in {m['field']} {for_terminal(m['text'])!r} "
                        f"(score {m['score']:.2f})"
                    )
            for hit in hits:
                kept = store.get_evidence(hit["id"])
                if kept:
                    files = kept.get("files") or []
                    app = (kept.get("app") or {}).get("text", "")
                    line = next((x.strip() for x in app.splitlines() if "http" in x), "")
                    echo(
                        f"      evidence kept after the alert: {len(files)} files"
                        + (
                            f"; {(kept.get('app') or {}).get('path')}: {for_terminal(line, 90)}"
                            if line
                            else ""
                        )
                    )
            lookalikes = _lookalikes(scenario, "sora")
            alerted = {h["repo_id"] for h in store.list_hits()}
            echo("")
            echo('look-alikes that hold "sora" inside a longer word, not alerted:')
            for repo_type, repo_id in lookalikes:
                mark = "ALERTED (wrong!)" if repo_id in alerted else "quiet"
                echo(f"  {repo_type:<8} {for_terminal(repo_id):<45} {mark}")

            echo("")
            receiver.wait_for(len(hits), timeout=10)
            for delivery in receiver.accepted():
                echo(
                    f"webhook received at {receiver.url} (signature verified: "
                    f"{'yes' if delivery.verified else 'NO'})"
                )
                for header in ("webhook-id", "webhook-timestamp", "webhook-signature"):
                    echo(f"  {header}: {delivery.headers.get(header)}")
                echo("  " + json.dumps(delivery.json, indent=2, ensure_ascii=True).replace("\n", "\n  "))

            second = scanner.run_once()
            echo("")
            echo(
                f"scan #{second.scan_id} {second.outcome}: {second.hub_requests} Hub requests "
                f"(one per repo type), {len(second.new_hit_ids)} new hits: nothing is alerted twice."
            )
        finally:
            scanner.close()
