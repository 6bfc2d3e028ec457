"""The Hub simulator, driven by the real huggingface_hub client.

Each test names the line of /work/shared/design/hub-api.md ("hub-api.md:N") whose behaviour it checks.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"  # before huggingface_hub is imported (hub-api.md:66)

import itertools
import json
import math
import random
import re
import select
import signal
import subprocess
import sys
import threading
import time
import types
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import (
    BadRequestError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import _http, get_session, hf_raise_for_status, parse_ratelimit_headers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.hubsim import (
    HubSimulator,
    gguf_header,
    llama_tensors,
    parse_time,
    safetensors_bytes,
    scenario_path,
)
from monitor.hubsim.scenario import noise_specs
from monitor.hubsim.state import HubState

TIMEOUT = 10
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NOW = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def sim():
    with HubSimulator() as s:
        yield s


@pytest.fixture
def api(sim):
    return HfApi(endpoint=sim.url, token=False)


@pytest.fixture
def sleeps(monkeypatch):
    """Record http_backoff's waits instead of sleeping (1, 2, 4... s; t+1 s on a 429 with r=0)."""
    recorded: list[float] = []
    fake = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("_")})
    fake.sleep = recorded.append
    monkeypatch.setattr(_http, "time", fake)
    return recorded


def get(url: str, **kwargs):
    return get_session().get(url, timeout=TIMEOUT, **kwargs)


def add_models(sim: HubSimulator, n: int, *, start: datetime = NOW, step: float = 60.0, prefix: str = "m"):
    """n models, one every `step` seconds going back from `start`; returns their ids, newest first."""
    ids = []
    for i in range(n):
        repo_id = f"user{i % 7}/{prefix}-{i:05d}"
        sim.add_repo(
            "model",
            repo_id,
            created_at=start - timedelta(seconds=i * step),
            tags=["transformers", f"bucket:{i % 3}"],
            pipeline_tag="text-generation",
            library_name="transformers",
        )
        ids.append(repo_id)
    return ids


# --- listings ------------------------------------------------------------------------------------


def test_list_models_pages_of_1000_newest_first(sim, api):
    """hub-api.md:9-11 (sort=createdAt, newest first), :14 (1000 per page), :36-37 (absolute Link)."""
    ids = add_models(sim, 2500)
    # Same createdAt: the tie is broken on _id, descending, so order stays total and stable.
    for i in range(3):
        sim.add_repo("model", f"tie/t{i}", created_at=NOW - timedelta(seconds=30))
    models = list(api.list_models(sort="created_at"))
    assert len(models) == 2503
    assert len({m.id for m in models}) == 2503
    assert {m.id for m in models} >= set(ids)
    created = [m.created_at for m in models]
    assert created == sorted(created, reverse=True)
    reqs = sim.requests("/api/models")
    assert len(reqs) == 3
    assert ("sort", "createdAt") in reqs[0].query and not any(k == "limit" for k, _ in reqs[0].query)
    assert [r.status for r in reqs] == [200, 200, 200]

    first = get(f"{sim.url}/api/models", params={"sort": "createdAt"})
    assert len(first.json()) == 1000
    assert first.headers["Link"].startswith(f"<{sim.url}/api/models?sort=createdAt&cursor=")
    ties = [item["_id"] for item in first.json() if item["id"].startswith("tie/")]
    assert ties == sorted(ties, reverse=True)


def test_limit_is_page_size_and_client_cap(sim, api):
    """hub-api.md:14-15: limit= is the page size, carried in the Link; the client also caps the total."""
    add_models(sim, 300)
    r = get(f"{sim.url}/api/models", params={"sort": "createdAt", "limit": 100, "search": "m-"})
    assert len(r.json()) == 100
    link = r.links["next"]["url"]
    assert link.startswith(f"{sim.url}/api/models?") and "limit=100" in link and "search=m-" in link
    page2 = get(link).json()
    assert page2[0]["id"] == "user2/m-00100"
    assert get(f"{sim.url}/api/models", params={"limit": 5000}).json().__len__() == 300  # capped at 1000

    sim.clear_log()
    capped = list(api.list_models(sort="created_at", limit=150))
    assert len(capped) == 150  # pitfall: 150 more exist, and the client never asks for them
    assert len(sim.requests("/api/models")) == 1


def test_keyset_pages_stable_while_repos_are_added(sim, api):
    """hub-api.md:37 (keyset cursor): repos created during a scan do not shift the later pages."""
    ids = add_models(sim, 2500)
    gen = iter(api.list_models(sort="created_at"))
    seen = [m.id for m in itertools.islice(gen, 1000)]  # page 1 only; page 2 is not requested yet
    assert len(sim.requests("/api/models")) == 1
    for i in range(120):
        sim.add_repo("model", f"late/new-{i}", created_at=NOW + timedelta(minutes=1 + i))
    sim.add_repo("model", "late/backdated", created_at=NOW - timedelta(days=30))
    seen += [m.id for m in gen]
    assert seen[:2500] == ids
    assert seen[2500:] == ["late/backdated"]  # older than the cursor: still ahead of it


def test_expand_returns_only_requested_fields(sim, api):
    """hub-api.md:16-23 (expand), :33-34 (safetensors/gguf shapes)."""
    sim.add_repo(
        "model",
        "acme/with-weights",
        created_at=NOW,
        safetensors={"parameters": {"BF16": 7}, "total": 7},
        card_data={"license": "mit"},
    )
    sim.add_repo("model", "acme/bare", created_at=NOW - timedelta(hours=1))
    items = get(
        f"{sim.url}/api/models",
        params=[("expand", "createdAt"), ("expand", "author"), ("expand", "safetensors")],
    ).json()
    assert set(items[0]) == {"_id", "id", "createdAt", "author", "safetensors"}
    assert set(items[1]) == {"_id", "id", "createdAt", "author"}  # a field the repo lacks is omitted
    assert ISO_MS.match(items[0]["createdAt"]) and re.fullmatch(r"[0-9a-f]{24}", items[0]["_id"])

    models = list(api.list_models(expand=["createdAt", "safetensors", "cardData"]))
    assert models[0].safetensors.total == 7 and models[0].card_data["license"] == "mit"
    assert models[0].author is None  # not asked for

    for extra in ({"full": "true"}, {"cardData": "true"}, {"config": "true"}):
        r = get(f"{sim.url}/api/models", params={"expand": "author", **extra})
        assert r.status_code == 400 and "error" in r.json()
    r = get(f"{sim.url}/api/spaces", params={"expand": "safetensors"})  # not a Space property
    assert r.status_code == 400
    with pytest.raises(BadRequestError):
        hf_raise_for_status(get(f"{sim.url}/api/models", params={"expand": "author", "full": "true"}))


def test_default_item_shapes_full_and_private(sim):
    """hub-api.md:24-31: default item shapes, ISO timestamps with ms, full=true; private repos unlisted."""
    sim.add_repo(
        "model",
        "acme/llm",
        created_at=NOW,
        tags=["transformers"],
        pipeline_tag="text-generation",
        library_name="transformers",
    )
    sim.add_repo("model", "acme/secret", created_at=NOW, private=True)
    sim.add_repo("space", "acme/demo", created_at=NOW, sdk="gradio", card_data={"title": "Demo"})
    sim.add_repo("dataset", "acme/data", created_at=NOW, description="rows")
    (model,) = get(f"{sim.url}/api/models").json()
    assert list(model) == [
        "_id",
        "id",
        "likes",
        "trendingScore",
        "private",
        "downloads",
        "tags",
        "pipeline_tag",
        "library_name",
        "createdAt",
        "modelId",
    ]
    assert model["createdAt"] == "2026-01-15T12:00:00.000Z"
    (space,) = get(f"{sim.url}/api/spaces").json()
    assert list(space) == ["_id", "id", "likes", "trendingScore", "private", "sdk", "tags", "createdAt"]
    (dataset,) = get(f"{sim.url}/api/datasets").json()
    assert {"author", "sha", "lastModified", "description", "downloads", "gated"} <= set(dataset)
    (full,) = get(f"{sim.url}/api/models", params={"full": "true"}).json()
    assert {"author", "sha", "lastModified", "siblings", "gated", "disabled"} <= set(full)
    assert full["siblings"] == [{"rfilename": ".gitattributes"}]
    assert sim.repo_count("model") == 2


def test_search_author_filter_across_types(sim, api):
    """hub-api.md:12-13: search is a case-insensitive substring of the id; author= owner; filter= tags."""
    sim.load_scenario(
        {
            "repos": [
                {
                    "type": "space",
                    "id": "PR-Puppets/PR-Puppet-Sora",
                    "created": "-2h",
                    "sdk": "gradio",
                    "cardData": {"title": "PR Puppet Sora"},
                },
                {"type": "space", "id": "riot-fan/soraka-build-guide", "created": "-3h", "sdk": "gradio"},
                {
                    "type": "space",
                    "id": "someone/video",
                    "created": "-1h",
                    "cardData": {"title": "Sora clone"},
                },
                {
                    "type": "dataset",
                    "id": "music-lab/sorabji-piano-dataset",
                    "created": "-1h",
                    "tags": ["audio"],
                },
                {"type": "dataset", "id": "music-lab/other", "created": "-1h", "tags": ["audio", "midi"]},
                {"type": "model", "id": "Acme/a", "created": "-1h", "tags": ["gguf", "llama"]},
                {"type": "model", "id": "acme/b", "created": "-2h", "tags": ["gguf"]},
                {"type": "model", "id": "other/c", "created": "-3h", "tags": ["gguf", "llama"]},
            ]
        },
        now=NOW,
    )
    assert [s.id for s in api.list_spaces(search="SORA")] == [
        "PR-Puppets/PR-Puppet-Sora",
        "riot-fan/soraka-build-guide",
    ]  # not the card
    assert [d.id for d in api.list_datasets(author="MUSIC-LAB", filter="midi")] == ["music-lab/other"]
    assert [m.id for m in api.list_models(author="acme")] == ["Acme/a", "acme/b"]
    assert [m.id for m in api.list_models(filter=["gguf", "llama"])] == ["Acme/a", "other/c"]
    # pitfalls.md: `\w` in repo ids includes Unicode letters.
    sim.add_repo("model", "josé/modèle-ü", created_at=NOW)
    assert [m.id for m in api.list_models(search="MODÈLE")] == ["josé/modèle-ü"]
    assert get(f"{sim.url}/api/models/josé/modèle-ü").json()["id"] == "josé/modèle-ü"
    assert sim.requests("/api/models/josé/")[0].status == 200  # the log holds decoded paths
    spaces = list(api.list_spaces(sort="created_at", expand=["cardData", "createdAt"]))
    assert spaces[0].card_data.title == "Sora clone"
    assert get(f"{sim.url}/api/spaces", params={"sort": "downloads"}).status_code == 400  # hub-api.md:9


# --- faults --------------------------------------------------------------------------------------


def test_429_storm_completes_via_http_backoff(sim, api, sleeps):
    """hub-api.md:68-69: http_backoff retries 429s; with RateLimit r=0;t=0 it waits 0+1 s each time."""
    add_models(sim, 10)
    sim.rate_limit_burst(count=3, reset=0, path=r"^/api/models$")
    assert len(list(api.list_models(sort="created_at"))) == 10
    assert [r.status for r in sim.requests("/api/models")] == [429, 429, 429, 200]
    assert sleeps == [1.0, 1.0, 1.0]

    sim.rate_limit_burst(count=1, reset=7)
    r = get(f"{sim.url}/api/models")
    info = parse_ratelimit_headers(r.headers)
    assert r.status_code == 429 and info.remaining == 0 and info.reset_in_seconds == 7


def test_500_on_page_two_is_retried(sim, api, sleeps):
    """hub-api.md:36-37 (page from the cursor), :68 (500 retried by http_backoff)."""
    add_models(sim, 1500)
    rule = sim.fail(500, path=r"^/api/models$", page=2, times=1)
    assert len(list(api.list_models(sort="created_at"))) == 1500
    reqs = sim.requests("/api/models")
    assert [r.status for r in reqs] == [200, 500, 200]
    assert any(k == "cursor" for k, _ in reqs[1].query)
    assert rule.hits == 1 and not rule.active and sleeps == [1]


def test_persistent_5xx_raises_after_retries(sim, api, sleeps):
    """hub-api.md:68-69: up to 5 retries, waiting 1, 2, 4, 8, 8 s, then the error surfaces."""
    rule = sim.fail(503, path=r"^/api/spaces$", times=None)
    with pytest.raises(HfHubHTTPError):
        list(api.list_spaces())
    assert len(sim.requests("/api/spaces")) == 6 and sleeps == [1, 2, 4, 8, 8]
    rule.remove()
    assert list(api.list_spaces()) == []


def test_malformed_json_raises_decode_error(sim, api):
    """A truncated 200 body reaches the client's r.json() (hub-api.md:8: listings are JSON arrays)."""
    add_models(sim, 5)
    sim.malformed_json(path=r"^/api/models$", times=1)
    with pytest.raises(json.JSONDecodeError):
        list(api.list_models())
    assert len(list(api.list_models())) == 5


def test_latency_and_connection_reset(sim, api, sleeps):
    """hub-api.md:68: network errors are retried like 5xx."""
    add_models(sim, 3)
    rule = sim.latency(0.3, path=r"^/api/models$", times=1)
    t0 = time.monotonic()
    assert len(list(api.list_models())) == 3
    assert time.monotonic() - t0 >= 0.3 and rule.hits == 1
    sim.reset_connection(path=r"^/api/models$", times=1)
    assert len(list(api.list_models())) == 3
    assert [r.status for r in sim.requests("/api/models")][-2:] == [0, 200]
    sim.fail(502, path=None, times=None)
    sim.clear_faults()
    assert len(list(api.list_models())) == 3


def test_ratelimit_headers_and_quota(sim, api):
    """hub-api.md:52-60: RateLimit headers on /api/*, a separate resolvers bucket, 429 over quota."""
    sim.add_repo("model", "acme/m", files={"a.txt": b"hello"})
    r = get(f"{sim.url}/api/models")
    info = parse_ratelimit_headers(r.headers)
    assert (info.resource_type, info.remaining, info.limit, info.window_seconds) == ("api", 499, 500, 300)
    assert 0 < info.reset_in_seconds <= 300
    r = get(f"{sim.url}/acme/m/resolve/main/a.txt")
    info = parse_ratelimit_headers(r.headers)
    assert (info.resource_type, info.remaining, info.limit) == ("resolvers", 2999, 3000)

    sim.set_quota(3, window=60)
    remaining = [parse_ratelimit_headers(get(f"{sim.url}/api/models").headers).remaining for _ in range(3)]
    assert remaining == [2, 1, 0]
    r = get(f"{sim.url}/api/models/acme/m")
    assert r.status_code == 429 and parse_ratelimit_headers(r.headers).remaining == 0
    with pytest.raises(HfHubHTTPError, match="429"):  # hub-api.md:70: model_info does not retry
        api.model_info("acme/m")
    assert get(f"{sim.url}/acme/m/resolve/main/a.txt").status_code == 200  # other bucket


# --- one repo ------------------------------------------------------------------------------------


def test_repo_info_and_not_found(sim, api):
    """hub-api.md:41-43: full info, ?blobs=true, /revision/{rev}, 404 + X-Error-Code: RepoNotFound."""
    sim.add_repo(
        "model",
        "acme/llm",
        created_at=NOW,
        gguf={"total": 7, "architecture": "llama", "context_length": 32764},
        files={"README.md": "# hi\n", "w.gguf": b"GGUF"},
        gated="manual",
    )
    sim.add_repo("space", "acme/app", sdk="gradio", card_data={"title": "App"}, files={"app.py": "print()"})
    sim.add_repo("dataset", "acme/rows", description="some rows")
    info = api.model_info("acme/llm", files_metadata=True)
    assert info.gguf["context_length"] == 32764 and info.gated == "manual" and info.author == "acme"
    sib = {s.rfilename: s for s in info.siblings}
    assert sib["w.gguf"].lfs.sha256 and sib["w.gguf"].size == 4 and sib["README.md"].lfs is None
    assert api.model_info("acme/llm", revision=info.sha).sha == info.sha
    with pytest.raises(RevisionNotFoundError):
        api.model_info("acme/llm", revision="nope")
    space = api.space_info("acme/app")
    assert space.card_data.title == "App" and space.sdk == "gradio" and space.runtime.stage == "RUNNING"
    assert api.dataset_info("acme/rows").description == "some rows"
    r = get(f"{sim.url}/api/models/acme/missing")
    assert r.status_code == 404 and r.headers["X-Error-Code"] == "RepoNotFound"
    assert r.json() == {"error": "Repository not found"}
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("acme/missing")
    with pytest.raises(RepositoryNotFoundError):
        api.space_info("acme/llm")  # exists, but as a model
    sim.update_repo("model", "acme/llm", private=True)
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("acme/llm")


def test_renamed_repo_redirects(sim, api, tmp_path):
    """hub-api.md:42-43: a renamed repo answers 307 to its new path."""
    sim.add_repo("model", "old-org/model", files={"f.txt": b"x"})
    sim.rename_repo("model", "old-org/model", "new-org/model-v2")
    info = api.model_info("old-org/model")
    assert info.id == "new-org/model-v2" and info.author == "new-org"
    r = get(f"{sim.url}/api/models/old-org/model", params={"blobs": "true"}, follow_redirects=False)
    assert r.status_code == 307 and r.headers["Location"] == "/api/models/new-org/model-v2?blobs=true"
    assert [x.status for x in sim.requests("/api/models/")][:2] == [307, 200]
    assert [m.id for m in api.list_models()] == ["new-org/model-v2"]
    assert Path(api.hf_hub_download("old-org/model", "f.txt", cache_dir=tmp_path)).read_bytes() == b"x"
    r = get(f"{sim.url}/old-org/model/resolve/main/f.txt", follow_redirects=False)
    assert r.status_code == 307 and r.headers["Location"] == "/new-org/model-v2/resolve/main/f.txt"


def test_list_repo_tree_recursive_with_lfs(sim, api):
    """hub-api.md:44-45: entries {type, oid, size, path, lfs{oid=sha256,size,pointerSize}}, 1000 a page."""
    sha = "a" * 64
    sim.add_repo("model", "acme/tree", files={"README.md": "hi", "config.json": "{}"})
    sim.add_file("model", "acme/tree", "weights/model.safetensors", lfs_sha256=sha, size=5_000_000_000)
    sim.add_file("model", "acme/tree", "weights/sub/extra.bin", b"\0" * 10)
    entries = list(api.list_repo_tree("acme/tree", recursive=True))
    by_path = {e.path: e for e in entries}
    assert set(by_path) == {
        ".gitattributes",
        "README.md",
        "config.json",
        "weights",
        "weights/model.safetensors",
        "weights/sub",
        "weights/sub/extra.bin",
    }
    big = by_path["weights/model.safetensors"]
    assert big.lfs.sha256 == sha and big.size == 5_000_000_000 and big.lfs.pointer_size > 100
    assert by_path["weights/sub/extra.bin"].lfs.size == 10  # .bin goes to LFS
    assert by_path["README.md"].lfs is None and len(by_path["README.md"].blob_id) == 40
    assert {e.path for e in api.list_repo_tree("acme/tree")} == {
        ".gitattributes",
        "README.md",
        "config.json",
        "weights",
    }
    assert {e.path for e in api.list_repo_tree("acme/tree", path_in_repo="weights/sub")} == {
        "weights/sub/extra.bin"
    }

    sim.add_repo("dataset", "acme/many", files={f"data/{i:04d}.json": "{}" for i in range(1500)})
    sim.clear_log()
    assert len(list(api.list_repo_tree("acme/many", repo_type="dataset", recursive=True))) == 1502
    assert len(sim.requests("/api/datasets/acme/many/tree/")) == 2


def test_get_paths_info_with_sha256(sim, api):
    """hub-api.md:46: POST paths-info with a form body returns the same entries for chosen paths."""
    sha = "b" * 64
    sim.add_repo("space", "acme/app", files={"app.py": "print('hi')\n"})
    sim.add_file("space", "acme/app", "assets/logo.png", lfs_sha256=sha, size=1234)
    infos = api.get_paths_info(
        "acme/app", ["assets/logo.png", "app.py", "assets", "missing.txt"], repo_type="space"
    )
    assert [i.path for i in infos] == ["assets/logo.png", "app.py", "assets"]
    assert infos[0].lfs.sha256 == sha and infos[0].size == 1234
    assert infos[1].lfs is None and infos[1].size == len("print('hi')\n")
    assert infos[2].tree_id
    (req,) = sim.requests("/api/spaces/acme/app/paths-info/", method="POST")
    assert req.status == 200


def test_download_and_range_reads(sim, api, tmp_path):
    """hub-api.md:47-48: resolve serves the file with X-Repo-Commit and ETag; Range answers 206."""
    content = b"hello leakmon\n" * 100
    sim.add_repo("model", "acme/files", files={"notes.txt": content})
    sim.add_file("model", "acme/files", "blob.bin", b"0123456789" * 10)
    path = api.hf_hub_download("acme/files", "notes.txt", cache_dir=tmp_path)
    assert Path(path).read_bytes() == content
    assert (
        Path(api.hf_hub_download("acme/files", "blob.bin", cache_dir=tmp_path)).read_bytes()
        == b"0123456789" * 10
    )

    r = get(f"{sim.url}/acme/files/resolve/main/blob.bin", headers={"Range": "bytes=2-5"})
    assert r.status_code == 206 and r.content == b"2345" and r.headers["Content-Range"] == "bytes 2-5/100"
    assert r.headers["X-Linked-Etag"].strip('"') == r.headers["ETag"].strip('"')
    head = get_session().head(f"{sim.url}/acme/files/resolve/main/notes.txt", timeout=TIMEOUT)
    assert head.headers["Content-Length"] == str(len(content)) and head.headers["X-Repo-Commit"]
    assert head.headers["Accept-Ranges"] == "bytes" and head.headers["ETag"]
    assert get(f"{sim.url}/acme/files/resolve/main/nope.txt").headers["X-Error-Code"] == "EntryNotFound"
    assert (
        get(f"{sim.url}/acme/files/resolve/main/blob.bin", headers={"Range": "bytes=500-"}).status_code == 416
    )
    sim.add_repo("dataset", "acme/ds", files={"train.csv": "a,b\n1,2\n"})
    assert get(f"{sim.url}/datasets/acme/ds/resolve/main/train.csv").content == b"a,b\n1,2\n"


def test_safetensors_metadata_parameter_count(sim, api):
    """hub-api.md:49-50: HEAD, then GET Range: bytes=0-100000; first 8 bytes = header length."""
    tensors = llama_tensors(hidden=64, layers=2, vocab=100, intermediate=128, dtype="BF16")
    sim.add_repo("model", "acme/tiny-llama")
    sim.add_safetensors("model", "acme/tiny-llama", "model.safetensors", tensors, {"format": "pt"})
    meta = api.get_safetensors_metadata("acme/tiny-llama")
    counts = meta.files_metadata["model.safetensors"].parameter_count
    expected = sum(math.prod(shape) for _, shape in tensors.values())
    assert counts == {"BF16": expected}
    assert api.model_info("acme/tiny-llama").safetensors.total == expected  # hub-api.md:33
    ranges = [r.headers.get("range") for r in sim.requests("/acme/tiny-llama/resolve/")]
    assert "bytes=0-100000" in ranges

    # A header over 100 kB needs the client's second Range request.
    big = {f"layer.{i}.weight": ("F32", (3, 3)) for i in range(2000)}
    sim.add_repo("model", "acme/wide", files={"model.safetensors": safetensors_bytes(big)})
    assert api.get_safetensors_metadata("acme/wide").files_metadata["model.safetensors"].parameter_count == {
        "F32": 18000
    }
    assert any((r.headers.get("range") or "").startswith("bytes=8-") for r in sim.requests("/acme/wide/"))


def test_request_log_records_headers(sim):
    """hub-api.md:72: the token travels as `authorization: Bearer`; the log shows whether it was sent."""
    list(HfApi(endpoint=sim.url, token="hf_fake_token").list_models())
    list(HfApi(endpoint=sim.url, token=False).list_models(search="x"))
    with_token, without = sim.requests("/api/models")
    assert with_token.headers["authorization"] == "Bearer hf_fake_token"
    assert "authorization" not in without.headers and "hf_hub/" in without.headers["user-agent"]
    assert ("search", "x") in without.query and without.at >= with_token.at
    sim.clear_log()
    assert sim.requests() == []


def test_mutations_while_listing_are_thread_safe(sim, api):
    """hub-api.md:75-76: repos keep arriving while a monitor polls."""
    add_models(sim, 200)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer():
        i = 0
        while not stop.is_set() and i < 2000:
            try:
                sim.add_repo("model", f"w/r{i}", created_at=NOW + timedelta(seconds=i))
                sim.update_repo("model", f"w/r{i}", likes=i)
                if i % 3 == 0:
                    sim.remove_repo("model", f"w/r{i}")
            except BaseException as e:
                errors.append(e)
                return
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(10):
            items = list(api.list_models(sort="created_at"))
            assert len({m.id for m in items}) == len(items)
    finally:
        stop.set()
        t.join(timeout=10)
    assert not errors


# --- scenarios -----------------------------------------------------------------------------------


def test_scenario_relative_times_and_files(sim, api):
    """hub-api.md:30-31 (timestamps), :32 (cardData.title), :33-34 (safetensors, gguf)."""
    n = sim.load_scenario(
        {
            "repos": [
                {
                    "type": "space",
                    "id": "a/seconds",
                    "created": "-90s",
                    "cardData": {"title": "T"},
                    "sdk": "gradio",
                    "files": {"app.py": "print(1)"},
                },
                {
                    "type": "model",
                    "id": "a/hours",
                    "created": "-2h",
                    "files": {"model.safetensors": {"safetensors": {"tensors": {"w": ["F16", [4, 8]]}}}},
                },
                {
                    "type": "model",
                    "id": "a/gguf",
                    "created": "-1d",
                    "files": {"m.Q4_K_M.gguf": {"gguf": {"total": 1000, "context_length": 32764}}},
                },
                {"type": "dataset", "id": "a/number", "created": -30},
                {"type": "dataset", "id": "a/iso", "created": "2024-11-26T10:00:00Z", "lastModified": "-5m"},
            ],
            "noise": [{"type": "space", "count": 50, "within": "1h", "seed": 3}],
        },
        now=NOW,
    )
    assert n == 55 and sim.repo_count() == 55
    created = {m.id: m.created_at for m in api.list_models(expand=["createdAt"])}
    assert created["a/hours"] == NOW - timedelta(hours=2) and created["a/gguf"] == NOW - timedelta(days=1)
    assert api.space_info("a/seconds").created_at == NOW - timedelta(seconds=90)
    assert api.dataset_info("a/number").created_at == NOW - timedelta(seconds=30)
    iso = api.dataset_info("a/iso")
    assert iso.created_at == datetime(2024, 11, 26, 10, tzinfo=UTC) and iso.last_modified == NOW - timedelta(
        minutes=5
    )
    assert api.model_info("a/hours").safetensors.parameters == {"F16": 32}
    assert api.model_info("a/gguf").gguf == {"total": 1000, "architecture": "llama", "context_length": 32764}
    assert (
        get(f"{sim.url}/a/gguf/resolve/main/m.Q4_K_M.gguf", headers={"Range": "bytes=0-3"}).content == b"GGUF"
    )
    assert parse_time("+5m", NOW) == NOW + timedelta(minutes=5)
    with pytest.raises(ValueError):
        parse_time("2h", NOW)  # unsigned: ambiguous
    spaces = [s for s in api.list_spaces(expand=["createdAt"]) if s.id != "a/seconds"]
    assert len(spaces) == 50
    fresh = [s for s in spaces if NOW - timedelta(hours=1) <= s.created_at <= NOW]
    # The rest are real ids (spaces.txt) that keep their old createdAt (hub-api.md:30-31).
    assert len(fresh) >= 40 and all(s.created_at < NOW - timedelta(days=29) for s in spaces if s not in fresh)


def test_noise_is_deterministic_and_realistic():
    """hub-api.md:75 (volume): 3,000 noise repos, same seed -> same repos. (How fast the demo's noise
    builds is not asserted: timings belong to the benchmarks, not to tests on noisy machines.)"""
    models = noise_specs({"type": "model", "count": 1800, "seed": 5}, NOW)
    datasets = noise_specs({"type": "dataset", "count": 450, "seed": 6}, NOW)
    spaces = noise_specs({"type": "space", "count": 750, "seed": 7}, NOW)
    state = HubState()
    state.add_many(models + datasets + spaces)
    assert state.count() == 3000
    again = noise_specs({"type": "model", "count": 1800, "seed": 5}, NOW)
    assert [s[1] for s in again] == [s[1] for s in models]
    ids = [s[1] for s in models]
    assert len({i.lower() for i in ids}) == len(ids)
    assert not any(re.fullmatch(r".*/(repo|model)-?\d+", i) for i in ids)
    assert any(i.endswith("GGUF") for i in ids) and any("finetuned" in i for i in ids)
    kwargs = [s[2] for s in models]
    assert {k.get("library_name") for k in kwargs} >= {"transformers", "timm", "peft", "mlx"}
    assert sum(1 for k in kwargs if "baseModels" in k) > 1000
    recent = [k["created_at"] for k in kwargs if k["created_at"] > NOW - timedelta(days=2)]
    assert len(recent) > 1500 and all(NOW - timedelta(hours=24) <= c <= NOW for c in recent)
    titles = [s[2]["card_data"]["title"] for s in spaces]
    assert len(set(titles)) > 300


def test_demo_scenario(sim, api):
    """hub-api.md:81-83 (the Sora leak) and a day of noise (hub-api.md:75)."""
    assert scenario_path("demo").name == "demo.json" and scenario_path("demo").is_file()
    n = sim.load_scenario("demo")
    assert n == sim.repo_count() >= 3000
    shares = {t: sim.repo_count(t) / n for t in ("model", "dataset", "space")}
    assert 0.55 < shares["model"] < 0.65 and 0.12 < shares["dataset"] < 0.18 and 0.2 < shares["space"] < 0.3

    leak = api.space_info("PR-Puppets/PR-Puppet-Sora", files_metadata=True)
    assert leak.card_data.title == "PR Puppet Sora" and leak.sdk == "gradio"
    age = datetime.now(UTC) - leak.created_at
    assert timedelta(hours=1, minutes=50) < age < timedelta(hours=2, minutes=10)
    app = get(f"{sim.url}/spaces/PR-Puppets/PR-Puppet-Sora/resolve/main/app.py").text
    assert "api.openai.com" in app and "os.environ" in app

    token = re.compile(r"(?<![a-z0-9])sora(?![a-z0-9])")
    hits: dict[str, list[str]] = {}
    for kind, lister in (
        ("model", api.list_models),
        ("dataset", api.list_datasets),
        ("space", api.list_spaces),
    ):
        for repo in lister(search="sora"):
            hits.setdefault(kind, []).append(repo.id)
    whole = [i for ids in hits.values() for i in ids if token.search(i.lower())]
    inside = [i for ids in hits.values() for i in ids if not token.search(i.lower())]
    assert whole == ["PR-Puppets/PR-Puppet-Sora"]
    assert len(inside) >= 5 and len(hits) == 3
    assert "riot-fan/soraka-build-guide" in inside and "music-lab/sorabji-piano-dataset" in inside

    # Noise weights carry real safetensors headers that agree with the listed counts (hub-api.md:33, :49-50).
    checked = 0
    for model in api.list_models(expand=["safetensors", "siblings"]):
        if model.safetensors and "model.safetensors" in {f.rfilename for f in model.siblings}:
            meta = api.get_safetensors_metadata(model.id).files_metadata["model.safetensors"]
            assert meta.parameter_count == model.safetensors.parameters
            checked += 1
            if checked == 5:
                break
    assert checked == 5


def test_leaks_scenario_gguf_header():
    """hub-api.md:85-87: Miqu's GGUF metadata (llama, context 32764) gives it away."""
    with HubSimulator() as sim:
        sim.load_scenario(scenario_path("leaks"))
        info = HfApi(endpoint=sim.url, token=False).model_info("miqudev/miqu-1-70b")
        assert info.gguf["architecture"] == "llama" and info.gguf["context_length"] == 32764
        head = get(
            f"{sim.url}/miqudev/miqu-1-70b/resolve/main/miqu-1-70b.q4_k_m.gguf",
            headers={"Range": "bytes=0-4095"},
        ).content
        assert head.startswith(b"GGUF") and b"llama.context_length" in head
    assert gguf_header({"general.architecture": "llama"})[:8] == b"GGUF\x03\x00\x00\x00"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(0, 60), limit=st.integers(1, 25), ties=st.integers(1, 5), seed=st.integers(0, 1000))
def test_keyset_pagination_property(n, limit, ties, seed):
    """hub-api.md:36-37: following cursors yields every listed repo once, in sort order."""
    state = HubState()
    rng = random.Random(seed)
    for i in range(n):
        state.add_repo(
            "model",
            f"o/r{i}",
            created_at=NOW - timedelta(seconds=rng.randrange(n // ties + 1)),
            likes=rng.randrange(5),
        )
    for sort in ("createdAt", "likes"):
        seen: list[str] = []
        query = [("sort", sort), ("limit", str(limit))]
        for _ in range(n + 2):
            items, cursor = state.list_page("model", query)
            seen += [item["id"] for item in items]
            if cursor is None:
                break
            query = [("sort", sort), ("limit", str(limit)), ("cursor", cursor)]
        assert sorted(seen) == sorted(f"o/r{i}" for i in range(n))
        keys = [(state.get("model", i).sort_value(sort), state.get("model", i).oid) for i in seen]
        assert keys == sorted(keys, reverse=True)


def test_standalone_process_serves_and_stops(tmp_path):
    """`python -m monitor.hubsim` prints its URL, serves a listing (hub-api.md:8) and exits on SIGTERM."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.hubsim", "--port", "0", "--scenario", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "no URL printed"
        url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        with urllib.request.urlopen(f"{url}/api/spaces?search=PR-Puppet&limit=5", timeout=TIMEOUT) as r:
            assert [s["id"] for s in json.load(r)] == ["PR-Puppets/PR-Puppet-Sora"]
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert time.monotonic() - t0 < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
