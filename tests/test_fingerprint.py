"""The pure evidence module: fingerprints and content judged from listing fields and fetched files."""

from __future__ import annotations

import contextlib
import json
import struct
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config import FingerprintConfig, WatchConfig
from monitor.fingerprint import (
    BadHeader,
    Evidence,
    FileInfo,
    RepoContent,
    parse_safetensors_header,
)
from monitor.records import Repo, basis, severity_for

WHEN = datetime(2024, 1, 28, tzinfo=UTC)
MIQU = FingerprintConfig(
    architecture="llama", context_length=32764, parameters=68_976_648_192, tolerance=0.01
)
SHA = "ab" * 32


def watch(name: str = "w", **kw: Any) -> WatchConfig:
    return WatchConfig(name=name, terms=kw.pop("terms", ()), **kw)


def model(repo_id: str = "anon/x", repo_type: str = "model", **raw: Any) -> Repo:
    return Repo(repo_type, repo_id, WHEN, raw={"id": repo_id, **raw})  # type: ignore[arg-type]


def siblings(*names: str) -> list[dict[str, str]]:
    return [{"rfilename": n} for n in names]


def header(tensors: dict[str, list[int]]) -> bytes:
    body = json.dumps({n: {"dtype": "BF16", "shape": s, "data_offsets": [0, 0]} for n, s in tensors.items()})
    return struct.pack("<Q", len(body)) + body.encode()


# --- the cheap tier: listing fields only ----------------------------------------------------------


def test_gguf_metadata_decides_without_a_request() -> None:
    ev = Evidence([watch("miqu", fingerprints=(MIQU,))])
    gguf = {"total": 68_976_648_192, "architecture": "llama", "context_length": 32764}
    found = ev.assess(model(gguf=gguf, siblings=siblings("m.gguf")))
    (m,) = found.matches
    assert (m.watch, m.rule, m.field) == ("miqu", "fingerprint", "gguf") and not found.needs
    assert m.term == "architecture=llama, context_length=32764, parameters=68976648192±1%"
    # Within the tolerance the score says how close; outside it, nothing.
    near = ev.assess(model(gguf={**gguf, "total": int(68_976_648_192 * 1.005)}))
    assert near.matches and 0.99 < near.matches[0].score < 1.0
    assert not ev.assess(model(gguf={**gguf, "total": int(68_976_648_192 * 1.02)})).matches
    # Same family, other context length or size: decided silent, and no probe either.
    for other in ({**gguf, "context_length": 4096}, {**gguf, "total": 7_000_000_000}):
        assert ev.assess(model(gguf=other)).matches == () and not ev.assess(model(gguf=other)).needs


def test_unknown_fields_become_needs_only_when_a_file_can_tell() -> None:
    fp = FingerprintConfig(architecture="llama", hidden_size=5120)
    ev = Evidence([watch(fingerprints=(fp,))])
    with_config = model(config={"model_type": "llama"}, siblings=siblings("config.json", "a.safetensors"))
    assert ev.assess(with_config).needs == {"config"}
    # The listing already contradicts it, or no config.json could tell: no probe.
    assert not ev.assess(model(config={"model_type": "mistral"}, siblings=siblings("config.json"))).needs
    assert not ev.assess(model(config={"model_type": "llama"}, siblings=siblings("x.gguf"))).needs
    # Datasets and Spaces have no config.json worth reading.
    assert not ev.assess(model(repo_type="dataset", siblings=siblings("config.json"))).needs


def test_hashes_need_the_file_list_only_for_repos_with_checkpoints() -> None:
    ev = Evidence([watch(fingerprints=(FingerprintConfig(sha256=(SHA,)),))])
    assert ev.required_fields("model") == ("siblings",)
    assert ev.assess(model(siblings=siblings("README.md", "w/part-1.bin"))).needs == {"files"}
    assert ev.assess(model(repo_type="dataset", siblings=siblings("7B/consolidated.00.pth"))).needs == {
        "files"
    }
    assert not ev.assess(model(siblings=siblings("README.md", "data.parquet"))).needs
    assert ev.assess(model()).needs == {"files"}  # no siblings in the listing: cannot rule it out


def test_tensor_shapes_need_headers_only_with_safetensors() -> None:
    fp = FingerprintConfig(tensors=MappingProxyType({"lm_head.weight": (32000, 4096)}))
    ev = Evidence([watch(fingerprints=(fp,))])
    assert ev.assess(model(siblings=siblings("model.safetensors"))).needs == {"header"}
    assert not ev.assess(model(siblings=siblings("model.gguf"))).needs
    # A sharded model: the index names the shard that holds the tensor.
    index = {
        "weight_map": {"lm_head.weight": "model-00002-of-00002.safetensors", "x": "model-00001.safetensors"}
    }
    files = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    assert ev.header_paths(files, index) == ["model-00002-of-00002.safetensors"]
    assert ev.header_paths(files, None) == files


def test_spaces_with_code_are_candidates_for_content() -> None:
    ev = Evidence([watch(content=("video.internal.example",))])
    assert ev.required_fields("space") == ("siblings",) and ev.required_fields("model") == ()
    space = model("a/b", "space", siblings=siblings("app.py", "requirements.txt", "x.png"))
    assert ev.assess(space).needs == {"texts"}
    assert ev.text_paths(space) == ["app.py", "requirements.txt"]
    custom = model("a/b", "space", cardData={"app_file": "src/server.py"}, siblings=siblings("src/server.py"))
    assert ev.text_paths(custom) == ["src/server.py"]
    assert not ev.assess(model("a/b", "space", siblings=siblings("index.html"))).needs
    assert not ev.assess(model("a/b", "space", cardData={"app_file": "../../etc/passwd"}, siblings=[])).needs


# --- the content tier: what a probe fetched ------------------------------------------------------


def test_judge_reads_config_json_with_aliases_and_text_config() -> None:
    fp = FingerprintConfig(
        architecture="llama", hidden_size=5120, num_hidden_layers=48, vocab_size=100352, rope_theta=5e5
    )
    ev = Evidence([watch(fingerprints=(fp,))])
    repo = model(config={"model_type": "llama"}, siblings=siblings("config.json"))
    good = {
        "model_type": "llama",
        "hidden_size": 5120,
        "num_hidden_layers": 48,
        "vocab_size": 100352,
        "rope_theta": 500000,
    }
    (m,) = ev.judge(repo, RepoContent(config=good))
    assert m.field == "config.json" and "rope_theta=500000 (config.json)" in m.text
    nested = {"model_type": "llava", "text_config": {**good}}
    assert ev.judge(repo, RepoContent(config=nested))
    gpt2 = {
        "model_type": "llama",
        "n_embd": 5120,
        "n_layer": 48,
        "vocab_size": 100352,
        "rope_theta": 500000.0,
    }
    assert ev.judge(repo, RepoContent(config=gpt2))
    assert not ev.judge(repo, RepoContent(config={**good, "num_hidden_layers": 40}))
    assert not ev.judge(repo, RepoContent(config={**good, "rope_theta": 10000}))
    assert not ev.judge(repo, RepoContent(config=None))  # still unknown after the probe: no


def test_judge_compares_hashes_and_tensor_shapes() -> None:
    fps = (
        FingerprintConfig(sha256=(SHA,)),
        FingerprintConfig(tensors=MappingProxyType({"lm_head.weight": (32000, 4096)})),
    )
    ev = Evidence([watch("lab", fingerprints=fps)])
    files = (FileInfo("x/renamed.bin", 10, SHA), FileInfo("README.md", 5, None))
    (m,) = ev.judge(model(), RepoContent(files=files))
    assert (m.rule, m.file, m.score) == ("sha256", "x/renamed.bin", 1.0)
    assert not ev.judge(model(), RepoContent(files=(FileInfo("model.bin", 10, "cd" * 32),)))
    tensors = parse_safetensors_header(header({"lm_head.weight": [32000, 4096], "other": [1]}))
    (m,) = ev.judge(model(siblings=siblings("model.safetensors")), RepoContent(tensors=tensors))
    assert m.rule == "fingerprint" and "tensor" in m.text
    wrong = parse_safetensors_header(header({"lm_head.weight": [32000, 5120]}))
    assert not ev.judge(model(siblings=siblings("model.safetensors")), RepoContent(tensors=wrong))


def test_content_matches_name_the_file_and_line() -> None:
    ev = Evidence(
        [
            watch("sora", content=("Video.Internal.Example",), content_patterns=(r"sk-sora-[a-z0-9]{8}",)),
            watch("other", content=("nothing-here",)),
        ]
    )
    app = "import os\n\nAPI = 'https://video.internal.example/v1'  # preview\nKEY = 'sk-sora-abcd1234'\n"
    found = ev.judge(model("a/b", "space"), RepoContent(texts={"README.md": "hello", "app.py": app}))
    assert [(m.watch, m.rule, m.file, m.line) for m in found] == [
        ("sora", "content", "app.py", 3),
        ("sora", "content", "app.py", 4),
    ]
    assert found[0].text == "API = 'https://video.internal.example/v1'  # preview"
    long_line = "x" * 5000 + " video.internal.example " + "y" * 5000
    (m,) = ev.judge(model("a/b", "space"), RepoContent(texts={"app.py": long_line}))
    assert "video.internal.example" in m.text and len(m.text) <= 160


def test_safetensors_headers_are_checked() -> None:
    assert parse_safetensors_header(header({"a": [2, 3]})) == {"a": (2, 3)}
    with pytest.raises(BadHeader):
        parse_safetensors_header(b"\x01\x02")
    with pytest.raises(BadHeader):
        parse_safetensors_header(struct.pack("<Q", 10**12) + b"{}")
    with pytest.raises(BadHeader):
        parse_safetensors_header(struct.pack("<Q", 10) + b"{}")  # cut short
    with pytest.raises(BadHeader):
        parse_safetensors_header(struct.pack("<Q", 4) + b"[1] ")


def test_severity_rests_on_the_strongest_evidence() -> None:
    assert severity_for("low", ["term"]) == "low"
    assert severity_for("low", ["term", "fingerprint"]) == "high"
    assert severity_for("medium", ["content"]) == "high"
    assert severity_for("high", ["sha256"]) == "critical"
    assert severity_for("critical", ["fingerprint"]) == "critical"  # evidence never lowers it
    assert basis(["term", "content", "fingerprint"]) == "fingerprint" and basis(["fuzzy"]) == "name"


# --- hostile Hub data ----------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
EVERYTHING = Evidence(
    [
        watch("a", content=("needle",), content_patterns=("n[e]+dle",), fingerprints=(MIQU,)),
        watch(
            "b",
            fingerprints=(
                FingerprintConfig(sha256=(SHA,), hidden_size=1, rope_theta=1.0),
                FingerprintConfig(tensors=MappingProxyType({"t": (1,)})),
            ),
        ),
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    raw=st.dictionaries(
        st.sampled_from(["gguf", "safetensors", "config", "siblings", "cardData", "id"]), JSON, max_size=6
    ),
    repo_type=st.sampled_from(["model", "dataset", "space"]),
    config=JSON,
    text=st.text(),
)
def test_hostile_listing_and_files_never_raise(
    raw: dict[str, Any], repo_type: str, config: Any, text: str
) -> None:
    repo = Repo(repo_type, "x/y", WHEN, raw=raw)  # type: ignore[arg-type]
    EVERYTHING.assess(repo)
    content = RepoContent(
        files=(FileInfo("a.bin", None, SHA),),
        config=config if isinstance(config, dict) else None,
        tensors={"t": (1,)},
        texts={"app.py": text},
    )
    EVERYTHING.judge(repo, content)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_a_header_or_bad_header(data: bytes) -> None:
    with contextlib.suppress(BadHeader):
        parse_safetensors_header(data)
