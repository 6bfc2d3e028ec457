"""Triage as users meet it: a hit walked through every state, re-uploads reopening a removed hit
(with a hit.reopened webhook at a real receiver), invalid moves, suppressions, status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from monitor.cli import cli
from monitor.recheck import recheck
from monitor.store import Store
from monitor.triage import TRANSITIONS
from tests.conftest import write_config

SORA = "PR-Puppets/PR-Puppet-Sora"


def run(config: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, [*args, "--config", str(config)])


def show(config: Path, hit_id: int) -> dict[str, Any]:
    result = run(config, "hits", "show", str(hit_id), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def quick_recheck(config: Path) -> Path:
    """`hub.recheck_interval` of a millisecond: every re-check looks at every hit again."""
    config.write_text(
        config.read_text().replace("lookback = 86400\n", "lookback = 86400\nrecheck_interval = 0.001\n")
    )
    return config


def events(receiver: Any, kind: str) -> list[dict[str, Any]]:
    return [d.json for d in receiver.accepted() if d.json["type"] == kind]


def test_a_hit_walks_through_every_state_and_reopens_on_re_upload(
    sim: Any, receiver: Any, config_file: Path, make_scanner: Any
) -> None:
    sim.add_repo("space", SORA, created_at=datetime.now(UTC) - timedelta(hours=1))
    scanner = make_scanner(quick_recheck(config_file))
    assert scanner.run_once().ok
    (hit_id,) = [h["id"] for h in json.loads(run(config_file, "hits", "--json").stdout)]
    assert receiver.wait_for(1) and events(receiver, "hit.created")[0]["data"]["id"] == hit_id

    # new -> acknowledged -> reported, by a named person and by the OS user.
    ok = run(config_file, "hits", "set", str(hit_id), "acknowledged", "--note", "looking", "--by", "alice")
    assert ok.exit_code == 0 and ok.stdout == f"hit #{hit_id}: new -> acknowledged\n"
    assert run(config_file, "hits", "set", f"#{hit_id}", "reported", "--note", "sent to HF").exit_code == 0

    # An invalid move, an unknown status, an unknown id: exit 2, one line, nothing changed.
    before = show(config_file, hit_id)
    for args, message in (
        ((str(hit_id), "new"), f"Error: hit #{hit_id} is reported: it can move to acknowledged, removed,"),
        ((str(hit_id), "deleted"), "Error: unknown status 'deleted' (one of: new, acknowledged,"),
        (("999", "acknowledged"), "Error: no hit #999"),
        (("x1", "acknowledged"), "Error: 'x1' is not a hit id"),
        ((str(hit_id), "acknowledged", "--suppress", "repo"), "Error: --suppress goes with false_positive"),
    ):
        bad = run(config_file, "hits", "set", *args)
        assert bad.exit_code == 2, (args, bad.output)
        assert bad.stderr.startswith(message) and bad.stderr.count("\n") == 1, bad.stderr
        assert bad.stdout == ""
    assert show(config_file, hit_id) == before

    # The repo is deleted: the re-check marks the hit removed, with a hit.removed webhook.
    sim.remove_repo("space", SORA)
    assert recheck(scanner).removed == [hit_id]
    scanner.relay.drain(5)
    removed = show(config_file, hit_id)
    assert removed["status"] == "removed" and removed["removed_at"]
    assert removed["time_to_removal"] is not None and removed["time_to_removal"] >= 0
    (gone,) = events(receiver, "hit.removed")
    assert gone["data"]["id"] == hit_id and gone["data"]["removed_at"].endswith("Z")
    assert run(config_file, "hits", "set", str(hit_id), "acknowledged").exit_code == 2  # removed -> new only

    # Re-uploaded under the same id: the next scan reopens the hit and alerts it as a re-upload.
    for round_ in (1, 2):
        sim.add_repo("space", SORA, created_at=datetime.now(UTC))
        result = scanner.run_once()
        assert result.ok and result.reopened_hit_ids == [hit_id] and result.new_hit_ids == []
        reopened = events(receiver, "hit.reopened")
        assert len(reopened) == round_, "a hit reopened twice alerts twice"
        data = reopened[-1]["data"]
        assert data["id"] == hit_id and data["reopened"] is True and data["repo_id"] == SORA
        assert data["previous_removed_at"] == show_removed_at(receiver)
        detail = show(config_file, hit_id)
        assert detail["status"] == "new" and detail["removed_at"] is None and detail["reopened_at"]
        last = detail["history"][-1]
        assert (last["actor"], last["from_status"], last["to_status"]) == ("leakmon", "removed", "new")
        assert last["note"].startswith("re-uploaded")
        if round_ == 1:  # and gone again
            sim.remove_repo("space", SORA)
            assert recheck(scanner).removed == [hit_id]
            scanner.relay.drain(5)
    assert len({d.headers["webhook-id"] for d in receiver.accepted()}) == len(receiver.accepted())
    assert all(d.verified for d in receiver.accepted())

    # The rest of the lifecycle by hand: false_positive, back to new, benign, back, removed by hand.
    for status in ("false_positive", "new", "benign", "new", "removed"):
        assert run(config_file, "hits", "set", str(hit_id), status, "--by", "bob").exit_code == 0, status
    final = show(config_file, hit_id)
    moves = [(e["from_status"], e["to_status"]) for e in final["history"]]
    assert moves == [
        ("new", "acknowledged"),
        ("acknowledged", "reported"),
        ("reported", "removed"),
        ("removed", "new"),
        ("new", "removed"),
        ("removed", "new"),
        ("new", "false_positive"),
        ("false_positive", "new"),
        ("new", "benign"),
        ("benign", "new"),
        ("new", "removed"),
    ]
    assert {to for _, to in moves} == set(TRANSITIONS)  # every state visited
    assert final["history"][0]["actor"] == "alice" and final["history"][0]["note"] == "looking"
    assert final["history"][-1]["actor"] == "bob" and final["time_to_removal"] is not None

    # `status` counts every state; `hits --status` filters on the new ones.
    status = json.loads(run(config_file, "status", "--json").stdout)
    assert status["hits"] == {
        "new": 0,
        "acknowledged": 0,
        "reported": 0,
        "removed": 1,
        "false_positive": 0,
        "benign": 0,
    }
    assert "hits: 1 removed" in run(config_file, "status").stdout
    listed = json.loads(run(config_file, "hits", "--status", "removed", "--json").stdout)
    assert [h["id"] for h in listed] == [hit_id] and listed[0]["time_to_removal"] is not None


def show_removed_at(receiver: Any) -> str:
    """The removal time the last hit.removed webhook announced."""
    return events(receiver, "hit.removed")[-1]["data"]["removed_at"]


def test_a_stale_listing_of_the_removed_repo_does_not_reopen_it(
    sim: Any, receiver: Any, config_file: Path, make_scanner: Any
) -> None:
    created = datetime.now(UTC) - timedelta(minutes=5)
    sim.add_repo("space", SORA, created_at=created)
    scanner = make_scanner(quick_recheck(config_file))
    scanner.run_once()
    (hit,) = scanner.store.list_hits()
    assert scanner.store.mark_removed(hit["id"], ["security"])  # removed, yet still listed (stale)
    result = scanner.run_once()  # the overlap re-reads the same repo, created at the same time
    assert result.reopened_hit_ids == [] and scanner.store.get_hit(hit["id"])["status"] == "removed"
    # The re-check asks the Hub itself: the repo is there, so it is back.
    assert recheck(scanner).reopened == [hit["id"]]
    scanner.relay.drain(5)
    assert [e["data"]["reopened"] for e in events(receiver, "hit.reopened")] == [True]


def test_a_suppression_silences_the_next_scan_and_its_removal_restores_it(
    sim: Any, receiver: Any, config_file: Path, make_scanner: Any
) -> None:
    now = datetime.now(UTC)
    sim.add_repo("model", "fan-club/sora-fanart", created_at=now - timedelta(minutes=30))
    scanner = make_scanner(config_file)  # one scanner for the whole test, as in the daemon
    scanner.run_once()
    (hit,) = scanner.store.list_hits()

    marked = run(
        config_file,
        "hits",
        "set",
        str(hit["id"]),
        "false_positive",
        "--suppress",
        "owner",
        "--note",
        "fan art",
    )
    assert marked.exit_code == 0, marked.output
    assert "suppression #1: owner 'fan-club' for watch sora" in marked.stdout
    (listed,) = json.loads(run(config_file, "suppress", "list", "--json").stdout)
    assert {k: listed[k] for k in ("id", "kind", "value", "watch", "note", "hit_id")} == {
        "id": 1,
        "kind": "owner",
        "value": "fan-club",
        "watch": "sora",
        "note": "fan art",
        "hit_id": hit["id"],
    }
    assert listed["created_by"] and listed["created_at"]
    assert show(config_file, hit["id"])["history"][-1]["suppression_id"] == 1

    # The next scan (same scanner: no restart) does not alert on the owner's new repo.
    sim.add_repo("model", "fan-club/sora-wallpapers", created_at=now - timedelta(minutes=20))
    assert scanner.run_once().new_hit_ids == []
    assert run(config_file, "match", "--json", "fan-club/sora-3").stdout.count('"watch"') == 0

    # A global pattern, from the command line.
    added = run(config_file, "suppress", "add", "pattern", r"^memes/", "--note", "memes")
    assert added.exit_code == 0 and "suppression #2: pattern '^memes/' for every watch" in added.stdout
    again = run(config_file, "suppress", "add", "pattern", r"^memes/")
    assert again.exit_code == 0 and again.stdout.startswith("already suppressed by #2")
    sim.add_repo("model", "memes/sora-cat", created_at=now - timedelta(minutes=15))
    assert scanner.run_once().new_hit_ids == []

    # Bad input: one line, exit 2, nothing stored.
    for args, message in (
        (
            ("suppress", "add", "pattern", "sora(["),
            "Error: pattern 'sora([' is not a valid regular expression",
        ),
        (("suppress", "add", "pattern", ".*"), "Error: pattern '.*' matches an empty text"),
        (("suppress", "add", "repo", "not a repo"), "Error: 'not a repo' is not a repo id (owner/name)"),
        (("suppress", "add", "owner", "a/b"), "Error: 'a/b' is not a Hub user or organisation name"),
        (("suppress", "add", "team", "x"), "Error: unknown suppression kind 'team'"),
        (("suppress", "add", "repo", "a/b", "--watch", "gpt9"), "Error: no watch named 'gpt9'"),
        (("suppress", "rm", "99"), "Error: no suppression #99"),
        (("hits", "set", str(hit["id"]), "new", "--global"), "Error: --global goes with --suppress"),
    ):
        bad = run(config_file, *args)
        assert bad.exit_code == 2 and bad.stderr.startswith(message), (args, bad.output)
        assert bad.stderr.count("\n") == 1
    assert len(json.loads(run(config_file, "suppress", "--json").stdout)) == 2

    # Removing the owner suppression restores alerts for the owner's repos.
    removed = run(config_file, "suppress", "rm", "1")
    assert removed.exit_code == 0 and removed.stdout.startswith("removed suppression #1: owner 'fan-club'")
    sim.add_repo("model", "fan-club/sora-4", created_at=now - timedelta(minutes=10))
    new_ids = scanner.run_once().new_hit_ids
    repos = sorted(h["repo_id"] for h in scanner.store.list_hits(ids=new_ids))
    assert "fan-club/sora-4" in repos and not any(r.startswith("memes/") for r in repos)
    alerted = {e["data"]["repo_id"] for e in events(receiver, "hit.created")}
    assert "fan-club/sora-4" in alerted and "memes/sora-cat" not in alerted
    assert '"watch": "sora"' in run(config_file, "match", "--json", "fan-club/sora-3").stdout
    text = run(config_file, "suppress")
    assert text.exit_code == 0 and text.stdout.startswith("#2    pattern '^memes/' for every watch by ")


def test_a_global_suppression_from_a_false_positive(sim: Any, config_file: Path, make_scanner: Any) -> None:
    now = datetime.now(UTC)
    sim.add_repo("model", "riot/sora-skin", created_at=now - timedelta(minutes=5))
    scanner = make_scanner(config_file)
    scanner.run_once()
    (hit,) = scanner.store.list_hits()
    done = run(
        config_file,
        "hits",
        "set",
        str(hit["id"]),
        "benign",
        "--suppress",
        r"pattern:^riot/",
        "--global",
        "--by",
        "carol",
    )
    assert done.exit_code == 0 and "pattern '^riot/' for every watch" in done.stdout
    with Store.open(config_file.parent / "leakmon.db") as store:
        (sup,) = store.suppressions()
    assert (sup["watch"], sup["created_by"]) == (None, "carol")
    bad = run(config_file, "hits", "set", str(hit["id"]), "new")
    assert bad.exit_code == 0  # benign -> new is allowed; the suppression stays until removed
    bad = run(config_file, "hits", "set", str(hit["id"]), "false_positive", "--suppress", "pattern:x[")
    assert bad.exit_code == 2 and "not a valid regular expression" in bad.stderr
    assert show(config_file, hit["id"])["status"] == "new"  # nothing changed


def test_hits_show_of_an_unknown_id(tmp_path: Path) -> None:
    config = write_config(tmp_path / "leakmon.toml", endpoint="http://127.0.0.1:9")
    result = run(config, "hits", "show", "5")
    assert result.exit_code == 2 and result.stderr == "Error: no hit #5 (see `leakmon hits`)\n"


def test_the_readme_transition_table_is_the_library_table() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("| from | to (by a person") :]
    documented = {}
    for line in section.splitlines()[2:]:
        if not line.startswith("| `"):
            break
        source, targets = (cell.strip() for cell in line.strip("|").split("|"))
        documented[source.strip("`")] = tuple(t.strip().strip("`") for t in targets.split(","))
    assert documented == dict(TRANSITIONS)
