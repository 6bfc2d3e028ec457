"""`leakmon browse`: Datasette as a real subprocess on a free loopback port, read-only."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from monitor.records import Match, Repo
from monitor.store import NewHit, Store
from monitor.triage import allowed_from
from tests.conftest import write_config

T0 = datetime(2024, 11, 26, 13, 9, 54, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """Three hits: a critical one removed after 2 h 30 min, a high one open, a low one benign."""
    path = tmp_path / "leakmon.db"
    with Store.open(path) as store:
        for repo_id, severity in (("a/sora-1", "critical"), ("b/sora-2", "high"), ("c/sora-3", "low")):
            repo = Repo("model", repo_id, T0, author=repo_id.split("/")[0], raw={"id": repo_id})
            match = Match("sora", "term", "repo_id", "sora", repo.name, 1.0)
            url = f"https://huggingface.co/{repo_id}"
            store.record_hits(None, [NewHit("sora", severity, repo, url, [match], ())], now=T0)
        store.change_status(
            1,
            "removed",
            allowed_from=allowed_from("removed"),
            actor="alice",
            now=T0 + timedelta(hours=2, minutes=30),
        )
        store.change_status(3, "benign", allowed_from=allowed_from("benign"), actor="alice", now=T0)
    return path


@pytest.fixture
def browse(database: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    config = write_config(tmp_path / "leakmon.toml", endpoint="http://127.0.0.1:9")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "browse", "--config", str(config), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(
                    f"leakmon browse exited {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}"
                )
            try:
                if requests.get(f"{base}/-/versions.json", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            pytest.fail("leakmon browse did not answer within 60 s")
        yield base, proc
    finally:
        proc.kill()
        proc.communicate(timeout=10)


def rows(base: str, query: str) -> list[dict[str, Any]]:
    response = requests.get(f"{base}/leakmon/{query}.json", params={"_shape": "array"}, timeout=10)
    assert response.status_code == 200, response.text[:500]
    return response.json()


@pytest.mark.timeout(120)
def test_browse_serves_the_canned_queries_read_only(browse: tuple[str, Any], database: Path) -> None:
    base, _proc = browse
    before = hashlib.sha256(database.read_bytes()).hexdigest()

    (removed,) = rows(base, "time_to_takedown")
    assert (removed["repo_id"], removed["time_to_removal_seconds"], removed["time_to_removal_hours"]) == (
        "a/sora-1",
        9000,
        2.5,
    )
    assert [(r["id"], r["severity"]) for r in rows(base, "open_hits_by_severity")] == [(2, "high")]
    (watch,) = rows(base, "hits_per_watch")
    assert {k: watch[k] for k in ("watch", "hits", "open", "removed", "benign")} == {
        "watch": "sora",
        "hits": 3,
        "open": 1,
        "removed": 1,
        "benign": 1,
    }
    assert watch["mean_hours_to_removal"] == 2.5

    meta = requests.get(f"{base}/-/metadata.json", timeout=10).json()
    assert meta["title"] == "leakmon" and "hits" in meta["databases"]["leakmon"]["tables"]
    page = requests.get(f"{base}/leakmon", timeout=10).text
    assert "Open hits by severity" in page and "Time to takedown" in page and "Hits per watch" in page

    # Read-only: a write through SQL is refused, and the file is unchanged.
    write = requests.get(f"{base}/leakmon.json", params={"sql": "DELETE FROM hits"}, timeout=10)
    assert write.status_code >= 400
    with Store.open(database) as store:
        assert len(store.list_hits()) == 3
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before


def test_browse_without_datasette_is_one_line_and_exit_2(database: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "leakmon.toml", endpoint="http://127.0.0.1:9")
    # An interpreter where datasette cannot be imported, as on an install without the extra.
    code = (
        "import sys; sys.modules['datasette'] = None; sys.modules['datasette.cli'] = None; "
        "from monitor.cli import main; sys.argv = ['leakmon', 'browse', '--config', sys.argv[1]]; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert proc.returncode == 2
    assert (
        proc.stderr == "Error: leakmon browse needs the optional dependency: pip install 'leakmon[browse]'\n"
    )
    assert proc.stdout == ""


def test_browse_needs_a_database(tmp_path: Path) -> None:
    config = write_config(tmp_path / "leakmon.toml", endpoint="http://127.0.0.1:9")
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "browse", "--config", str(config), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("Error: no database at ")
    assert not (tmp_path / "leakmon.db").exists()


def test_shipped_metadata_is_valid_json_with_the_canned_queries() -> None:
    from monitor.browse import metadata

    data = metadata(Path("/var/lib/leakmon/state.db"))
    queries = data["databases"]["state"]["queries"]
    assert set(queries) == {"open_hits_by_severity", "time_to_takedown", "hits_per_watch"}
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in queries.values())
    json.dumps(data)
