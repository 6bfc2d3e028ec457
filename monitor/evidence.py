"""Evidence captured at detection: its shape, and keeping it bounded.

A hit's evidence is one JSON object, stored with the hit (`Store.set_evidence`). Every key is
optional:

- `captured_at`: ISO 8601 time of the capture
- `repo`: metadata from the Hub's repo info (a dict)
- `files`: list of `{"path", "size", "sha256" (LFS oid or null), "lfs" (bool)}`
- `files_truncated`: true when `files` does not list every file
- `card`: `{"path": "README.md", "text": opening text}`
- `app`: `{"path": "app.py", "text": opening text}`
- `findings`: list of `{"rule", "file", "line", "text"}`
- `errors`: list of strings (what could not be captured)

Everything in it came from the Hub and is hostile: renderers escape it for their medium.
`bound()` keeps it under a size limit: the largest texts are cut first (each cut marked in the text
and its dotted path listed in `truncated`), then the largest lists lose their tail
(`files_truncated`, or the list's path in `truncated`); the result is always valid JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

MAX_BYTES = 256 * 1024
KEYS = ("captured_at", "repo", "files", "files_truncated", "card", "app", "findings", "errors")
# Strings at most this long are not worth cutting: past them, shorten lists instead.
_MIN_CUT = 512
_KEEP = 256  # a cut string keeps at least this many bytes of its opening
_MAX_STEPS = 64
_MAX_PATHS = 32  # entries of `truncated`
_MAX_KEY = 200  # characters of a dict key
_MARK = "\n… [cut by leakmon: {n:,} more characters]"

_SURROGATE = re.compile("[\ud800-\udfff]")

Path = tuple[Any, ...]  # keys and list positions from the root


def _plain(value: Any, depth: int = 0) -> Any:
    """JSON types only: keys as short strings, lone surrogates replaced, anything else as its str()."""
    if depth > 40:
        return "… [nested too deeply]"
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)  # lone surrogates cannot be stored as UTF-8
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, Mapping):
        return {_plain(str(k)[:_MAX_KEY]): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in value]
    return _plain(str(value))


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _survey(
    value: Any,
    path: Path,
    strings: list[tuple[int, Path]],
    containers: list[tuple[int, Path, bool]],
    in_list: bool = False,
) -> int:
    """The approximate JSON size of `value`. Collects the strings worth cutting, and the containers
    that can lose items: (size, path, is a list not inside another list)."""
    if isinstance(value, str):
        n = _nbytes(value) + 2
        if n > _MIN_CUT:
            n = _nbytes(json.dumps(value, ensure_ascii=False))  # with its escapes (\n is two bytes)
            strings.append((n, path))
        return n
    if isinstance(value, dict):
        n = 2 + sum(
            _nbytes(k) + 4 + _survey(v, (*path, k), strings, containers, in_list) for k, v in value.items()
        )
        outer = False
    elif isinstance(value, list):
        n = 2 + sum(1 + _survey(v, (*path, i), strings, containers, True) for i, v in enumerate(value))
        outer = not in_list
    elif value is None or isinstance(value, bool):
        return 5
    else:
        return len(str(value))  # a number
    if path and len(value) > 1:
        containers.append((n, path, outer))
    return n


def _shorten(node: Any, keep: int) -> None:
    """Keep the first `keep` items of a list or dict."""
    if isinstance(node, list):
        del node[keep:]
    else:
        for key in list(node)[keep:]:
            del node[key]


def _get(root: Any, path: Path) -> Any:
    for key in path:
        root = root[key]
    return root


def _set(root: dict[str, Any], path: Path, new: Any) -> None:
    _get(root, path[:-1])[path[-1]] = new


def _dotted(path: Path) -> str:
    """`findings.*.text`: list positions as `*`, so one entry names every cut item of a list."""
    return ".".join("*" if isinstance(p, int) else p for p in path)


def _cap(sizes: list[int], need: int, floor: int) -> int:
    """The largest C (at least `floor`) such that bringing every size above C down to C saves `need`."""
    lo, hi = floor, max(sizes)
    if sum(max(s - lo, 0) for s in sizes) < need:
        return lo
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(max(s - mid, 0) for s in sizes) >= need:
            lo = mid
        else:
            hi = mid - 1
    return lo


def bound(evidence: Mapping[str, Any], limit: int = MAX_BYTES) -> str:
    """`evidence` as JSON text of at most `limit` UTF-8 bytes.

    Over the limit: the largest strings are cut first, down to a common length so that the largest
    lose the most (a marker in each says how much was cut); then, the same way, the largest lists
    lose their tail, until it fits. `truncated` lists the dotted paths that were shortened
    (`findings.*.text`), and `files_truncated` is set when `files` lost entries. Never invalid JSON:
    if nothing else fits, a small object saying so.
    """
    data = _plain(dict(evidence))
    data.pop("truncated", None)  # ours to set
    text = dumps(data)
    cut_paths: list[str] = []

    def note(path: Path) -> None:
        name = _dotted(path)
        if name not in cut_paths and len(cut_paths) < _MAX_PATHS:
            cut_paths.append(name)

    for _ in range(_MAX_STEPS):
        over = _nbytes(text) - limit
        if over <= 0:
            return text
        strings: list[tuple[int, Path]] = []
        containers: list[tuple[int, Path, bool]] = []
        _survey({k: v for k, v in data.items() if k != "truncated"}, (), strings, containers)
        # Outermost lists first (files, findings, the Hub's siblings...), then any list or dict.
        shortenable = [(n, p) for n, p, outer in containers if outer] or [(n, p) for n, p, _ in containers]
        if strings:
            # The largest texts are cut to a common length; room is left for each marker and the
            # `truncated` list, so one pass is usually enough.
            cap = _cap([n for n, _ in strings], over + 64 * len(strings) + 64 * _MAX_PATHS, _KEEP)
            for nbytes, path in strings:
                if nbytes > cap:
                    value = _get(data, path)
                    raw = value.encode("utf-8")
                    # `cap` counts JSON bytes; cut the text in proportion, keeping whole characters.
                    kept = raw[: cap * len(raw) // nbytes].decode("utf-8", "ignore")
                    _set(data, path, kept + _MARK.format(n=len(value) - len(kept)))
                    note(path)
        elif shortenable:
            # The same for lists: the largest lose the most, each keeping its first items.
            cap = _cap([n for n, _ in shortenable], over + 1024, 0)
            for size, path in shortenable:
                if size > cap:
                    node = _get(data, path)
                    _shorten(node, min(max(len(node) * cap // size, 1), len(node) - 1))
                    if path == ("files",):
                        data["files_truncated"] = True
                    else:
                        note(path)
        else:
            break
        if cut_paths:
            data["truncated"] = cut_paths
        text = dumps(data)
    if _nbytes(text) <= limit:
        return text
    fallback: dict[str, Any] = {
        "truncated": ["evidence"],
        "errors": [f"the evidence was over {limit:,} bytes and could not be shortened"],
    }
    if isinstance(data.get("captured_at"), str) and len(data["captured_at"]) < 64:
        fallback["captured_at"] = data["captured_at"]
    return dumps(fallback)
