"""The command line as users meet it: demo, match, hits, help, error lines."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from monitor.cli import cli
from tests.conftest import write_config

ROOT = Path(__file__).resolve().parent.parent


def test_demo_shows_the_sora_space_as_critical_and_no_lookalike(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "1 new hit(s)" in out
    assert "#1 CRITICAL space PR-Puppets/PR-Puppet-Sora" in out
    assert "signature verified: yes" in out
    assert "ALERTED (wrong!)" not in out
    quiet = re.findall(r"^  (model|dataset|space)\s+(\S+)\s+quiet$", out, re.M)
    assert len(quiet) >= 5 and all("sora" in repo.lower() for _, repo in quiet)
    assert "0 new hits: nothing is alerted twice" in out
    assert proc.stderr == ""
    assert list(scratch.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["tmp"]


def test_match_json_has_the_documented_shape(tmp_path: Path) -> None:
    path = write_config(tmp_path / "leakmon.toml", endpoint="http://127.0.0.1:9")
    result = CliRunner().invoke(
        cli,
        [
            "match",
            "--json",
            "--config",
            str(path),
            "PR-Puppets/PR-Puppet-Sora",
            "riot-fan/soraka-build-guide",
            "openai/sora-preview",
            "S0RA Turbo demo",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [d["text"] for d in data] == [
        "PR-Puppets/PR-Puppet-Sora",
        "riot-fan/soraka-build-guide",
        "openai/sora-preview",
        "S0RA Turbo demo",
    ]
    first = data[0]["matches"][0]
    assert {k: first[k] for k in ("watch", "rule", "field", "score")} == {
        "watch": "sora",
        "rule": "term",
        "field": "repo_id",
        "score": 1.0,
    }
    assert data[1]["matches"] == [] and data[2]["matches"] == []  # a longer word; an ignored author
    assert {m["field"] for m in data[3]["matches"]} == {"title"}


def test_match_explain_is_terminal_safe(tmp_path: Path) -> None:
    path = write_config(tmp_path / "leakmon.toml", endpoint="http://127.0.0.1:9")
    result = CliRunner().invoke(
        cli, ["match", "--explain", "--config", str(path), "evil/soraka\x1b]8;;http://x\x07", "x/sora"]
    )
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "soraka" in result.stdout and "x/sora: sora (term 'sora' in repo_id 'sora'" in result.stdout


def test_hits_filters(sim: Any, receiver: Any, config_file: Path, make_scanner: Any) -> None:
    now = datetime.now(UTC)
    sim.add_repo("space", "PR-Puppets/PR-Puppet-Sora", created_at=now - timedelta(hours=1))
    sim.add_repo("model", "leaker/sora-turbo", created_at=now - timedelta(hours=1))
    make_scanner(config_file).run_once()
    runner = CliRunner()

    def ids(*args: str) -> list[str]:
        result = runner.invoke(cli, ["hits", "--json", "--config", str(config_file), *args])
        assert result.exit_code == 0, result.output
        return sorted(h["repo_id"] for h in json.loads(result.stdout))

    assert ids() == ["PR-Puppets/PR-Puppet-Sora", "leaker/sora-turbo"]
    assert ids("--watch", "sora", "--status", "new", "--since", "1h") == ids()
    assert ids("--watch", "other") == []
    assert ids("--since", (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")) == []
    table = runner.invoke(cli, ["hits", "--config", str(config_file)])
    assert "critical" in table.stdout and "PR-Puppets/PR-Puppet-Sora" in table.stdout
    bad = runner.invoke(cli, ["hits", "--since", "yesterday", "--config", str(config_file)])
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: --since:")
    bad_status = runner.invoke(cli, ["hits", "--status", "nope", "--config", str(config_file)])
    assert bad_status.exit_code == 2


def test_config_option_works_before_and_after_the_command(tmp_path: Path) -> None:
    path = write_config(tmp_path / "leakmon.toml", endpoint="http://127.0.0.1:9")
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(path), "check"]).exit_code == 0
    assert runner.invoke(cli, ["check", "--config", str(path)]).exit_code == 0


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[hub]\nlookback = -1\n[[watch]]\nname='x'\nterms=['x']\n")
    quiet = CliRunner().invoke(cli, ["check", "--config", str(bad)])
    assert quiet.exit_code == 2 and quiet.stderr == "Error: hub.lookback: must be greater than 0\n"
    loud = subprocess.run(
        [sys.executable, "-m", "monitor", "check", "--debug", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert loud.returncode != 0 and "Traceback" in loud.stderr and "ConfigError" in loud.stderr


def commands(group: click.Group, prefix: str = "leakmon") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            found.extend(commands(command, f"{prefix} {name}"))
    return found


@pytest.mark.parametrize(("name", "command"), commands(cli), ids=[n for n, _ in commands(cli)])
def test_every_command_has_help_and_a_readme_entry(name: str, command: click.Command) -> None:
    assert command.help and len(command.help) > 20
    assert f"`{name}" in (ROOT / "README.md").read_text()
    params = {p.name for p in command.params}
    assert {"config_path", "debug"} <= params
