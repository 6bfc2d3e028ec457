"""Repo files as the simulator stores them: real bytes, or LFS entries whose content is synthetic.

An LFS entry keeps only a prefix (`head`, e.g. a safetensors or GGUF header) and a declared size; the
rest reads as zero bytes. That lets a scenario hold a 140 GB checkpoint whose header a client can parse
with a `Range` request, without the simulator ever materialising the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

# Extensions the Hub's default .gitattributes routes through LFS; big files go there too.
LFS_EXTENSIONS = frozenset(
    {
        ".7z",
        ".arrow",
        ".bin",
        ".bz2",
        ".ckpt",
        ".ftz",
        ".gguf",
        ".gz",
        ".h5",
        ".joblib",
        ".lz4",
        ".mlmodel",
        ".model",
        ".msgpack",
        ".npy",
        ".npz",
        ".onnx",
        ".ot",
        ".parquet",
        ".pb",
        ".pickle",
        ".pkl",
        ".pt",
        ".pth",
        ".rar",
        ".safetensors",
        ".tar",
        ".tflite",
        ".tgz",
        ".wasm",
        ".xz",
        ".zip",
        ".zst",
        ".mp4",
        ".wav",
        ".mp3",
        ".png",
        ".jpg",
        ".jpeg",
        ".webp",
    }
)
LFS_THRESHOLD = 10 * 1024 * 1024

GITATTRIBUTES = (
    "".join(
        f"*{ext} filter=lfs diff=lfs merge=lfs -text\n"
        for ext in sorted(LFS_EXTENSIONS - {".mp4", ".wav", ".mp3", ".png", ".jpg", ".jpeg", ".webp"})
    )
    + "*tfevents* filter=lfs diff=lfs merge=lfs -text\n"
)

# Bytes per element, for data_offsets in safetensors headers.
DTYPE_BYTES: dict[str, int] = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "U16": 2,
    "U32": 4,
    "U64": 8,
    "BOOL": 1,
}

TensorSpec = tuple[str, Sequence[int]]  # (dtype, shape)


def git_blob_oid(data: bytes) -> str:
    """The git object id of a blob: sha1 over "blob <len>\\0" + data."""
    h = hashlib.sha1(b"blob %d\0" % len(data))  # noqa: S324 - git's own hash, not a security use
    h.update(data)
    return h.hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


class FileEntry:
    """One file of a repo.

    `head` holds the bytes we really have; for LFS files `size` may be larger and the tail reads as
    zeros. `meta` carries what the Hub derives from a file: {"safetensors": {dtype: count}} or
    {"gguf": {...}}; the repo's `safetensors`/`gguf` fields fall back to it.
    """

    __slots__ = ("_head", "_head_fn", "_oid", "lfs_sha256", "meta", "path", "size")

    def __init__(
        self,
        path: str,
        head: bytes | Callable[[], bytes],
        size: int,
        lfs_sha256: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        # A callable head is built on first read: noise repos declare thousands of weight files.
        lazy = callable(head)
        if not lazy and size < len(head):
            raise ValueError(f"{path}: size {size} is smaller than the content ({len(head)} bytes)")
        if lfs_sha256 is None and (lazy or size != len(head)):
            raise ValueError(f"{path}: only LFS files can have synthetic content")
        self.path = path
        self._head: bytes | None = None if lazy else head  # type: ignore[assignment]
        self._head_fn = head if lazy else None
        self.size = size
        self.lfs_sha256 = lfs_sha256
        self.meta = meta or {}
        self._oid: str | None = None

    @property
    def head(self) -> bytes:
        if self._head is None:
            assert self._head_fn is not None
            head = self._head_fn()
            if len(head) > self.size:
                raise ValueError(f"{self.path}: content larger than its declared size")
            self._head, self._head_fn = head, None
        return self._head

    @property
    def is_lfs(self) -> bool:
        return self.lfs_sha256 is not None

    @property
    def oid(self) -> str:
        """Git blob id (of the pointer file for LFS). Computed lazily: noise repos hold thousands."""
        if self._oid is None:
            self._oid = git_blob_oid(self.pointer() if self.lfs_sha256 else self.head)
        return self._oid

    def pointer(self) -> bytes:
        assert self.lfs_sha256 is not None
        return lfs_pointer(self.lfs_sha256, self.size)

    @property
    def etag(self) -> str:
        return self.lfs_sha256 or self.oid

    def read(self, start: int = 0, stop: int | None = None) -> bytes:
        """Bytes [start, stop) of the file; only for modest ranges (see iter_bytes for big ones)."""
        stop = self.size if stop is None else min(stop, self.size)
        start = max(0, start)
        if start >= stop:
            return b""
        have = self.head[start:stop]
        return have + bytes(stop - start - len(have))

    def iter_bytes(self, start: int, stop: int, chunk: int = 1 << 16) -> Iterator[bytes]:
        pos = start
        while pos < stop:
            end = min(stop, pos + chunk)
            yield self.read(pos, end)
            pos = end

    def tree_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": "file", "oid": self.oid, "size": self.size, "path": self.path}
        if self.lfs_sha256:
            entry["lfs"] = {"oid": self.lfs_sha256, "size": self.size, "pointerSize": len(self.pointer())}
        return entry

    def sibling(self, blobs: bool) -> dict[str, Any]:
        if not blobs:
            return {"rfilename": self.path}
        entry: dict[str, Any] = {"rfilename": self.path, "size": self.size, "blobId": self.oid}
        if self.lfs_sha256:
            entry["lfs"] = {"sha256": self.lfs_sha256, "size": self.size, "pointerSize": len(self.pointer())}
        return entry


def _fake_sha256(path: str, head: bytes, size: int) -> str:
    # Stands in for the sha256 of content we never materialise; stable for the same inputs.
    h = hashlib.sha256(b"hubsim-synthetic\0" + path.encode() + b"\0" + str(size).encode() + b"\0")
    h.update(head)
    return h.hexdigest()


def make_file(
    path: str,
    content: bytes | str | None = None,
    *,
    lfs_sha256: str | None = None,
    size: int | None = None,
    lfs: bool | None = None,
    meta: dict[str, Any] | None = None,
) -> FileEntry:
    """Build a FileEntry.

    - `content` alone: a real file; stored in LFS if `lfs` says so, or (lfs=None) by extension/size.
    - `content` + larger `size`: `content` is the prefix of an LFS file whose tail reads as zeros.
    - `size` (+ optional `lfs_sha256`) without content: an LFS file of zeros.
    A given `lfs_sha256` is reported as is, even if it does not hash the served bytes.
    """
    if isinstance(content, str):
        content = content.encode()
    head = content or b""
    if size is None:
        if content is None and lfs_sha256 is not None:
            raise ValueError(f"{path}: an LFS file given by sha256 needs a size")
        size = len(head)
    if size < len(head):
        raise ValueError(f"{path}: size {size} is smaller than the content ({len(head)} bytes)")
    synthetic = size > len(head)
    if lfs is None:
        ext = path[path.rfind(".") :].lower() if "." in path.rsplit("/", 1)[-1] else ""
        lfs = synthetic or lfs_sha256 is not None or ext in LFS_EXTENSIONS or size > LFS_THRESHOLD
    if not lfs:
        if synthetic:
            raise ValueError(f"{path}: a non-LFS file needs its full content")
        return FileEntry(path, head, size, None, meta)
    if lfs_sha256 is None:
        lfs_sha256 = _fake_sha256(path, head, size) if synthetic else hashlib.sha256(head).hexdigest()
    return FileEntry(path, head, size, lfs_sha256.lower(), meta)


# --- safetensors ---------------------------------------------------------------------------------


def safetensors_header(
    tensors: Mapping[str, TensorSpec], metadata: Mapping[str, str] | None = None, *, pad_to: int | None = None
) -> tuple[bytes, int]:
    """Return (prefix, total_size) of a safetensors file holding `tensors` = {name: (dtype, shape)}.

    The prefix is the 8-byte little-endian header length plus the JSON header, space-padded to a
    multiple of 8 (or to `pad_to` bytes) as the format allows; the tensor data that follows up to
    total_size may be zeros.
    """
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        if dtype not in DTYPE_BYTES:
            raise ValueError(f"unknown safetensors dtype {dtype!r}")
        n = 1
        for dim in shape:
            n *= int(dim)
        nbytes = n * DTYPE_BYTES[dtype]
        header[name] = {
            "dtype": dtype,
            "shape": [int(d) for d in shape],
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    if pad_to is not None and len(raw) > pad_to:
        raise ValueError(f"safetensors header is {len(raw)} bytes, more than pad_to={pad_to}")
    raw += b" " * ((pad_to - len(raw)) if pad_to is not None else (-len(raw) % 8))
    prefix = struct.pack("<Q", len(raw)) + raw
    return prefix, len(prefix) + offset


def safetensors_bytes(tensors: Mapping[str, TensorSpec], metadata: Mapping[str, str] | None = None) -> bytes:
    """A complete small safetensors file (data all zeros)."""
    prefix, total = safetensors_header(tensors, metadata)
    return prefix + bytes(total - len(prefix))


def parameter_counts(tensors: Mapping[str, TensorSpec]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for dtype, shape in tensors.values():
        n = 1
        for dim in shape:
            n *= int(dim)
        counts[dtype] = counts.get(dtype, 0) + n
    return counts


def _header_bound(tensors: Mapping[str, TensorSpec], metadata: Mapping[str, str] | None) -> int:
    # An upper bound of the JSON header's length, so its size is known before it is built.
    n = 64 + sum(len(str(k).encode()) * 6 + len(str(v).encode()) * 6 + 8 for k, v in (metadata or {}).items())
    for name, (dtype, shape) in tensors.items():
        n += len(name.encode()) * 6 + len(dtype) + 21 * len(shape) + 2 * 21 + 48
    return n + (-n % 8)


def safetensors_file(
    path: str,
    tensors: Mapping[str, TensorSpec],
    metadata: Mapping[str, str] | None = None,
    *,
    lfs_sha256: str | None = None,
    lazy: bool = False,
) -> FileEntry:
    """An LFS safetensors FileEntry: real header, zero data, parameter counts in `meta`.

    `lazy=True` pads the header to a computed bound and builds it only when the file is read.
    """
    meta = {"safetensors": parameter_counts(tensors)}
    if not lazy:
        prefix, total = safetensors_header(tensors, metadata)
        return make_file(path, prefix, size=total, lfs_sha256=lfs_sha256, lfs=True, meta=meta)
    pad = _header_bound(tensors, metadata)
    data = sum(math.prod(int(d) for d in shape) * DTYPE_BYTES[dtype] for dtype, shape in tensors.values())
    frozen = {k: (d, tuple(s)) for k, (d, s) in tensors.items()}
    frozen_meta = dict(metadata) if metadata else None
    sha = lfs_sha256 or _fake_sha256(path, repr(sorted(frozen.items())).encode(), 8 + pad + data)
    return FileEntry(
        path,
        lambda: safetensors_header(frozen, frozen_meta, pad_to=pad)[0],
        8 + pad + data,
        sha.lower(),
        meta,
    )


def llama_tensors(
    *,
    hidden: int = 4096,
    layers: int = 32,
    vocab: int = 32000,
    intermediate: int = 11008,
    heads: int = 32,
    kv_heads: int | None = None,
    dtype: str = "BF16",
    tie_embeddings: bool = False,
) -> dict[str, TensorSpec]:
    """The tensor layout of a Llama-style decoder (e.g. hidden=8192, layers=80, intermediate=28672,
    kv_heads=8 is a 70B model, like the Miqu leak)."""
    kv = (kv_heads or heads) * (hidden // heads)
    out: dict[str, TensorSpec] = {"model.embed_tokens.weight": (dtype, (vocab, hidden))}
    for i in range(layers):
        p = f"model.layers.{i}."
        out[p + "input_layernorm.weight"] = (dtype, (hidden,))
        out[p + "self_attn.q_proj.weight"] = (dtype, (hidden, hidden))
        out[p + "self_attn.k_proj.weight"] = (dtype, (kv, hidden))
        out[p + "self_attn.v_proj.weight"] = (dtype, (kv, hidden))
        out[p + "self_attn.o_proj.weight"] = (dtype, (hidden, hidden))
        out[p + "post_attention_layernorm.weight"] = (dtype, (hidden,))
        out[p + "mlp.gate_proj.weight"] = (dtype, (intermediate, hidden))
        out[p + "mlp.up_proj.weight"] = (dtype, (intermediate, hidden))
        out[p + "mlp.down_proj.weight"] = (dtype, (hidden, intermediate))
    out["model.norm.weight"] = (dtype, (hidden,))
    if not tie_embeddings:
        out["lm_head.weight"] = (dtype, (vocab, hidden))
    return out


# --- GGUF ----------------------------------------------------------------------------------------

_GGUF_UINT32, _GGUF_FLOAT32, _GGUF_BOOL, _GGUF_STRING, _GGUF_UINT64 = 4, 6, 7, 8, 10


def _gguf_str(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_header(kv: Mapping[str, Any], tensor_count: int = 0) -> bytes:
    """The start of a GGUF v3 file: magic, version, counts and the metadata key/values.

    Values: str, bool, int (uint32 if it fits, else uint64) and float (float32). Tensor infos are not
    written; a reader of the metadata stops before them.
    """
    out = [b"GGUF", struct.pack("<IQQ", 3, tensor_count, len(kv))]
    for key, value in kv.items():
        out.append(_gguf_str(key))
        if isinstance(value, bool):
            out.append(struct.pack("<IB", _GGUF_BOOL, value))
        elif isinstance(value, int):
            out.append(
                struct.pack("<II", _GGUF_UINT32, value)
                if 0 <= value < 2**32
                else struct.pack("<IQ", _GGUF_UINT64, value)
            )
        elif isinstance(value, float):
            out.append(struct.pack("<If", _GGUF_FLOAT32, value))
        else:
            out.append(struct.pack("<I", _GGUF_STRING) + _gguf_str(str(value)))
    return b"".join(out)


def gguf_metadata(
    total: int, architecture: str = "llama", context_length: int = 4096, **extra: Any
) -> dict[str, Any]:
    """The `gguf` field the Hub shows for a GGUF model."""
    return {"total": int(total), "architecture": architecture, "context_length": int(context_length), **extra}


def gguf_file(
    path: str,
    total: int,
    *,
    architecture: str = "llama",
    context_length: int = 4096,
    bits_per_weight: float = 4.85,
    name: str | None = None,
    lfs_sha256: str | None = None,
    **extra: Any,
) -> FileEntry:
    """An LFS GGUF FileEntry with a real metadata header and a size fitting the quantisation."""
    kv: dict[str, Any] = {"general.architecture": architecture}
    if name:
        kv["general.name"] = name
    kv[f"{architecture}.context_length"] = int(context_length)
    for k, v in extra.items():
        if isinstance(v, str | int | float | bool):
            kv[f"tokenizer.ggml.{k}" if k.endswith("_token") else f"general.{k}"] = v
    head = gguf_header(kv)
    size = max(len(head), int(total * bits_per_weight / 8))
    return make_file(
        path,
        head,
        size=size,
        lfs_sha256=lfs_sha256,
        lfs=True,
        meta={"gguf": gguf_metadata(total, architecture, context_length, **extra)},
    )
