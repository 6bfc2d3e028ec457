"""`leakmon sweep` (whole history, resumable), rate-limit manners, and re-check failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from structlog.testing import capture_logs

from monitor.cli import cli
from monitor.config import WatchConfig
from monitor.hub import HubSource
from monitor.sweep import search_strings

NOW = datetime.now(UTC)


def test_search_strings_cover_every_word() -> None:
    watches = (
        WatchConfig("a", ("gemini-ultra", "GeminiPro")),
        WatchConfig("b", ("veo-3", "sora")),
        WatchConfig("c", ("x1",)),
    )
    assert search_strings(watches) == ["gemini", "ultra", "pro", "veo", "sora", "x1"]


def test_sweep_is_resumable_and_finds_old_repos(sim: Any, receiver: Any, config_file: Path) -> None:
    for i in range(1500):  # "sora" inside longer words: found by the Hub search, silenced by the matcher
        sim.add_repo("model", f"fan{i}/soraka-build-{i}", created_at=NOW - timedelta(days=1, minutes=i))
    sim.add_repo("model", "old/sora-leak", created_at=NOW - timedelta(days=400))  # on the 2nd page
    runner = CliRunner()
    args = ["--config", str(config_file), "--json"]

    first = runner.invoke(cli, ["sweep", "--budget", "1", *args])
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert not data["complete"] and data["new_hits"] == [] and data["repos_read"] == 1000
    assert first.stderr == ""  # no progress bar in a pipe

    sim.clear_log()
    second = runner.invoke(cli, ["sweep", *args])
    assert second.exit_code == 0, second.output
    data = json.loads(second.stdout)
    assert data["complete"] and [h["repo_id"] for h in data["new_hits"]] == ["old/sora-leak"]
    sora_models = [r for r in sim.requests() if r.path == "/api/models" and ("search", "sora") in r.query]
    assert any(k == "cursor" for k, _ in sora_models[0].query)  # resumed from the saved page, not the top
    assert data["delivered"] == 1 and receiver.accepted()[0].json["data"]["repo_id"] == "old/sora-leak"


def test_sweep_failure_is_exit_3_and_keeps_what_was_read(sim: Any, receiver: Any, config_file: Path) -> None:
    sim.add_repo("space", "x/sora-demo", created_at=NOW - timedelta(days=3))
    sim.fail(status=503, path=r"^/api/models$", times=None)
    result = CliRunner().invoke(cli, ["sweep", "--config", str(config_file)])
    assert result.exit_code == 3
    assert "Error: search 'sora' in models" in result.stderr


def test_quota_share_is_respected(sim: Any) -> None:
    sim.set_quota(20, window=300)
    sim.add_repo("model", "a/b")
    waits: list[float] = []
    source = HubSource(sim.url, max_quota_share=0.5, sleep=waits.append)
    try:
        with capture_logs() as logs:
            for _ in range(12):
                assert source.exists("model", "a/b")
    finally:
        source.close()
    # 10 of 20 spent: leakmon waits for the window to reset before the 11th request.
    assert source.quota_pauses >= 1 and waits and 250 < waits[0] <= 301
    pause = next(e for e in logs if e["event"] == "hub.quota_pause")
    assert pause["quota"] == 20 and pause["spent"] >= 10 and pause["max_quota_share"] == 0.5


def test_recheck_never_guesses_when_the_hub_fails(
    sim: Any, receiver: Any, config_file: Path, make_scanner: Any
) -> None:
    from monitor.recheck import recheck

    sim.add_repo("space", "PR-Puppets/PR-Puppet-Sora", created_at=NOW - timedelta(hours=1))
    scanner = make_scanner(config_file)
    scanner.run_once()
    sim.fail(status=500, path=r"^/api/spaces/PR-Puppets", times=None)
    result = recheck(scanner, now=NOW + timedelta(days=1))
    assert result.error and result.removed == [] and scanner.store.list_hits()[0]["status"] == "new"
    sim.clear_faults()
    sim.remove_repo("space", "PR-Puppets/PR-Puppet-Sora")
    result = recheck(scanner, now=NOW + timedelta(days=1))
    assert result.removed == [1]
    hit = scanner.store.list_hits()[0]
    assert hit["status"] == "removed" and hit["removed_at"]
    assert [e["to_status"] for e in scanner.store.hit_events(1)] == ["removed"]
