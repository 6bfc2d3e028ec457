"""`leakmon outbox`, `outbox retry`, `notify-test` and dead letters in `status`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from monitor.cli import cli


def test_dead_letter_listed_requeued_and_delivered_under_the_same_id(
    sim: Any, receiver: Any, config_file: Path, make_scanner: Any
) -> None:
    sim.add_repo("space", "PR-Puppets/PR-Puppet-Sora", created_at=datetime.now(UTC) - timedelta(hours=1))
    receiver.fail_next([404])  # permanent: dead at once
    scanner = make_scanner(config_file)
    assert scanner.run_once().delivery.dead == 1
    runner = CliRunner()
    args = ["--config", str(config_file)]

    listed = json.loads(runner.invoke(cli, ["outbox", "--json", *args]).stdout)
    (row,) = listed
    assert (row["status"], row["notifier"], row["repo_id"]) == (
        "dead",
        "security",
        "PR-Puppets/PR-Puppet-Sora",
    )
    assert "HTTP 404" in row["last_error"]
    text = runner.invoke(cli, ["outbox", *args]).stdout
    assert "dead" in text and "HTTP 404" in text
    status = runner.invoke(cli, ["status", *args]).stdout
    assert f"dead letter #{row['id']} to security" in status and f"leakmon outbox retry {row['id']}" in status

    missing = runner.invoke(cli, ["outbox", "retry", "999", *args])
    assert missing.exit_code == 2 and missing.stderr.startswith("Error: no pending or dead outbox row #999")
    retried = runner.invoke(cli, ["outbox", "retry", str(row["id"]), *args])
    assert retried.exit_code == 0, retried.output
    assert scanner.run_once().delivery.delivered == 1
    first, second = receiver.deliveries
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == row["webhook_id"]
    assert runner.invoke(cli, ["outbox", *args]).stdout.startswith("outbox empty")
    assert runner.invoke(cli, ["outbox", "retry", str(row["id"]), *args]).exit_code == 2  # delivered now


def test_notify_test_reports_each_notifier(receiver: Any, tmp_path: Path) -> None:
    from tests.conftest import write_config

    path = write_config(
        tmp_path / "leakmon.toml",
        endpoint="http://127.0.0.1:9",
        hook_url=receiver.url,
        extra='\n[[notifier]]\nname = "console"\ntype = "stdout"\n',
    )
    runner = CliRunner()
    ok = runner.invoke(cli, ["notify-test", "security", "--config", str(path)])
    assert ok.exit_code == 0 and "security (webhook): delivered" in ok.stdout
    (delivery,) = receiver.accepted()
    assert delivery.json["type"] == "test" and delivery.json["data"]["test"] is True and delivery.verified

    receiver.fail_next([500])
    both = runner.invoke(cli, ["notify-test", "--config", str(path)])
    assert both.exit_code == 1
    assert "security (webhook): FAILED" in both.stdout and "HTTP 500" in both.stdout
    assert '"type": "test"' in both.stdout  # the stdout notifier's JSON line
    unknown = runner.invoke(cli, ["notify-test", "pager", "--config", str(path)])
    assert unknown.exit_code == 2 and "no notifier named 'pager' (known: security, console)" in unknown.stderr
