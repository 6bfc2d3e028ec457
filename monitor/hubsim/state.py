"""The simulated Hub's data: repos, their files, sorting, keyset cursors and JSON rendering.

Everything here runs under one re-entrant lock (`HubState.lock`): the server renders JSON while holding
it, so a concurrent mutation never shows a half-updated repo.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from monitor.hubsim.files import GITATTRIBUTES, FileEntry, make_file

REPO_TYPES = ("model", "dataset", "space")
PAGE_MAX = 1000
TREE_PAGE = 1000

# `[\w\-.]{1,96}` per part; `\w` is Unicode-aware in Python as on the Hub.
REPO_ID_RE = re.compile(r"^[\w\-.]{1,96}/[\w\-.]{1,96}$")

_MISSING = object()

# Default item shapes of the listings (hub-api.md, "Listing new repos").
LIST_FIELDS: dict[str, tuple[str, ...]] = {
    "model": (
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
    ),
    "dataset": (
        "_id",
        "id",
        "author",
        "cardData",
        "disabled",
        "gated",
        "lastModified",
        "likes",
        "trendingScore",
        "private",
        "sha",
        "description",
        "downloads",
        "tags",
        "createdAt",
    ),
    "space": ("_id", "id", "likes", "trendingScore", "private", "sdk", "tags", "createdAt"),
}
FULL_EXTRA = ("author", "sha", "lastModified", "siblings", "gated", "disabled", "cardData")

# What GET /api/{type}s/{id} returns.
INFO_FIELDS: dict[str, tuple[str, ...]] = {
    "model": (
        "_id",
        "id",
        "modelId",
        "author",
        "sha",
        "lastModified",
        "private",
        "disabled",
        "gated",
        "downloads",
        "likes",
        "library_name",
        "tags",
        "pipeline_tag",
        "createdAt",
        "cardData",
        "config",
        "baseModels",
        "siblings",
        "spaces",
        "safetensors",
        "gguf",
        "usedStorage",
        "trendingScore",
    ),
    "dataset": (
        "_id",
        "id",
        "author",
        "sha",
        "lastModified",
        "private",
        "gated",
        "disabled",
        "downloads",
        "likes",
        "tags",
        "createdAt",
        "description",
        "citation",
        "cardData",
        "siblings",
        "usedStorage",
        "trendingScore",
    ),
    "space": (
        "_id",
        "id",
        "author",
        "sha",
        "lastModified",
        "private",
        "gated",
        "disabled",
        "host",
        "subdomain",
        "likes",
        "sdk",
        "tags",
        "createdAt",
        "cardData",
        "siblings",
        "runtime",
        "models",
        "datasets",
        "usedStorage",
        "trendingScore",
    ),
}

# Accepted `expand` values: huggingface_hub 2.4's Expand*Property_T literals.
EXPAND_FIELDS: dict[str, frozenset[str]] = {
    "model": frozenset(
        {
            "author",
            "baseModels",
            "cardData",
            "childrenModelCount",
            "config",
            "createdAt",
            "disabled",
            "downloads",
            "downloadsAllTime",
            "evalResults",
            "gated",
            "gguf",
            "inference",
            "inferenceProviderMapping",
            "lastModified",
            "library_name",
            "likes",
            "mask_token",
            "model-index",
            "pipeline_tag",
            "private",
            "resourceGroup",
            "safetensors",
            "sha",
            "siblings",
            "spaces",
            "tags",
            "transformersInfo",
            "trendingScore",
            "usedStorage",
            "widgetData",
        }
    ),
    "dataset": frozenset(
        {
            "author",
            "cardData",
            "citation",
            "createdAt",
            "description",
            "disabled",
            "downloads",
            "downloadsAllTime",
            "gated",
            "lastModified",
            "likes",
            "mainSize",
            "paperswithcode_id",
            "private",
            "resourceGroup",
            "sha",
            "siblings",
            "tags",
            "trendingScore",
            "usedStorage",
        }
    ),
    "space": frozenset(
        {
            "author",
            "cardData",
            "createdAt",
            "datasets",
            "disabled",
            "lastModified",
            "likes",
            "models",
            "private",
            "region",
            "resourceGroup",
            "runtime",
            "sdk",
            "sha",
            "siblings",
            "subdomain",
            "tags",
            "trendingScore",
            "usedStorage",
        }
    ),
}

SORTS = {
    "createdAt": "createdAt",
    "created_at": "createdAt",
    "lastModified": "lastModified",
    "last_modified": "lastModified",
    "likes": "likes",
    "downloads": "downloads",
    "trendingScore": "trendingScore",
    "trending_score": "trendingScore",
}

# Keyword names a caller may use for Hub fields.
FIELD_ALIASES = {
    "card_data": "cardData",
    "base_models": "baseModels",
    "trending_score": "trendingScore",
    "downloads_all_time": "downloadsAllTime",
    "used_storage": "usedStorage",
    "lastModified": "last_modified",
    "createdAt": "created_at",
}

DEFAULT_RUNTIME = {
    "stage": "RUNNING",
    "hardware": {"current": "cpu-basic", "requested": "cpu-basic"},
    "storage": None,
    "gcTimeout": 172800,
    "replicas": {"current": 1, "requested": 1},
    "devMode": False,
}


_GITATTRIBUTES = make_file(".gitattributes", GITATTRIBUTES)  # every repo has it; shared, never mutated


class HubError(Exception):
    """An error answer: status, JSON message and optional X-Error-Code."""

    def __init__(
        self, status: int, message: str, code: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})


class Redirect(Exception):
    """The repo was renamed: answer 307 to the same path under `new_id`."""

    def __init__(self, new_id: str) -> None:
        super().__init__(new_id)
        self.new_id = new_id


def normalize_type(repo_type: str) -> str:
    t = repo_type[:-1] if repo_type.endswith("s") else repo_type
    if t not in REPO_TYPES:
        raise ValueError(f"unknown repo type {repo_type!r}")
    return t


def iso(dt: datetime) -> str:
    """ISO 8601 with milliseconds and Z, as the Hub writes timestamps."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def as_utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def new_object_id(at: datetime, rand: int | None = None) -> str:
    """A Mongo-style ObjectId: 4-byte timestamp + 8 random bytes, 24 hex chars."""
    r = rand if rand is not None else int.from_bytes(os.urandom(8))
    return f"{int(at.timestamp()) & 0xFFFFFFFF:08x}{r & 0xFFFFFFFFFFFFFFFF:016x}"


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


class Repo:
    __slots__ = (
        "author",
        "card_data",
        "created_at",
        "fields",
        "files",
        "id",
        "last_modified",
        "oid",
        "private",
        "sha",
        "type",
    )

    def __init__(
        self,
        repo_type: str,
        repo_id: str,
        oid: str,
        created_at: datetime,
        last_modified: datetime,
        author: str,
        private: bool,
        sha: str,
        card_data: dict[str, Any] | None,
        files: dict[str, FileEntry],
        fields: dict[str, Any],
    ) -> None:
        self.type = repo_type
        self.id = repo_id
        self.oid = oid
        self.created_at = created_at
        self.last_modified = last_modified
        self.author = author
        self.private = private
        self.sha = sha
        self.card_data = card_data
        self.files = files
        self.fields = fields

    @property
    def owner(self) -> str:
        return self.id.split("/", 1)[0]

    def sort_value(self, sort: str) -> int:
        if sort == "createdAt":
            return _ms(self.created_at)
        if sort == "lastModified":
            return _ms(self.last_modified)
        return int(self.fields.get(sort) or 0)

    def tag_set(self) -> set[str]:
        tags = {str(t).lower() for t in self.fields.get("tags") or ()}
        for extra in ("library_name", "pipeline_tag", "sdk"):
            if self.fields.get(extra):
                tags.add(str(self.fields[extra]).lower())
        return tags

    def subdomain(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.id.lower()).strip("-")

    def value(self, name: str, blobs: bool = False) -> Any:
        """The JSON value of one Hub field, or _MISSING when this repo has none."""
        f = self.fields
        if name == "_id":
            return self.oid
        if name == "id":
            return self.id
        if name == "modelId":
            return self.id if self.type == "model" else _MISSING
        if name == "author":
            return self.author
        if name == "sha":
            return self.sha
        if name == "createdAt":
            return iso(self.created_at)
        if name == "lastModified":
            return iso(self.last_modified)
        if name == "private":
            return self.private
        if name in ("disabled", "gated"):
            return f.get(name, False)
        if name in ("likes", "downloads", "trendingScore"):
            return f.get(name, 0)
        if name == "downloadsAllTime":
            return f.get(name, f.get("downloads", 0))
        if name == "tags":
            return list(f.get("tags") or [])
        if name == "cardData":
            return self.card_data if self.card_data is not None else _MISSING
        if name == "siblings":
            return [self.files[p].sibling(blobs) for p in sorted(self.files)]
        if name == "usedStorage":
            return f.get(name, sum(e.size for e in self.files.values()))
        if name in ("safetensors", "gguf"):
            if f.get(name) is not None:
                return f[name]
            return self._derived(name)
        if self.type == "space":
            if name == "subdomain":
                return f.get(name, self.subdomain())
            if name == "host":
                return f.get(name, f"https://{self.subdomain()}.hf.space")
            if name == "runtime":
                return f.get(name, DEFAULT_RUNTIME)
            if name == "sdk" and f.get("sdk") is None:
                return (self.card_data or {}).get("sdk", _MISSING)
        v = f.get(name, _MISSING)
        return _MISSING if v is None else v

    def _derived(self, name: str) -> Any:
        # The Hub derives these from the weight files; so do we when no explicit value was given.
        if name == "gguf":
            for p in sorted(self.files):
                if "gguf" in self.files[p].meta:
                    return self.files[p].meta["gguf"]
            return _MISSING
        params: dict[str, int] = {}
        for entry in self.files.values():
            for dtype, n in entry.meta.get("safetensors", {}).items():
                params[dtype] = params.get(dtype, 0) + n
        return {"parameters": params, "total": sum(params.values())} if params else _MISSING

    def render(self, names: Iterable[str], blobs: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in names:
            if name in out:
                continue
            v = self.value(name, blobs)
            if v is not _MISSING:
                out[name] = v
        return out


def encode_cursor(data: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as e:
        raise HubError(400, "Invalid cursor") from e
    if not isinstance(data, dict):
        raise HubError(400, "Invalid cursor")
    return data


def page_of(query: Iterable[tuple[str, str]]) -> int:
    """1-based page number of a request, read from its cursor (no cursor: page 1)."""
    for k, v in query:
        if k == "cursor":
            try:
                return int(decode_cursor(v).get("p", 1))
            except (HubError, TypeError, ValueError):
                return 1
    return 1


def _bool_param(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes")


class HubState:
    """All repos of one simulator, by type and lower-cased id."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._repos: dict[str, dict[str, Repo]] = {t: {} for t in REPO_TYPES}
        self._redirects: dict[str, dict[str, str]] = {t: {} for t in REPO_TYPES}
        self._version = dict.fromkeys(REPO_TYPES, 0)
        self._sorted: dict[tuple[str, str], tuple[int, list[tuple[int, int]], list[Repo]]] = {}

    # --- mutations ------------------------------------------------------------------------------

    def _touch(self, repo_type: str) -> None:
        self._version[repo_type] += 1

    def add_repo(
        self,
        repo_type: str,
        repo_id: str,
        *,
        created_at: datetime | None = None,
        author: str | None = None,
        card_data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | Iterable[FileEntry] | None = None,
        private: bool = False,
        **fields: Any,
    ) -> Repo:
        repo_type = normalize_type(repo_type)
        if not REPO_ID_RE.match(repo_id):
            raise ValueError(f"invalid repo id {repo_id!r} (want owner/name)")
        fields = {FIELD_ALIASES.get(k, k): v for k, v in fields.items()}
        created_alias = fields.pop("created_at", None)
        created = as_utc(created_at or created_alias or datetime.now(UTC))
        modified = fields.pop("last_modified", None)
        modified = as_utc(modified) if modified else created
        oid = fields.pop("_id", None) or new_object_id(created)
        if not re.fullmatch(r"[0-9a-f]{24}", oid):
            raise ValueError(f"_id must be 24 lower-case hex digits, not {oid!r}")
        sha = fields.pop("sha", None) or os.urandom(20).hex()
        card = dict(card_data) if card_data is not None else fields.pop("cardData", None)
        entries: dict[str, FileEntry] = {".gitattributes": _GITATTRIBUTES}
        for entry in _file_entries(files):
            entries[entry.path] = entry
        fields = {k: v for k, v in fields.items() if v is not None}
        repo = Repo(
            repo_type,
            repo_id,
            oid,
            created,
            modified,
            author or repo_id.split("/", 1)[0],
            bool(private),
            sha,
            card,
            entries,
            fields,
        )
        with self.lock:
            key = repo_id.lower()
            if key in self._repos[repo_type]:
                raise ValueError(f"{repo_type} {repo_id} already exists")
            self._repos[repo_type][key] = repo
            self._redirects[repo_type].pop(key, None)
            self._touch(repo_type)
        return repo

    def add_many(self, specs: Iterable[tuple[str, str, dict[str, Any]]]) -> int:
        """Add (type, id, kwargs) specs, skipping ids that exist; returns how many were added."""
        n = 0
        with self.lock:
            for repo_type, repo_id, kwargs in specs:
                if repo_id.lower() in self._repos[normalize_type(repo_type)]:
                    continue
                self.add_repo(repo_type, repo_id, **kwargs)
                n += 1
        return n

    def exists(self, repo_type: str, repo_id: str) -> bool:
        with self.lock:
            return repo_id.lower() in self._repos[normalize_type(repo_type)]

    def remove_repo(self, repo_type: str, repo_id: str) -> None:
        repo_type = normalize_type(repo_type)
        with self.lock:
            if self._repos[repo_type].pop(repo_id.lower(), None) is None:
                raise KeyError(f"{repo_type} {repo_id} not found")
            self._touch(repo_type)

    def rename_repo(self, repo_type: str, old_id: str, new_id: str) -> None:
        repo_type = normalize_type(repo_type)
        if not REPO_ID_RE.match(new_id):
            raise ValueError(f"invalid repo id {new_id!r}")
        with self.lock:
            repos = self._repos[repo_type]
            repo = repos.get(old_id.lower())
            if repo is None:
                raise KeyError(f"{repo_type} {old_id} not found")
            if new_id.lower() in repos and new_id.lower() != old_id.lower():
                raise ValueError(f"{repo_type} {new_id} already exists")
            del repos[old_id.lower()]
            repo.id = new_id
            repo.author = new_id.split("/", 1)[0] if repo.author == old_id.split("/", 1)[0] else repo.author
            repos[new_id.lower()] = repo
            redirects = self._redirects[repo_type]
            for k, v in list(redirects.items()):  # keep older names pointing at the current one
                if v.lower() == old_id.lower():
                    redirects[k] = new_id
            if old_id.lower() != new_id.lower():
                redirects[old_id.lower()] = new_id
            redirects.pop(new_id.lower(), None)
            self._touch(repo_type)

    def update_repo(self, repo_type: str, repo_id: str, **fields: Any) -> Repo:
        """Change fields; a value of None removes the field. created_at/last_modified/author/
        card_data/private update the repo itself."""
        repo_type = normalize_type(repo_type)
        fields = {FIELD_ALIASES.get(k, k): v for k, v in fields.items()}
        with self.lock:
            repo = self._get(repo_type, repo_id)
            if "created_at" in fields:
                repo.created_at = as_utc(fields.pop("created_at"))
            if "last_modified" in fields:
                repo.last_modified = as_utc(fields.pop("last_modified"))
            if "author" in fields:
                repo.author = fields.pop("author")
            if "private" in fields:
                repo.private = bool(fields.pop("private"))
            if "cardData" in fields:
                repo.card_data = fields.pop("cardData")
            if "sha" in fields:
                repo.sha = fields.pop("sha")
            files = fields.pop("files", None)
            for entry in _file_entries(files):
                repo.files[entry.path] = entry
            for k, v in fields.items():
                if v is None:
                    repo.fields.pop(k, None)
                else:
                    repo.fields[k] = v
            self._touch(repo_type)
            return repo

    def add_file(self, repo_type: str, repo_id: str, entry: FileEntry, *, commit: bool = True) -> Repo:
        repo_type = normalize_type(repo_type)
        with self.lock:
            repo = self._get(repo_type, repo_id)
            repo.files[entry.path] = entry
            if commit:  # a new commit: new sha, fresh lastModified
                repo.sha = os.urandom(20).hex()
                repo.last_modified = datetime.now(UTC)
            self._touch(repo_type)
            return repo

    def remove_file(self, repo_type: str, repo_id: str, path: str) -> None:
        repo_type = normalize_type(repo_type)
        with self.lock:
            repo = self._get(repo_type, repo_id)
            if repo.files.pop(path, None) is None:
                raise KeyError(f"{path} not in {repo_id}")
            repo.sha = os.urandom(20).hex()
            repo.last_modified = datetime.now(UTC)
            self._touch(repo_type)

    def count(self, repo_type: str | None = None) -> int:
        with self.lock:
            if repo_type is None:
                return sum(len(r) for r in self._repos.values())
            return len(self._repos[normalize_type(repo_type)])

    def _get(self, repo_type: str, repo_id: str) -> Repo:
        repo = self._repos[repo_type].get(repo_id.lower())
        if repo is None:
            raise KeyError(f"{repo_type} {repo_id} not found")
        return repo

    def get(self, repo_type: str, repo_id: str) -> Repo | None:
        with self.lock:
            return self._repos[normalize_type(repo_type)].get(repo_id.lower())

    def render(self, repo_type: str, repo_id: str, names: Iterable[str] | None = None) -> dict[str, Any]:
        with self.lock:
            repo = self._get(normalize_type(repo_type), repo_id)
            return repo.render(names or INFO_FIELDS[repo.type])

    # --- HTTP-facing reads (raise HubError / Redirect) ----------------------------------------

    def lookup(self, repo_type: str, repo_id: str) -> Repo:
        """The visible repo, or Redirect if renamed, or a RepoNotFound HubError."""
        repo = self._repos[repo_type].get(repo_id.lower())
        if repo is not None and not repo.private:
            return repo
        if repo is None:
            new_id = self._redirects[repo_type].get(repo_id.lower())
            if new_id is not None:
                raise Redirect(new_id)
        raise HubError(404, "Repository not found", "RepoNotFound")

    @staticmethod
    def check_revision(repo: Repo, rev: str) -> None:
        if rev not in ("main", repo.sha):
            raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound", {"X-Repo-Commit": repo.sha})

    def info(
        self, repo_type: str, repo_id: str, rev: str | None, query: list[tuple[str, str]]
    ) -> dict[str, Any]:
        params = _multi(query)
        with self.lock:
            repo = self.lookup(repo_type, repo_id)
            if rev is not None:
                self.check_revision(repo, rev)
            blobs = _bool_param(_one(params, "blobs"))
            expand = params.get("expand")
            if expand:
                _check_expand(repo_type, expand)
                return repo.render(("_id", "id", *expand), blobs)
            return repo.render(INFO_FIELDS[repo_type], blobs)

    def _sorted_view(self, repo_type: str, sort: str) -> tuple[list[tuple[int, int]], list[Repo]]:
        version = self._version[repo_type]
        cached = self._sorted.get((repo_type, sort))
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        pairs = sorted(
            ((-r.sort_value(sort), -int(r.oid, 16)), r)
            for r in self._repos[repo_type].values()
            if not r.private
        )
        keys = [k for k, _ in pairs]
        repos = [r for _, r in pairs]
        self._sorted[(repo_type, sort)] = (version, keys, repos)
        return keys, repos

    def list_page(
        self, repo_type: str, query: list[tuple[str, str]]
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a listing and the cursor of the next page (None on the last page)."""
        params = _multi(query)
        expand = params.get("expand") or []
        full = _bool_param(_one(params, "full"))
        want_config = _bool_param(_one(params, "config"))
        want_card = _bool_param(_one(params, "cardData"))
        if expand and ("full" in params or "config" in params or "cardData" in params):
            raise HubError(400, "Cannot use the 'expand' parameter with 'full', 'config' or 'cardData'")
        if expand:
            _check_expand(repo_type, expand)
            names: tuple[str, ...] = ("_id", "id", *expand)
        else:
            names = LIST_FIELDS[repo_type]
            if full:
                names += FULL_EXTRA
            if want_config and repo_type == "model":
                names += ("config",)
            if want_card:
                names += ("cardData",)

        raw_sort = _one(params, "sort") or "createdAt"
        sort = SORTS.get(raw_sort)
        if sort is None or (sort == "downloads" and repo_type == "space"):
            raise HubError(400, f"Invalid sort parameter: {raw_sort}")
        try:
            limit = int(_one(params, "limit") or PAGE_MAX)
        except ValueError as e:
            raise HubError(400, "Invalid limit parameter") from e
        limit = max(1, min(limit, PAGE_MAX))

        start_key: tuple[int, int] | None = None
        page = 1
        cursor = _one(params, "cursor")
        if cursor:
            data = decode_cursor(cursor)
            try:
                if data.get("s") != sort:
                    raise HubError(400, "Cursor does not match the sort parameter")
                start_key = (-int(data["v"]), -int(data["i"], 16))
                page = int(data["p"])
            except (KeyError, TypeError, ValueError) as e:
                raise HubError(400, "Invalid cursor") from e

        match = _matcher(repo_type, params)
        with self.lock:
            keys, repos = self._sorted_view(repo_type, sort)
            i = bisect.bisect_right(keys, start_key) if start_key is not None else 0
            items: list[dict[str, Any]] = []
            last: Repo | None = None
            more = False
            for repo in repos[i:]:
                if not match(repo):
                    continue
                if len(items) == limit:
                    more = True
                    break
                items.append(repo.render(names))
                last = repo
            if not more or last is None:
                return items, None
            nxt = encode_cursor({"s": sort, "v": last.sort_value(sort), "i": last.oid, "p": page + 1})
            return items, nxt

    def tree(
        self, repo_type: str, repo_id: str, rev: str, path: str, query: list[tuple[str, str]]
    ) -> tuple[list[dict[str, Any]], str | None]:
        params = _multi(query)
        recursive = _bool_param(_one(params, "recursive"))
        page_size = 50 if _bool_param(_one(params, "expand")) else TREE_PAGE
        path = path.strip("/")
        after = None
        page = 1
        if cursor := _one(params, "cursor"):
            data = decode_cursor(cursor)
            after, page = data.get("after"), int(data.get("p", 1))
        with self.lock:
            repo = self.lookup(repo_type, repo_id)
            self.check_revision(repo, rev)
            entries = _tree_entries(repo, path, recursive)
        if after is not None:
            entries = [e for e in entries if e["path"] > after]
        if len(entries) <= page_size:
            return entries, None
        entries = entries[:page_size]
        return entries, encode_cursor({"after": entries[-1]["path"], "p": page + 1})

    def paths_info(self, repo_type: str, repo_id: str, rev: str, paths: list[str]) -> list[dict[str, Any]]:
        with self.lock:
            repo = self.lookup(repo_type, repo_id)
            self.check_revision(repo, rev)
            dirs = _directories(repo)
            out: list[dict[str, Any]] = []
            seen: set[str] = set()
            for p in paths:
                p = p.strip("/")
                if p in seen:
                    continue
                seen.add(p)
                if p in repo.files:
                    out.append(repo.files[p].tree_entry())
                elif p in dirs:
                    out.append(_dir_entry(repo, p))
            return out

    def resolve(self, repo_type: str, repo_id: str, rev: str, path: str) -> tuple[Repo, FileEntry]:
        with self.lock:
            repo = self.lookup(repo_type, repo_id)
            self.check_revision(repo, rev)
            entry = repo.files.get(path)
            if entry is None:
                raise HubError(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": repo.sha})
            return repo, entry


def _file_entries(files: Mapping[str, Any] | Iterable[FileEntry] | None) -> list[FileEntry]:
    if not files:
        return []
    if isinstance(files, Mapping):
        out = []
        for path, content in files.items():
            out.append(content if isinstance(content, FileEntry) else make_file(path, content))
        return out
    return list(files)


def _multi(query: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in query:
        out.setdefault(k, []).append(v)
    return out


def _one(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _check_expand(repo_type: str, expand: list[str]) -> None:
    bad = [e for e in expand if e not in EXPAND_FIELDS[repo_type]]
    if bad:
        raise HubError(400, f"Invalid expand value(s) for {repo_type}s: {', '.join(bad)}")


def _matcher(repo_type: str, params: Mapping[str, list[str]]) -> Callable[[Repo], bool]:
    search = (_one(params, "search") or "").lower()
    author = (_one(params, "author") or "").lower()
    tags = [t.lower() for v in params.get("filter", []) for t in v.split(",") if t]
    pipeline = (_one(params, "pipeline_tag") or "").lower()
    gated = _one(params, "gated")

    def match(repo: Repo) -> bool:
        if search and search not in repo.id.lower():
            return False
        if author and repo.owner.lower() != author:
            return False
        if tags or pipeline:
            have = repo.tag_set()
            if any(t not in have for t in tags) or (pipeline and pipeline not in have):
                return False
        return gated is None or bool(repo.fields.get("gated")) == _bool_param(gated)

    return match


def _directories(repo: Repo) -> set[str]:
    dirs: set[str] = set()
    for p in repo.files:
        parts = p.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return dirs


def _dir_entry(repo: Repo, path: str) -> dict[str, Any]:
    oid = hashlib.sha1(f"tree\0{repo.sha}\0{path}".encode()).hexdigest()  # noqa: S324 - fake git tree id
    return {"type": "directory", "oid": oid, "size": 0, "path": path}


def _tree_entries(repo: Repo, path: str, recursive: bool) -> list[dict[str, Any]]:
    dirs = _directories(repo)
    if path and path not in dirs:
        raise HubError(404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": repo.sha})
    prefix = path + "/" if path else ""

    def wanted(p: str) -> bool:
        if not p.startswith(prefix):
            return False
        return recursive or "/" not in p[len(prefix) :]

    out = [_dir_entry(repo, d) for d in dirs if wanted(d)]
    out += [e.tree_entry() for p, e in repo.files.items() if wanted(p)]
    out.sort(key=lambda e: e["path"])
    return out
