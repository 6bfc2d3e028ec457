"""Leaks that do not say their name (issue 6), each through a real scan against the simulator.

The scenario `fingerprints` (monitor/hubsim/scenarios/fingerprints.json) holds the leaks and their
look-alikes among a day of noise; the watches below describe what a lab knows of its own models.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.hubsim.files import safetensors_file
from tests.conftest import write_config

NOW = datetime.now(UTC)
KNOWN_SHA = "f3c76204089fba31f50544f6bf83d406c7570d8c25a9f4941b4abdb2bbd36bdb"  # the lab's own shard

MIQU = """
[[watch]]
name = "mistral-medium"
terms = ["mistral-medium"]
ignore_authors = ["mistralai"]
severity = "medium"
  [[watch.fingerprint]]
  architecture = "llama"
  context_length = 32764
  parameters = 68_976_648_192
  tolerance = 0.01
"""
SORA = """
[[watch]]
name = "sora"
terms = ["sora"]
content = ["video-preview.internal.example"]
content_patterns = ['sk-sora-[A-Za-z0-9]{20}']
severity = "critical"
"""
AURORA_SHA = f"""
[[watch]]
name = "aurora"
terms = ["aurora-13b"]
severity = "low"
  [[watch.fingerprint]]
  sha256 = ["{KNOWN_SHA}"]
"""
AURORA_CONFIG = """
[[watch]]
name = "aurora"
terms = ["aurora-13b"]
severity = "low"
  [[watch.fingerprint]]
  architecture = "llama"
  hidden_size = 5120
  num_hidden_layers = 48
  vocab_size = 100352
"""


def config(tmp_path: Path, sim: Any, receiver: Any, watches: str, budget: int = 5000) -> Path:
    return write_config(
        tmp_path / "leakmon.toml",
        endpoint=sim.url,
        hook_url=receiver.url,
        watches=watches,
        extra=f"\n[content]\nmax_requests = {budget}\n",
    )


@pytest.fixture
def scenario(sim: Any) -> Any:
    sim.set_quota(10**6, resolver_quota=10**6)
    sim.load_scenario("fingerprints")
    return sim


def hits_by_repo(scanner: Any) -> dict[str, dict[str, Any]]:
    return {h["repo_id"]: h for h in scanner.store.list_hits()}


def test_renamed_gguf_reupload_is_caught_by_its_listing_metadata(
    scenario: Any, receiver: Any, tmp_path: Path, make_scanner: Any
) -> None:
    scanner = make_scanner(config(tmp_path, scenario, receiver, MIQU))
    result = scanner.run_once()
    assert result.ok
    found = hits_by_repo(scanner)
    # The re-upload's name says nothing; its GGUF metadata gives it away. The lab's own upload is
    # silent (ignore_authors), and so is every look-alike of the family: the same architecture and
    # size with another context length (Llama-2-70B, CodeLlama-70B), the same context and another
    # size (a 3B), and the day of noise with its own GGUF llamas.
    assert list(found) == ["quantfan/mq-70b-instruct-GGUF"]
    hit = found["quantfan/mq-70b-instruct-GGUF"]
    assert hit["severity"] == "high"  # metadata fingerprint: high, above the watch's medium
    (match,) = hit["matches"]
    assert match["rule"] == "fingerprint" and match["field"] == "gguf"
    assert "context_length=32764 (gguf)" in match["text"] and "architecture=llama" in match["text"]
    (delivery,) = receiver.deliveries
    assert delivery.json["data"]["basis"] == "fingerprint" and delivery.json["data"]["severity"] == "high"

    # The cheap tier: decided from the listings alone. Every other request is the hit's evidence.
    others = [
        r.path for r in scenario.requests() if r.path not in ("/api/models", "/api/datasets", "/api/spaces")
    ]
    assert others and all("quantfan/mq-70b-instruct-GGUF" in path for path in others), others
    listing = next(r for r in scenario.requests() if r.path == "/api/models")
    assert {"gguf", "safetensors", "config"} <= {v for k, v in listing.query if k == "expand"}


def test_innocent_space_is_caught_by_its_code(
    scenario: Any, receiver: Any, tmp_path: Path, make_scanner: Any
) -> None:
    scanner = make_scanner(config(tmp_path, scenario, receiver, SORA))
    result = scanner.run_once()
    assert result.ok and result.content is not None and result.content.deferred == 0
    found = hits_by_repo(scanner)
    # dream-image-studio calls the public API: silent. Every noise Space's code was read too.
    assert list(found) == ["artsy-lab/dream-video-studio"]
    hit = found["artsy-lab/dream-video-studio"]
    (match,) = hit["matches"]
    assert (match["rule"], match["field"], match["file"], match["line"]) == ("content", "file", "app.py", 7)
    assert match["term"] == "video-preview.internal.example"
    assert "https://video-preview.internal.example/v2/generate" in match["text"]
    assert hit["severity"] == "critical"  # the watch's own level; content alone would be high
    (delivery,) = receiver.deliveries
    assert delivery.json["data"]["basis"] == "content"
    assert delivery.json["data"]["matches"][0]["file"] == "app.py"
    # Only what the listing says the Spaces hold was fetched: no 404s.
    resolves = [r for r in scenario.requests() if "/resolve/" in r.path]
    assert resolves and all(r.status in (200, 206, 416) for r in resolves)


def test_reupload_under_new_file_names_is_caught_by_lfs_sha256(
    scenario: Any, receiver: Any, tmp_path: Path, make_scanner: Any
) -> None:
    scanner = make_scanner(config(tmp_path, scenario, receiver, AURORA_SHA))
    assert scanner.run_once().ok
    found = hits_by_repo(scanner)
    # other-lab/big-checkpoint has a shard of the very same size under the lab's own file name,
    # but other bytes: silent.
    assert list(found) == ["backup-2024/checkpoint-archive"]
    hit = found["backup-2024/checkpoint-archive"]
    assert hit["severity"] == "critical"  # a known file's hash: critical, above the watch's low
    (match,) = hit["matches"]
    assert match["rule"] == "sha256" and match["file"] == "shards/part-00001.bin"
    assert KNOWN_SHA in match["text"]
    # The hash came from the Hub's file list (?blobs=true); the evidence keeps that list.
    evidence = json.loads(scanner.store.conn.execute("SELECT evidence FROM hits").fetchone()[0])
    files = {f["path"]: f for f in evidence["files"]}
    assert files["shards/part-00001.bin"]["sha256"] == KNOWN_SHA and files["shards/part-00001.bin"]["lfs"]
    assert files["shards/part-00001.bin"]["size"] == 4976698672
    assert evidence["findings"][0]["rule"] == "sha256"
    # Repos without checkpoint files were never asked for their file list.
    info = [r for r in scenario.requests() if r.path.startswith("/api/models/")]
    assert all(("blobs", "true") in r.query for r in info)
    assert not any(r.path.startswith("/api/models/exp-lab/") for r in info)  # config.json only


def test_config_json_fingerprint_is_read_from_the_file(
    scenario: Any, receiver: Any, tmp_path: Path, make_scanner: Any
) -> None:
    scanner = make_scanner(config(tmp_path, scenario, receiver, AURORA_CONFIG))
    assert scanner.run_once().ok
    found = hits_by_repo(scanner)
    # exp-lab/llama-13b-test: llama with the same hidden size, other layers and vocabulary: silent.
    assert list(found) == ["exp-lab/wizard-13b-test"]
    (match,) = found["exp-lab/wizard-13b-test"]["matches"]
    assert match["rule"] == "fingerprint" and match["field"] == "config.json"
    assert "num_hidden_layers=48 (config.json)" in match["text"]
    configs = [r.path for r in scenario.requests() if r.path.endswith("/resolve/main/config.json")]
    assert "/exp-lab/llama-13b-test/resolve/main/config.json" in configs
    # Only llama models that have a config.json were read: the listing ruled the rest out.
    assert not any("gguf" in p.lower() for p in configs)


def test_tensor_shapes_are_read_from_safetensors_headers(
    sim: Any, receiver: Any, tmp_path: Path, make_scanner: Any
) -> None:
    shapes = {
        "model.embed_tokens.weight": ("BF16", (100352, 5120)),
        "lm_head.weight": ("BF16", (100352, 5120)),
    }
    other = {"model.embed_tokens.weight": ("BF16", (32000, 5120)), "lm_head.weight": ("BF16", (32000, 5120))}
    sim.add_repo("model", "anon/fresh-weights", created_at=NOW - timedelta(minutes=5))
    sim.add_file(
        "model", "anon/fresh-weights", "model.safetensors", safetensors_file("model.safetensors", shapes)
    )
    sim.add_repo("model", "anon/other-weights", created_at=NOW - timedelta(minutes=6))
    sim.add_file(
        "model", "anon/other-weights", "model.safetensors", safetensors_file("model.safetensors", other)
    )
    watches = """
[[watch]]
name = "aurora"
terms = ["aurora-13b"]
  [[watch.fingerprint]]
  tensors = { "model.embed_tokens.weight" = [100352, 5120], "lm_head.weight" = [100352, 5120] }
"""
    scanner = make_scanner(config(tmp_path, sim, receiver, watches))
    assert scanner.run_once().ok
    found = hits_by_repo(scanner)
    assert list(found) == ["anon/fresh-weights"]
    (match,) = found["anon/fresh-weights"]["matches"]
    assert match["rule"] == "fingerprint" and "safetensors header" in match["text"]
    # Range reads of the header only: never the multi-gigabyte tensors behind it.
    reads = [r for r in sim.requests() if r.path.endswith("/model.safetensors")]
    assert len(reads) == 2 and all(r.headers.get("range", "").startswith("bytes=0-") for r in reads)


def test_a_tight_budget_defers_the_rest_to_the_next_scan(
    sim: Any, receiver: Any, tmp_path: Path, make_scanner: Any
) -> None:
    app = 'import gradio as gr\n\ngr.Interface(lambda t: t, "text", "text").launch()\n'
    for i in range(12):
        sim.add_repo(
            "space",
            f"maker{i}/playground-{i}",
            created_at=NOW - timedelta(minutes=10 + i),
            sdk="gradio",
            files={"app.py": app, "requirements.txt": "gradio\n"},
        )
    leak = 'KEY = "sk-sora-ABCDEFGHIJKLMNOPQRST12"\n' + app
    # The oldest, so the newest-first queue reaches it last.
    sim.add_repo(
        "space", "quiet/notes", created_at=NOW - timedelta(hours=2), sdk="gradio", files={"app.py": leak}
    )
    path = config(tmp_path, sim, receiver, SORA, budget=5)
    first = make_scanner(path)
    result = first.run_once()
    assert result.ok and result.content is not None
    assert 0 < result.content.probed < 13 and result.content.deferred == 13 - result.content.probed
    assert result.content.hub_requests <= 5 + 2  # the budget, and at most one probe past it
    assert first.store.list_hits() == []
    first.close()

    # Later scans (new processes: the queue is in the database) take the rest, nothing dropped.
    for _ in range(12):
        scanner = make_scanner(path)
        scanner.run_once()
        pending = scanner.store.probe_counts()["pending"]
        if pending == 0:
            break
    assert scanner.store.probe_counts() == {"pending": 0, "done": 13, "gone": 0, "failed": 0}
    (hit,) = scanner.store.list_hits()
    assert hit["repo_id"] == "quiet/notes" and hit["matches"][0]["rule"] == "content"
    assert hit["matches"][0]["term"] == "sk-sora-[A-Za-z0-9]{20}"
    assert len([d for d in receiver.deliveries if d.json["type"] == "hit.created"]) == 1
    for i in range(12):  # every Space's code was read exactly once
        assert (
            len(
                [
                    r
                    for r in sim.requests()
                    if r.path == f"/spaces/maker{i}/playground-{i}/resolve/main/app.py"
                ]
            )
            == 1
        )


def test_a_budget_smaller_than_one_probe_still_makes_progress(
    sim: Any, receiver: Any, tmp_path: Path, make_scanner: Any
) -> None:
    files = {
        "app.py": "x = 1\n",
        "requirements.txt": "gradio\n",
        "README.md": "video-preview.internal.example",
    }
    for i in range(3):
        sim.add_repo("space", f"s/{i}", created_at=NOW - timedelta(minutes=i + 1), sdk="gradio", files=files)
    scanner = make_scanner(config(tmp_path, sim, receiver, SORA, budget=1))
    for expected_done in (1, 2, 3):  # one probe of three file reads per scan
        result = scanner.run_once()
        assert result.content is not None and result.content.probed == 1
        assert scanner.store.probe_counts()["done"] == expected_done
    assert len(scanner.store.list_hits()) == 3


def test_a_repo_gone_before_its_probe_is_dropped_and_a_failing_hub_defers(
    sim: Any, receiver: Any, tmp_path: Path, make_scanner: Any
) -> None:
    leak = 'API = "https://video-preview.internal.example/v1"\n'
    sim.add_repo(
        "space", "a/one", created_at=NOW - timedelta(minutes=5), sdk="gradio", files={"app.py": leak}
    )
    sim.add_repo(
        "space", "b/two", created_at=NOW - timedelta(minutes=6), sdk="gradio", files={"app.py": leak}
    )
    path = config(tmp_path, sim, receiver, SORA, budget=1)
    scanner = make_scanner(path)
    scanner.run_once()  # probes a/one (the newest); b/two waits
    assert [h["repo_id"] for h in scanner.store.list_hits()] == ["a/one"]
    sim.remove_repo("space", "b/two")
    scanner.run_once()
    # a/one's evidence was taken; b/two is gone from the Hub: forgotten, no hit, no error.
    assert scanner.store.probe_counts()["gone"] == 1 and scanner.store.probe_counts()["pending"] == 0

    sim.add_repo(
        "space", "c/three", created_at=NOW - timedelta(minutes=1), sdk="gradio", files={"app.py": leak}
    )
    sim.fail(path=r"^/spaces/c/three/resolve/", status=500, times=1000)
    failed = scanner.run_once()
    assert failed.ok  # the listings were read: the cursor moves; the probe waits
    assert failed.content is not None and "HTTP 500" in failed.content.errors[0]
    assert scanner.store.probe_counts()["pending"] == 1
    sim.clear_faults()
    scanner.run_once()
    assert {h["repo_id"] for h in scanner.store.list_hits()} == {"a/one", "c/three"}


def test_a_name_hit_keeps_evidence_of_what_the_repo_held(
    sim: Any, receiver: Any, tmp_path: Path, make_scanner: Any
) -> None:
    sim.load_scenario("demo")
    path = write_config(tmp_path / "leakmon.toml", endpoint=sim.url, hook_url=receiver.url)
    scanner = make_scanner(path)
    result = scanner.run_once()
    assert result.ok and len(result.new_hit_ids) == 1
    hit = scanner.store.get_hit(result.new_hit_ids[0])
    evidence = json.loads(
        scanner.store.conn.execute("SELECT evidence FROM hits WHERE id = ?", (hit["id"],)).fetchone()[0]
    )
    assert {f["path"] for f in evidence["files"]} >= {"app.py", "requirements.txt", "README.md"}
    assert "https://api.openai.com/v1/video/generations" in evidence["app"]["text"]
    assert evidence["card"]["text"].startswith("---\ntitle: PR Puppet Sora")
    assert evidence["repo"]["id"] == "PR-Puppets/PR-Puppet-Sora" and "siblings" not in evidence["repo"]
    # Captured after the alert went out: detection never waits for evidence.
    assert receiver.deliveries and "evidence" not in receiver.deliveries[0].json["data"]

    # The Space is taken down; what it held stays readable, and goes into the takedown draft.
    sim.remove_repo("space", "PR-Puppets/PR-Puppet-Sora")
    scanner.close()
    runner = CliRunner()
    shown = runner.invoke(cli, ["hits", "show", str(hit["id"]), "--json", "--config", str(path)])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert "https://api.openai.com/v1/video/generations" in data["evidence"]["app"]["text"]
    assert {f["path"] for f in data["evidence"]["files"]} >= {"app.py", "requirements.txt"}
    report = runner.invoke(cli, ["hits", "report", str(hit["id"]), "--config", str(path)])
    assert report.exit_code == 0, report.output
    assert "api.openai.com/v1/video/generations" in report.output and "requirements.txt" in report.output


def test_silenced_owners_are_silent_for_evidence_too(
    scenario: Any, receiver: Any, tmp_path: Path, make_scanner: Any
) -> None:
    watches = MIQU.replace('ignore_authors = ["mistralai"]', 'ignore_authors = ["mistralai", "quantfan"]')
    path = config(tmp_path, scenario, receiver, watches + '\n[allowlist]\nrepos = ["x/y"]\n')
    scanner = make_scanner(path)
    assert scanner.run_once().ok
    assert scanner.store.list_hits() == []


def test_a_removed_leak_back_under_another_name_is_linked_as_a_reupload(
    scenario: Any, receiver: Any, tmp_path: Path, make_scanner: Any
) -> None:
    from monitor.hubsim.files import gguf_file
    from monitor.recheck import recheck

    watches = MIQU + AURORA_SHA.replace('name = "aurora"', 'name = "aurora"\nnotify = ["security"]')
    # A leak found by its name only: no fingerprint knows its weights, its evidence does.
    unknown_sha = "9e" * 32
    scenario.add_repo("model", "leaker/aurora-13b-preview", created_at=NOW - timedelta(minutes=3))
    scenario.add_file(
        "model", "leaker/aurora-13b-preview", "consolidated.00.pth", size=13 * 10**9, lfs_sha256=unknown_sha
    )
    scanner = make_scanner(config(tmp_path, scenario, receiver, watches))
    scanner.run_once()
    found = hits_by_repo(scanner)
    gguf_hit, sha_hit = found["quantfan/mq-70b-instruct-GGUF"], found["backup-2024/checkpoint-archive"]
    name_hit = found["leaker/aurora-13b-preview"]
    # All three are taken down; the re-check sees it.
    scenario.remove_repo("model", "quantfan/mq-70b-instruct-GGUF")
    scenario.remove_repo("model", "backup-2024/checkpoint-archive")
    scenario.remove_repo("model", "leaker/aurora-13b-preview")
    assert sorted(recheck(scanner).removed) == sorted([gguf_hit["id"], sha_hit["id"], name_hit["id"]])

    # Back under other names: the same GGUF metadata, and the same shard under another file name.
    later = datetime.now(UTC)
    scenario.add_repo("model", "fresh-acct/mq-reupload", created_at=later)
    scenario.add_file(
        "model",
        "fresh-acct/mq-reupload",
        "q4.gguf",
        gguf_file("q4.gguf", 68_976_648_192, architecture="llama", context_length=32764),
    )
    scenario.add_repo("model", "mirror-9/archive-copy", created_at=later)
    scenario.add_file("model", "mirror-9/archive-copy", "blob/0.bin", size=4976698672, lfs_sha256=KNOWN_SHA)
    scenario.add_repo("model", "someone/aurora13b-v0", created_at=later)
    scenario.add_file("model", "someone/aurora13b-v0", "weights.pth", size=13 * 10**9, lfs_sha256=unknown_sha)
    receiver.deliveries.clear()
    scanner.run_once()
    found = hits_by_repo(scanner)
    again_gguf, again_sha = found["fresh-acct/mq-reupload"], found["mirror-9/archive-copy"]
    assert again_gguf["reupload_of"] == gguf_hit["id"] and again_sha["reupload_of"] == sha_hit["id"]
    # The alerts say so (the link is made before they are queued), and so does each history.
    by_repo = {d.json["data"]["repo_id"]: d.json["data"] for d in receiver.deliveries}
    assert by_repo["fresh-acct/mq-reupload"]["reupload_of"] == gguf_hit["id"]
    assert by_repo["mirror-9/archive-copy"]["reupload_of"] == sha_hit["id"]
    history = scanner.store.hit_events(again_sha["id"])
    assert any(f"re-upload of hit #{sha_hit['id']}" in (e["note"] or "") for e in history)
    # The name-only leak is linked once its evidence shows the same checkpoint (after its alert).
    again_name = found["someone/aurora13b-v0"]
    assert again_name["reupload_of"] == name_hit["id"]
    notes = [e["note"] or "" for e in scanner.store.hit_events(again_name["id"])]
    assert f"re-upload of hit #{name_hit['id']}: the same checkpoint files" in notes
    # Nothing else alerted: other-lab/big-checkpoint, a shard of the same size with other bytes, is
    # neither a hit nor a re-upload.
    assert set(found) == {
        "quantfan/mq-70b-instruct-GGUF",
        "backup-2024/checkpoint-archive",
        "fresh-acct/mq-reupload",
        "mirror-9/archive-copy",
        "leaker/aurora-13b-preview",
        "someone/aurora13b-v0",
    }
