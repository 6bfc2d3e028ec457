"""Evidence from what a repo holds, not what it is called: fingerprints and content. Pure: no I/O.

The worst leaks carry no watched name (Mistral's model leaked as `miqu-1-70b`). A lab knows its own
models: architecture, context length, parameter count, `config.json` fields, tensor shapes, the
sha256 of its files. This module judges a repo against those fingerprints, and searches its files
for a watch's `content` strings and `content_patterns`, in two tiers:

1. `assess`: the listing's own fields (`gguf`, `safetensors`, `config`, `siblings`, `cardData`),
   which cost no extra request. Each fingerprint is then decided (it holds, or a field contradicts
   it) or pending: every field still unknown can be read from a file of the repo. What the repo
   must be probed for is returned as `needs`.
2. `judge`: the same fingerprints (and content) with what the content tier fetched: the file list
   with LFS sha256, `config.json`, safetensors headers and the opening text of small files. A field
   still unknown now counts as not holding.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.config import FingerprintConfig, WatchConfig
from monitor.records import Match, Repo

# What a probe can fetch. "files": the file list with sizes and LFS sha256 (one API request);
# "config": config.json; "header": safetensors headers (Range reads); "texts": small text files.
NEEDS = ("files", "config", "header", "texts")

# Files whose hash is worth comparing: checkpoints, quantisations and archives of them.
CHECKPOINT_EXTENSIONS = (
    ".safetensors", ".gguf", ".ggml", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".h5", ".msgpack",
    ".npz", ".tar", ".zip", ".7z", ".gz", ".zst", ".xz", ".rar", ".llamafile", ".mlmodel", ".tflite",
)  # fmt: skip
# Small files a Space's code and set-up live in, read for content strings.
SPACE_TEXTS = ("app.py", "requirements.txt", "Dockerfile", "main.py", "README.md")
REPO_TEXTS = ("README.md",)
SAFETENSORS_INDEX = "model.safetensors.index.json"
# What a hit's evidence takes: the file list with hashes, and the card and code to read.
EVIDENCE_NEEDS = frozenset({"files", "texts"})
MAX_TEXT_FILES = 5
MAX_HEADER_FILES = 3  # safetensors files whose header one probe reads
MAX_HEADER_BYTES = 25_000_000  # a larger declared header is not a safetensors header
SNIPPET = 160  # characters of a line kept as evidence
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx")
CONFIG_FIELDS = ("hidden_size", "num_hidden_layers", "vocab_size", "rope_theta")
# config.json names of the same fields in other model families (GPT-2 style, T5 style).
CONFIG_ALIASES = {
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "num_hidden_layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "vocab_size": ("vocab_size",),
    "rope_theta": ("rope_theta",),
}


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str
    size: int | None
    sha256: str | None  # the LFS oid; None for files kept in git


@dataclass(frozen=True, slots=True)
class RepoContent:
    """What the content tier fetched for one repo; None: not fetched (or not there)."""

    files: tuple[FileInfo, ...] | None = None
    config: Mapping[str, Any] | None = None
    tensors: Mapping[str, tuple[int, ...]] | None = None  # name -> shape, from safetensors headers
    texts: Mapping[str, str] = field(default_factory=dict)  # path -> opening text


@dataclass(frozen=True, slots=True)
class Assessment:
    """The cheap tier's verdict on one repo: matches found, and what a probe would need to decide."""

    matches: tuple[Match, ...] = ()
    needs: frozenset[str] = frozenset()


# --- reading the listing ---------------------------------------------------------------------------


def _siblings(repo: Repo) -> tuple[str, ...] | None:
    """File names from the listing's `siblings` (None: not in the listing)."""
    raw = repo.raw.get("siblings")
    if not isinstance(raw, list):
        return None
    names = []
    for s in raw:
        name = s.get("rfilename") if isinstance(s, Mapping) else None
        if isinstance(name, str):
            names.append(name)
    return tuple(names)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def is_checkpoint(path: str) -> bool:
    return path.lower().endswith(CHECKPOINT_EXTENSIONS)


def _configs(repo: Repo, content: RepoContent | None) -> list[tuple[Mapping[str, Any], str]]:
    """(config dict, source) to read fields from: config.json (and its text_config), then the
    listing's `config`."""
    out: list[tuple[Mapping[str, Any], str]] = []
    for cfg, source in (
        (content.config if content else None, "config.json"),
        (repo.raw.get("config"), "config"),
    ):
        if isinstance(cfg, Mapping) and cfg:
            out.append((cfg, source))
            text = cfg.get("text_config")
            if isinstance(text, Mapping):
                out.append((text, source))
    return out


def _known(repo: Repo, content: RepoContent | None, name: str) -> list[tuple[Any, str]]:
    """Every value a fingerprint field can be compared with, and where it came from."""
    gguf = _dict(repo.raw.get("gguf"))
    found: list[tuple[Any, str]] = []
    configs = _configs(repo, content)
    if name == "architecture":
        if isinstance(gguf.get("architecture"), str):
            found.append((gguf["architecture"].strip().lower(), "gguf"))
        found += [
            (c["model_type"].strip().lower(), s) for c, s in configs if isinstance(c.get("model_type"), str)
        ]
    elif name == "context_length":
        if _int(gguf.get("context_length")) is not None:
            found.append((_int(gguf["context_length"]), "gguf"))
        for cfg, source in configs:
            value = next((_int(cfg[k]) for k in CONTEXT_KEYS if _int(cfg.get(k)) is not None), None)
            if value is not None:
                found.append((value, source))
    elif name == "parameters":
        for source in ("safetensors", "gguf"):
            total = _int(_dict(repo.raw.get(source)).get("total"))
            if total is not None:
                found.append((total, source))
    elif name in CONFIG_ALIASES:
        read = _number if name == "rope_theta" else _int
        for cfg, source in configs:
            value = next((read(cfg[k]) for k in CONFIG_ALIASES[name] if read(cfg.get(k)) is not None), None)
            if value is not None:
                found.append((value, source))
    return found


def _holds(fp: FingerprintConfig, name: str, value: Any) -> bool:
    want = getattr(fp, name)
    if name == "parameters":
        return abs(value - want) <= fp.tolerance * want
    if name == "rope_theta":
        return abs(value - want) <= 1e-9 * max(abs(want), 1.0)
    return bool(value == want)


_SCALARS = ("architecture", "context_length", "parameters", *CONFIG_FIELDS)
# Which probe can tell a field the listing did not: config.json, for these only.
_FROM_CONFIG = frozenset({"architecture", "context_length", *CONFIG_FIELDS})


# --- the evidence index ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Content:
    watch: int
    term: str  # the string or pattern as configured
    regex: re.Pattern[str]
    rule_text: str  # "string" | "pattern"


class Evidence:
    """Every watch's fingerprints and content strings, compiled once."""

    def __init__(self, watches: Iterable[WatchConfig]) -> None:
        self.watches = tuple(watches)
        self._fps = [(w, fp) for w, watch in enumerate(self.watches) for fp in watch.fingerprints]
        self._sha: dict[str, list[int]] = {}
        for w, watch in enumerate(self.watches):
            for fp in watch.fingerprints:
                for digest in fp.sha256:
                    self._sha.setdefault(digest, []).append(w)
        self._content: list[_Content] = []
        for w, watch in enumerate(self.watches):
            for s in watch.content:
                self._content.append(_Content(w, s, re.compile(re.escape(s), re.IGNORECASE), "string"))
            for p in watch.content_patterns:
                self._content.append(_Content(w, p, re.compile(p, re.IGNORECASE), "pattern"))
        self._metadata = any(_gives_metadata(fp) for _, fp in self._fps)
        self._hashes = bool(self._sha)

    @property
    def active(self) -> bool:
        return bool(self._fps or self._content)

    @property
    def has_content(self) -> bool:
        return bool(self._content)

    def required_fields(self, repo_type: str) -> tuple[str, ...]:
        """Listing `expand` fields the cheap tier reads, on top of the matcher's."""
        fields: list[str] = []
        if repo_type == "model" and self._metadata:
            fields += ["safetensors", "gguf", "config"]
        if self._hashes or self._metadata or (repo_type == "space" and self._content):
            fields.append("siblings")
        return tuple(fields)

    # --- tier 1: the listing ---------------------------------------------------------------------

    def assess(self, repo: Repo) -> Assessment:
        """Fingerprints decided from the listing alone, and what a probe needs for the rest."""
        siblings = _siblings(repo)
        matches: list[Match] = []
        needs: set[str] = set()
        for w, fp in self._fps:
            verdict = self._judge_fp(w, fp, repo, None, siblings)
            if isinstance(verdict, Match):
                matches.append(verdict)
            elif verdict:
                needs |= verdict
        if self._content and repo.repo_type == "space" and self.text_paths(repo, siblings):
            needs.add("texts")
        return Assessment(tuple(matches), frozenset(needs))

    def text_paths(self, repo: Repo, siblings: Sequence[str] | None = None) -> list[str]:
        """Small files to read: a Space's app file, requirements and card; a repo's card."""
        siblings = _siblings(repo) if siblings is None else siblings
        wanted: list[str] = []
        if repo.repo_type == "space":
            app = _dict(repo.raw.get("cardData")).get("app_file")
            if isinstance(app, str) and app and len(app) < 200 and ".." not in app:
                wanted.append(app.lstrip("/"))
            wanted += SPACE_TEXTS
        else:
            wanted += REPO_TEXTS
        wanted = list(dict.fromkeys(wanted))
        if siblings is not None:
            present = set(siblings)
            wanted = [p for p in wanted if p in present]
        return wanted[:MAX_TEXT_FILES]

    def header_paths(self, files: Sequence[str], index: Mapping[str, Any] | None) -> list[str]:
        """safetensors files whose header tells the fingerprints' tensors (the index picks shards)."""
        wanted = {name for _, fp in self._fps for name in fp.tensors}
        weight_map = _dict(_dict(index).get("weight_map"))
        if wanted and weight_map:
            shards = [weight_map[n] for n in sorted(wanted) if isinstance(weight_map.get(n), str)]
            return list(dict.fromkeys(s for s in shards if s in set(files)))[:MAX_HEADER_FILES]
        return sorted(p for p in files if p.endswith(".safetensors"))[:MAX_HEADER_FILES]

    # --- tier 2: what a probe fetched ------------------------------------------------------------

    def judge(self, repo: Repo, content: RepoContent) -> list[Match]:
        """Every fingerprint and content match, with what the content tier fetched."""
        matches: list[Match] = []
        files = [f.path for f in content.files] if content.files is not None else _siblings(repo)
        for w, fp in self._fps:
            verdict = self._judge_fp(w, fp, repo, content, files)
            if isinstance(verdict, Match):
                matches.append(verdict)
        matches += self._content_matches(content.texts)
        return matches

    def _judge_fp(
        self,
        w: int,
        fp: FingerprintConfig,
        repo: Repo,
        content: RepoContent | None,
        files: Sequence[str] | None,
    ) -> Match | set[str] | None:
        """A Match when the fingerprint holds; the probe needs when it may; None when it does not."""
        watch = self.watches[w].name
        seen: list[str] = []
        needs: set[str] = set()
        score = 1.0
        for name in _SCALARS:
            if getattr(fp, name) is None:
                continue
            known = _known(repo, content, name)
            if known:
                good = [(v, src) for v, src in known if _holds(fp, name, v)]
                if not good:
                    return None
                value, source = good[0]
                if name == "parameters" and fp.parameters:
                    score = min(score, 1.0 - abs(value - fp.parameters) / fp.parameters)
                seen.append(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}")
                seen[-1] += f" ({source})"
            elif (
                content is None
                and name in _FROM_CONFIG
                and repo.repo_type == "model"
                and _has(files, "config.json")
            ):
                needs.add("config")
            else:
                return None  # nothing the repo holds can tell this field
        if fp.tensors:
            tensors = content.tensors if content else None
            if tensors is not None:
                for tname, shape in fp.tensors.items():
                    if tuple(tensors.get(tname, ())) != shape:
                        return None
                seen.append(f"{len(fp.tensors)} tensor shape(s) (safetensors header)")
            elif content is None and (files is None or any(p.endswith(".safetensors") for p in files)):
                needs.add("header")
            else:
                return None
        known_file: FileInfo | None = None
        if fp.sha256:
            if content is not None and content.files is not None:
                wanted = set(fp.sha256)
                known_file = next((f for f in content.files if f.sha256 in wanted), None)
                if known_file is None:
                    return None
            elif content is None and (files is None or any(is_checkpoint(p) for p in files)):
                needs.add("files")
            else:
                return None
        if needs:
            return needs
        if known_file is not None:
            text = f"{known_file.path} sha256 {known_file.sha256}"
            if seen:
                text += "; " + ", ".join(seen)
            return Match(watch, "sha256", "files", fp.describe(), text, 1.0, file=known_file.path)
        fields = sorted({s.rsplit("(", 1)[-1].rstrip(")") for s in seen})
        return Match(watch, "fingerprint", "+".join(fields), fp.describe(), ", ".join(seen), round(score, 4))

    def _content_matches(self, texts: Mapping[str, str]) -> list[Match]:
        out: list[Match] = []
        for c in self._content:
            for path, text in texts.items():
                m = c.regex.search(text)
                if m is None:
                    continue
                line = text.count("\n", 0, m.start()) + 1
                start = text.rfind("\n", 0, m.start()) + 1
                end = text.find("\n", m.end())
                snippet = text[start : end if end != -1 else len(text)].strip()
                if len(snippet) > SNIPPET:  # keep the match in view
                    left = max(0, m.start() - start - SNIPPET // 3)
                    snippet = snippet[left : left + SNIPPET]
                out.append(
                    Match(self.watches[c.watch].name, "content", "file", c.term, snippet, 1.0, path, line)
                )
                break  # one finding per string per repo: the first file that has it
        return out

    def hash_watches(self, digests: Iterable[str]) -> list[str]:
        """Watches one of whose sha256 fingerprints lists any of these digests."""
        names: dict[str, None] = {}
        for d in digests:
            for w in self._sha.get(d, ()):
                names[self.watches[w].name] = None
        return list(names)


def _gives_metadata(fp: FingerprintConfig) -> bool:
    return bool(fp.tensors) or any(getattr(fp, n) is not None for n in _SCALARS)


def _has(files: Sequence[str] | None, path: str) -> bool:
    return files is None or path in files


# --- parsing what was fetched ----------------------------------------------------------------------


class BadHeader(ValueError):
    """The bytes are not a safetensors header."""


def safetensors_header_length(prefix: bytes) -> int:
    """The header length a safetensors file declares in its first 8 bytes (little-endian u64)."""
    if len(prefix) < 8:
        raise BadHeader("shorter than 8 bytes")
    (length,) = struct.unpack("<Q", prefix[:8])
    if not 2 <= length <= MAX_HEADER_BYTES:
        raise BadHeader(f"declares a header of {length} bytes")
    return int(length)


def parse_safetensors_header(data: bytes) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes from a safetensors file's opening bytes (8-byte length + JSON)."""
    length = safetensors_header_length(data)
    if len(data) < 8 + length:
        raise BadHeader(f"needs {8 + length} bytes, got {len(data)}")
    try:
        header = json.loads(data[8 : 8 + length])
    except ValueError as err:
        raise BadHeader(f"header is not JSON ({err})") from None
    if not isinstance(header, dict):
        raise BadHeader("header is not a JSON object")
    out: dict[str, tuple[int, ...]] = {}
    for name, info in header.items():
        if name == "__metadata__" or not isinstance(info, dict):
            continue
        shape = info.get("shape")
        if isinstance(shape, list) and all(_int(d) is not None for d in shape):
            out[str(name)] = tuple(int(d) for d in shape)
    return out


def parse_json_object(data: bytes) -> dict[str, Any] | None:
    """A JSON object from a file's bytes, or None (not JSON, cut short, or not an object)."""
    try:
        value = json.loads(data.decode("utf-8", errors="replace"))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def decode_text(data: bytes) -> str:
    """A file's opening bytes as text (a multi-byte character cut at the end is dropped)."""
    return data.decode("utf-8", errors="ignore").replace("\x00", "")
