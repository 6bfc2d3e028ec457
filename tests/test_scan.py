"""The one-shot scan end to end: real huggingface_hub client -> simulator, real SQLite, real receiver."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.scanner import OVERLAP
from tests.conftest import BLOCKED, write_config

NOW = datetime.now(UTC)
LISTINGS = ("/api/models", "/api/datasets", "/api/spaces")


def listing_requests(sim: Any) -> list[Any]:
    return [r for r in sim.requests() if r.path in LISTINGS]


def add_noise(sim: Any, n: int, repo_type: str = "model", start: datetime | None = None) -> None:
    start = start or NOW - timedelta(minutes=1)
    for i in range(n):
        sim.add_repo(
            repo_type, f"user{i % 97}/bert-base-finetuned-{i}", created_at=start - timedelta(seconds=20 * i)
        )


def add_sora(sim: Any, created: datetime | None = None) -> None:
    sim.add_repo(
        "space",
        "PR-Puppets/PR-Puppet-Sora",
        created_at=created or NOW - timedelta(hours=2),
        card_data={"title": "PR Puppet Sora"},
        sdk="gradio",
    )


def test_first_scan_alerts_the_leak_once_and_records_it(
    sim: Any, receiver: Any, config_file: Path, make_scanner: Any
) -> None:
    add_noise(sim, 50)
    add_sora(sim)
    for lookalike in ("riot-fan/soraka-build-guide", "tessora/tessora-7b", "music/sorabji-piano"):
        sim.add_repo("space", lookalike, created_at=NOW - timedelta(minutes=30))
    sim.add_repo("space", "openai/sora-preview", created_at=NOW - timedelta(minutes=20))  # ignore_authors

    result = make_scanner(config_file).run_once()
    assert result.ok and len(result.new_hit_ids) == 1
    assert result.repos_read == 55
    assert result.delivery.delivered == 1
    (delivery,) = receiver.deliveries
    assert delivery.verified
    body = delivery.json
    assert body["type"] == "hit.created"
    assert body["data"]["repo_id"] == "PR-Puppets/PR-Puppet-Sora"
    assert body["data"]["severity"] == "critical"
    assert body["data"]["url"] == f"{sim.url}/spaces/PR-Puppets/PR-Puppet-Sora"
    assert {
        "rule": "term",
        "field": "repo_id",
        "term": "sora",
        "text": "PR-Puppet-Sora",
        "score": 1.0,
    } in body["data"]["matches"]

    # The listing asked for exactly the fields the matcher needs, newest first, pages of 1000.
    for request in listing_requests(sim):
        query = request.query
        assert ("sort", "createdAt") in query and ("limit", "1000") in query
        extra = {"/api/models": ["baseModels"], "/api/datasets": [], "/api/spaces": ["models"]}[request.path]
        assert sorted(v for k, v in query if k == "expand") == sorted(
            ["author", "cardData", "createdAt", "tags", *extra]
        )

    out = CliRunner().invoke(cli, ["hits", "--json", "--config", str(config_file)])
    assert out.exit_code == 0, out.output
    (hit,) = json.loads(out.stdout)
    for key in ("id", "watch", "repo_type", "repo_id", "url", "status", "severity", "first_seen"):
        assert key in hit
    assert (hit["watch"], hit["repo_type"], hit["status"], hit["severity"]) == (
        "sora",
        "space",
        "new",
        "critical",
    )
    assert datetime.fromisoformat(hit["first_seen"]).tzinfo is not None


def test_second_scan_alerts_only_what_is_new_and_idle_scan_is_one_request_per_type(
    sim: Any, receiver: Any, config_file: Path, make_scanner: Any
) -> None:
    add_noise(sim, 30)
    add_sora(sim)
    scanner = make_scanner(config_file)
    assert len(scanner.run_once().new_hit_ids) == 1

    sim.add_repo("model", "leaker/sora-turbo-weights", created_at=datetime.now(UTC))
    sim.add_repo("model", "someone/llama-3-finetune", created_at=datetime.now(UTC))
    second = scanner.run_once()
    assert len(second.new_hit_ids) == 1
    assert [d.json["data"]["repo_id"] for d in receiver.accepted()] == [
        "PR-Puppets/PR-Puppet-Sora",
        "leaker/sora-turbo-weights",
    ]

    sim.clear_log()
    idle = scanner.run_once()
    assert idle.ok and idle.new_hit_ids == []
    assert idle.hub_requests == 3
    assert sorted(r.path for r in sim.requests()) == sorted(LISTINGS)
    assert len(receiver.deliveries) == 2


def test_idle_cost_does_not_grow_with_watches(
    sim: Any, receiver: Any, tmp_path: Path, make_scanner: Any
) -> None:
    watches = "".join(f'\n[[watch]]\nname = "w{i}"\nterms = ["model{i}name"]\n' for i in range(100))
    path = write_config(tmp_path / "leakmon.toml", endpoint=sim.url, hook_url=receiver.url, watches=watches)
    add_noise(sim, 10)
    scanner = make_scanner(path)
    scanner.run_once()
    sim.clear_log()
    assert scanner.run_once().hub_requests == 3
    assert len(sim.requests()) == 3


def test_pagination_over_2500_new_repos(
    sim: Any, receiver: Any, config_file: Path, make_scanner: Any
) -> None:
    add_noise(sim, 2500)  # newest first: 2,500 models over ~14 hours
    sim.add_repo("model", "miqudev/sora-1-70b", created_at=NOW - timedelta(hours=15))  # on the 3rd page
    result = make_scanner(config_file).run_once()
    assert result.ok
    assert result.repos_read == 2501
    model_pages = [r for r in sim.requests() if r.path == "/api/models"]
    assert len(model_pages) == 3
    assert len(result.new_hit_ids) == 1  # the oldest one, beyond the first two pages
    assert receiver.accepted()[0].json["data"]["repo_id"] == "miqudev/sora-1-70b"


def test_429_storm_and_500_on_page_2_are_retried(
    sim: Any, receiver: Any, config_file: Path, make_scanner: Any
) -> None:
    add_noise(sim, 1500)
    sim.add_repo("model", "x/sora-weights", created_at=NOW - timedelta(hours=10))  # page 2
    sim.rate_limit_burst(count=2, reset=0, path=r"^/api/models$")
    sim.fail(status=500, path=r"^/api/models$", page=2, times=1)
    result = make_scanner(config_file).run_once()
    assert result.ok, result.errors
    assert len(result.new_hit_ids) == 1
    statuses = [r.status for r in sim.requests() if r.path == "/api/models"]
    assert statuses == [429, 429, 200, 500, 200]


def test_page_that_keeps_failing_exits_3_and_next_scan_finds_everything(
    sim: Any, receiver: Any, config_file: Path, make_scanner: Any
) -> None:
    add_noise(sim, 1500)
    sim.add_repo("model", "x/sora-weights", created_at=NOW - timedelta(hours=10))  # page 2
    add_sora(sim)
    sim.fail(status=503, path=r"^/api/models$", page=2, times=None)
    scanner = make_scanner(config_file)
    failed = scanner.run_once()
    assert failed.outcome == "failed"
    assert any("models" in e for e in failed.errors)
    assert scanner.store.get_cursor("model") is None  # nothing of models marked as read
    assert scanner.store.get_cursor("space") is not None  # spaces were read completely
    assert len(failed.new_hit_ids) == 1  # the Space: found is found

    out = CliRunner().invoke(cli, ["scan", "--config", str(config_file)])
    assert out.exit_code == 3, out.output
    assert "Error: models: Hub answered HTTP 503" in out.stderr
    assert "Traceback" not in out.output

    sim.clear_faults()
    good = scanner.run_once()
    assert good.ok
    assert good.repos_read >= 1501
    found = {h["repo_id"] for h in scanner.store.list_hits()}
    assert found == {"x/sora-weights", "PR-Puppets/PR-Puppet-Sora"}
    assert scanner.store.get_cursor("model") is not None


def test_malformed_json_once_is_retried(
    sim: Any, receiver: Any, config_file: Path, make_scanner: Any
) -> None:
    add_sora(sim)
    sim.malformed_json(path=r"^/api/spaces$", times=1)
    result = make_scanner(config_file).run_once()
    assert result.ok and len(result.new_hit_ids) == 1


def test_webhook_failing_twice_gets_the_alert_once(
    sim: Any, receiver: Any, config_file: Path, make_scanner: Any
) -> None:
    add_sora(sim)
    receiver.fail_next([500, 502])
    result = make_scanner(config_file).run_once()
    assert result.delivery.delivered == 1
    assert [d.status for d in receiver.deliveries] == [500, 502, 204]
    assert len({d.headers["webhook-id"] for d in receiver.deliveries}) == 1
    assert all(d.verified for d in receiver.deliveries)


def test_undelivered_alert_waits_in_the_outbox_for_the_next_scan(
    sim: Any, receiver: Any, config_file: Path, make_scanner: Any
) -> None:
    add_sora(sim)
    receiver.fail_next([503])
    scanner = make_scanner(config_file, schedule=(0.05,), delivery_wait=0)
    first = scanner.run_once()
    assert first.outbox_pending == 1 and first.delivery.delivered == 0
    time.sleep(0.1)  # the retry is due
    second = scanner.run_once()
    assert second.new_hit_ids == [] and second.delivery.delivered == 1
    ids = {d.headers["webhook-id"] for d in receiver.deliveries}
    assert len(ids) == 1 and len(receiver.accepted()) == 1


def test_late_repo_within_overlap_is_found(
    sim: Any, receiver: Any, config_file: Path, make_scanner: Any
) -> None:
    sim.add_repo("model", "a/newest", created_at=NOW)
    scanner = make_scanner(config_file)
    scanner.run_once()
    # Appears after the scan, but dated before the cursor (eventual consistency of the listing).
    sim.add_repo("model", "b/sora-late", created_at=NOW - OVERLAP / 2)
    assert len(scanner.run_once().new_hit_ids) == 1


def test_title_match_and_clock_skew(sim: Any, receiver: Any, config_file: Path, make_scanner: Any) -> None:
    sim.add_repo(
        "space",
        "innocent/video-demo",
        created_at=NOW - timedelta(minutes=5),
        card_data={"title": "Sora Video Generator"},
    )
    sim.add_repo("model", "future/model", created_at=NOW + timedelta(days=30))  # a bogus createdAt
    sim.add_repo("model", "normal/model", created_at=NOW - timedelta(minutes=1))
    scanner = make_scanner(config_file)
    result = scanner.run_once()
    (hit,) = scanner.store.list_hits()
    assert hit["matches"][0]["field"] == "title"
    assert result.ok
    # The cursor follows the newest plausible repo, not the one dated a month ahead.
    assert abs(scanner.store.get_cursor("model") - (NOW - timedelta(minutes=1))) < timedelta(seconds=1)


def test_hf_endpoint_environment_is_honoured(
    sim: Any, receiver: Any, tmp_path: Path, make_scanner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", sim.url)
    path = write_config(tmp_path / "leakmon.toml", endpoint=None, hook_url=receiver.url)
    add_sora(sim)
    result = make_scanner(path).run_once()
    assert result.ok and len(result.new_hit_ids) == 1
    # Every request went to the simulator: three listings and the hit's evidence (its file list).
    assert len(sim.requests()) == result.hub_requests == 4
    assert BLOCKED == []  # nothing tried to reach huggingface.co or anywhere else


def test_cli_scan_exit_codes_and_json(sim: Any, receiver: Any, config_file: Path) -> None:
    runner = CliRunner()
    quiet = runner.invoke(cli, ["scan", "--fail-on-hit", "--quiet", "--config", str(config_file)])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.output == ""  # cron sends no mail for a scan where nothing happened
    add_sora(sim)
    hit = runner.invoke(cli, ["scan", "--fail-on-hit", "--json", "--config", str(config_file)])
    assert hit.exit_code == 1, hit.output
    data = json.loads(hit.stdout)
    assert data["outcome"] == "ok" and data["new_hits"][0]["repo_id"] == "PR-Puppets/PR-Puppet-Sora"
    again = runner.invoke(cli, ["scan", "--fail-on-hit", "--config", str(config_file)])
    assert again.exit_code == 0 and "0 new hits" in again.stdout
    sim.add_repo("model", "x/sora-2", created_at=datetime.now(UTC))
    loud = runner.invoke(cli, ["scan", "--quiet", "--config", str(config_file)])
    assert loud.exit_code == 0 and "x/sora-2" in loud.stdout
    status = runner.invoke(cli, ["status", "--json", "--config", str(config_file)])
    assert json.loads(status.stdout)["outbox"]["delivered"] == 2


def test_hub_unreachable_fails_every_type_and_moves_nothing(
    tmp_path: Path, receiver: Any, make_scanner: Any
) -> None:
    import socket

    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    path = write_config(tmp_path / "leakmon.toml", endpoint=dead, hook_url=receiver.url)
    scanner = make_scanner(path)
    result = scanner.run_once()
    assert result.outcome == "failed"
    assert len(result.errors) == 3 and all("Hub unreachable" in e for e in result.errors)
    assert scanner.store.cursors() == {}
    assert scanner.store.scans(1)[0]["outcome"] == "failed"


def test_connection_reset_is_retried_and_counted(
    sim: Any, receiver: Any, config_file: Path, make_scanner: Any
) -> None:
    add_sora(sim)
    sim.reset_connection(path=r"^/api/spaces$", times=1)
    result = make_scanner(config_file).run_once()
    assert result.ok and len(result.new_hit_ids) == 1
    # Three listings (the reset request got no response; its retry is counted) and the hit's evidence.
    assert result.hub_requests == 4
    assert len([r for r in sim.requests() if r.path == "/api/spaces"]) == 2


def test_tags_base_models_linked_models_and_owners_reach_hits(
    sim: Any, receiver: Any, tmp_path: Path, make_scanner: Any
) -> None:
    watches = """
[[watch]]
name = "sora"
terms = ["sora"]
owners = ["miqudev"]
exclude = ["^sora-faq$"]
ignore_authors = ["openai"]
"""
    path = write_config(
        tmp_path / "leakmon.toml",
        endpoint=sim.url,
        hook_url=receiver.url,
        watches=watches,
        extra='\n[allowlist]\nrepos = ["fans/sora-wiki"]\n',
    )
    t = NOW - timedelta(minutes=5)
    sim.add_repo(
        "model",
        "quiet/video-gen-ft",
        created_at=t,
        baseModels={"relation": "finetune", "models": [{"id": "leak/Sora-7B"}]},
    )
    sim.add_repo("model", "quiet/video-gen-tagged", created_at=t, tags=["diffusers", "sora-distilled"])
    sim.add_repo("space", "quiet/video-app", created_at=t, models=["leak2/sora-weights"])
    sim.add_repo("model", "miqudev/miqu-1-70b", created_at=t)
    sim.add_repo("model", "fans/sora-faq", created_at=t)  # excluded: a known legitimate name
    sim.add_repo("model", "fans/sora-wiki", created_at=t)  # on the global allowlist
    sim.add_repo("model", "quiet/plain-model", created_at=t, tags=["transformers", "soraka"])
    scanner = make_scanner(path)
    scanner.run_once()
    fields = {
        h["repo_id"]: {(m["rule"], m["field"]) for m in h["matches"]} for h in scanner.store.list_hits()
    }
    assert fields == {
        "quiet/video-gen-ft": {("term", "base_model")},
        "quiet/video-gen-tagged": {("term", "tags")},
        "quiet/video-app": {("term", "models")},
        "miqudev/miqu-1-70b": {("owner", "owner")},
    }


def test_hostile_listing_fields_are_bounded() -> None:
    from monitor.hub import MAX_LIST, MAX_TEXT, to_repo

    item = {
        "id": "x/y",
        "tags": ["t" * 10_000] * 5_000 + [None, 7, {"a": 1}],
        "cardData": {"title": "\x1b[2J" + "T" * 100_000, "base_model": ["a/b", 3, "a/b"]},
        "baseModels": {"relation": "merge", "models": [{"id": "c/d"}, {"no": "id"}, "e/f"]},
        "models": ["not", "for", "models"],
    }
    repo = to_repo("model", item, NOW)
    assert len(repo.tags) == MAX_LIST and all(len(t) == MAX_TEXT for t in repo.tags)
    assert repo.title is not None and len(repo.title) == MAX_TEXT
    assert repo.base_models == ("c/d", "e/f", "a/b")
    assert repo.linked_models == ()  # only Spaces link models
    assert (
        to_repo("dataset", {"id": "x/y", "cardData": {"pretty_name": "Sora clips"}}, NOW).title
        == "Sora clips"
    )
    assert to_repo("model", {"id": "x/y", "cardData": "junk", "tags": "one"}, NOW).tags == ("one",)


def test_routing_min_severity_and_digest(sim: Any, receiver: Any, tmp_path: Path, make_scanner: Any) -> None:
    from monitor.receiver import WebhookReceiver
    from tests.conftest import SECRET

    watches = """
[[watch]]
name = "sora"
terms = ["sora"]
severity = "critical"

[[watch]]
name = "veo"
terms = ["veo-3"]
severity = "medium"
"""
    with WebhookReceiver(SECRET) as pager:
        extra = f"""
[[notifier]]
name = "pager"
type = "webhook"
url = "{pager.url}"
secret = "{SECRET}"
allow_private = true
min_severity = "high"
digest_over = 3
"""
        path = write_config(
            tmp_path / "leakmon.toml", endpoint=sim.url, hook_url=receiver.url, watches=watches, extra=extra
        )
        for i in range(5):
            sim.add_repo("model", f"leaker{i}/sora-{i}b", created_at=NOW - timedelta(minutes=i + 1))
        sim.add_repo("model", "x/veo-3-weights", created_at=NOW - timedelta(minutes=9))
        scanner = make_scanner(path)
        result = scanner.run_once()
        assert len(result.new_hit_ids) == 6 and result.delivery.delivered == 6 + 5
        # The security notifier (no digest, every severity) gets one message per hit.
        assert sorted(d.json["data"]["repo_id"] for d in receiver.accepted())[-1] == "x/veo-3-weights"
        assert {d.json["type"] for d in receiver.accepted()} == {"hit.created"}
        assert len(receiver.accepted()) == 6
        # The pager takes critical/high only, and more than 3 from one scan as one digest.
        (digest,) = pager.accepted()
        body = digest.json
        assert body["type"] == "hit.digest" and body["data"]["count"] == 5
        assert sorted(h["repo_id"] for h in body["data"]["hits"]) == [
            f"leaker{i}/sora-{i}b" for i in range(5)
        ]
        assert digest.verified
        rows = scanner.store.outbox_rows(("delivered",))
        assert len({r["digest_id"] for r in rows if r["notifier"] == "pager"}) == 1
