"""The Hub source: the only module that imports huggingface_hub.

It lists each repo type newest first with `expand` of exactly the fields leakmon needs, page by page,
and stops by `createdAt` itself: `list_models(limit=N)` would cap the total and silently skip repos.
Every call has a timeout; huggingface_hub's `http_backoff` retries 429/5xx/network errors.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

# huggingface_hub reads these at import: telemetry off, so building headers never calls
# {ENDPOINT}/api/agent-harnesses (which goes to huggingface.co when only HfApi(endpoint=) is local).
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import httpx2
import structlog
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import (
    build_hf_headers,
    hf_raise_for_status,
    http_backoff,
    http_stream_backoff,
    parse_ratelimit_headers,
    set_client_factory,
)
from huggingface_hub.utils._http import default_client_factory  # the default, not re-exported

from monitor import __version__, logs
from monitor.config import HubConfig
from monitor.errors import FileMissing, HubError, RepoGone
from monitor.records import Repo, RepoType

log = structlog.get_logger("leakmon.hub")

hf_constants.HF_HUB_DISABLE_TELEMETRY = True  # also when huggingface_hub was imported before us
logs.adopt("huggingface_hub")

PAGE_SIZE = 1000  # the largest page the Hub serves
_PLURAL = {"model": "models", "dataset": "datasets", "space": "spaces"}

# Observers of every HTTP response huggingface_hub's shared client receives (retries included).
_observers: list[Callable[[httpx2.Response], None]] = []


def _on_response(response: httpx2.Response) -> None:
    for observe in list(_observers):
        observe(response)


def _client_factory() -> httpx2.Client:
    """huggingface_hub's own client, plus a response hook that counts requests and reads RateLimit.

    Installed as the client factory, so the hook survives huggingface_hub recreating its client
    (it does so after a connection error).
    """
    client = default_client_factory()
    hooks = client.event_hooks
    hooks.setdefault("response", []).append(_on_response)
    client.event_hooks = hooks
    return client


set_client_factory(_client_factory)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _title(repo_type: str, item: Mapping[str, Any]) -> str | None:
    card = item.get("cardData")
    if not isinstance(card, dict):
        return None
    for key in ("title", "pretty_name") if repo_type == "dataset" else ("title",):
        value = card.get(key)
        if isinstance(value, str) and value.strip():
            return value[:MAX_TEXT]
    return None


# Hub data is hostile: lists and strings the matcher reads are bounded.
MAX_LIST = 200
MAX_TEXT = 500


def _strings(value: Any) -> tuple[str, ...]:
    """A string or a list of strings (or of {"id": ...} objects) -> bounded tuple of strings."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, dict):
        value = value.get("models", [])
    if not isinstance(value, list):
        return ()
    out = []
    for v in value[:MAX_LIST]:
        if isinstance(v, dict):
            v = v.get("id")
        if isinstance(v, str) and v:
            out.append(v[:MAX_TEXT])
    return tuple(out)


def to_repo(repo_type: RepoType, item: Mapping[str, Any], created: datetime) -> Repo:
    repo_id = item["id"]
    author = item.get("author")
    if not isinstance(author, str) or not author:
        author = repo_id.split("/", 1)[0] if "/" in repo_id else ""
    card = item.get("cardData") if isinstance(item.get("cardData"), dict) else {}
    bases = dict.fromkeys(_strings(item.get("baseModels")) + _strings(card.get("base_model")))
    return Repo(
        repo_type=repo_type,
        repo_id=repo_id,
        created_at=created,
        author=author,
        title=_title(repo_type, item),
        tags=_strings(item.get("tags")),
        base_models=tuple(bases),
        linked_models=_strings(item.get("models")) if repo_type == "space" else (),
        raw=dict(item),
    )


class HubSource:
    """Reads new repos from one Hub endpoint.

    `requests` counts HTTP requests sent (each retry included); `ratelimit` is the last
    `RateLimit` header seen (huggingface_hub's RateLimitInfo) or None.
    """

    def __init__(
        self,
        endpoint: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        base_wait: float = 1.0,
        max_wait: float = 8.0,
        page_size: int = PAGE_SIZE,
        max_quota_share: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.base_wait = base_wait
        self.max_wait = max_wait
        self.page_size = page_size
        self.requests = 0
        self.bytes_read = 0  # bodies of file and repo-info reads (the content tier's budget)
        # The last RateLimit header per resource ("api", "resolvers"), with time.monotonic() of it.
        self.ratelimits: dict[str, tuple[Any, float]] = {}
        self.max_quota_share = max_quota_share
        self.quota_pauses = 0
        self._sleep = sleep
        # Anonymous unless a token is configured: never pick up a stray token file by surprise.
        self._headers = build_hf_headers(
            token=token or False, library_name="leakmon", library_version=__version__
        )
        _observers.append(self._observe)

    @classmethod
    def from_config(cls, hub: HubConfig, **overrides: Any) -> HubSource:
        """A source for the `[hub]` table of a config (tests override retry timings)."""
        options: dict[str, Any] = {
            "timeout": hub.timeout,
            "max_retries": hub.max_retries,
            "max_quota_share": hub.max_quota_share,
        }
        options.update(overrides)
        return cls(hub.endpoint, hub.token.reveal() if hub.token else None, **options)

    def close(self) -> None:
        if self._observe in _observers:
            _observers.remove(self._observe)

    def __enter__(self) -> HubSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _observe(self, response: httpx2.Response) -> None:
        if not str(response.request.url).startswith(self.endpoint):
            return
        self.requests += 1
        info = parse_ratelimit_headers(response.headers)
        if info is not None:
            self.ratelimits[info.resource_type] = (info, time.monotonic())

    @property
    def ratelimit(self) -> Any:
        """The API's last RateLimit (huggingface_hub's RateLimitInfo), or None."""
        return self.ratelimits.get("api", (None, 0.0))[0]

    def _quota_wait(self, resource: str) -> float:
        """Seconds until `resource`'s window resets if our share of it is spent, else 0."""
        info, seen = self.ratelimits.get(resource, (None, 0.0))
        if info is None or not info.limit or self.max_quota_share >= 1.0:
            return 0.0
        if info.limit - info.remaining < self.max_quota_share * info.limit:
            return 0.0
        wait = info.reset_in_seconds + 1 - (time.monotonic() - seen)
        if wait <= 0:
            del self.ratelimits[resource]  # a new window: the next response tells where we stand
        return max(wait, 0.0)

    def _respect_quota(self, resource: str = "api") -> None:
        """Never spend more than `max_quota_share` of the Hub's rate-limit window: once that share is
        used, wait for the window to reset. Other clients on the same IP or token keep the rest."""
        wait = self._quota_wait(resource)
        if wait > 0:
            info = self.ratelimits[resource][0]
            self.quota_pauses += 1
            log.warning(
                "hub.quota_pause",
                resource=resource,
                spent=info.limit - info.remaining,
                quota=info.limit,
                max_quota_share=self.max_quota_share,
                wait_seconds=round(wait, 1),
            )
            self._sleep(wait)
            self.ratelimits.pop(resource, None)

    def quota_spent(self, resource: str) -> bool:
        """Whether our share of `resource`'s window ("api" or "resolvers") is used up: work that
        can wait (the content tier) stops here instead of sleeping."""
        return self._quota_wait(resource) > 0

    def quota_left(self) -> int | None:
        """Requests left in the current window (from the last RateLimit header), or None."""
        return None if self.ratelimit is None else int(self.ratelimit.remaining)

    def _get_json(self, url: str, params: Sequence[tuple[str, Any]] | None) -> tuple[Any, str | None]:
        """GET with retries; returns the decoded body and the next page's URL."""
        if not url.startswith(self.endpoint + "/"):
            # A Link header pointing elsewhere would carry our token to a stranger.
            raise HubError(f"Hub returned a next-page link outside {self.endpoint}")
        for attempt in range(self.max_retries + 1):
            self._respect_quota()
            response = self._get(url, params=params)
            try:
                body = response.json()
            except ValueError:
                if attempt == self.max_retries:
                    raise HubError(f"Hub sent malformed JSON for {_path(url)} after retries") from None
                time.sleep(min(self.base_wait * 2**attempt, self.max_wait))
                continue
            return body, response.links.get("next", {}).get("url")
        raise AssertionError("unreachable")

    def iter_new(self, repo_type: RepoType, since: datetime, expand: Sequence[str]) -> Iterator[list[Repo]]:
        """Yield pages of repos created at or after `since`, newest first.

        Paging stops at the first page that reaches past `since`. Raises HubError when a page cannot
        be read after retries: the caller must then not move this type's cursor.
        """
        fields = ["createdAt", *[f for f in expand if f != "createdAt"]]
        url: str | None = f"{self.endpoint}/api/{_PLURAL[repo_type]}"
        params: list[tuple[str, Any]] | None = [("sort", "createdAt"), ("limit", self.page_size)]
        params += [("expand", f) for f in fields]
        while url is not None:
            body, next_url = self._get_json(url, params)
            if not isinstance(body, list):
                raise HubError(f"Hub listing of {repo_type}s is not a JSON array")
            page: list[Repo] = []
            reached_old = False
            for item in body:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    continue
                created = parse_time(item.get("createdAt"))
                if created is None:
                    continue
                if created < since:
                    reached_old = True
                    break
                page.append(to_repo(repo_type, item, created))
            yield page
            if reached_old:
                return
            url, params = next_url, None

    def exists(self, repo_type: RepoType, repo_id: str) -> bool:
        """Whether a repo is still on the Hub (a renamed repo redirects and counts as there).

        Raises HubError when the Hub cannot say (after retries): a re-check must not guess.
        """
        self._respect_quota()
        try:
            self._get(f"{self.endpoint}/api/{_PLURAL[repo_type]}/{repo_id}", params=[("expand", "createdAt")])
        except RepoGone:
            return False
        return True

    @contextmanager
    def _request(
        self, url: str, *, params: Any = None, headers: Mapping[str, str] | None = None, stream: bool = False
    ) -> Iterator[httpx2.Response]:
        """One GET with huggingface_hub's retries (429, 5xx, network), raising RepoGone, FileMissing
        or HubError. With `stream`, the body is not read yet and redirects are followed (the
        resolver sends LFS files to a CDN; httpx drops our token on a cross-origin redirect)."""
        options = {
            "headers": {**self._headers, **(headers or {})},
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "base_wait_time": self.base_wait,
            "max_wait_time": self.max_wait,
        }
        try:
            if stream:
                with http_stream_backoff(
                    "GET", url, params=params, follow_redirects=True, **options
                ) as response:
                    if response.status_code == 416:  # a Range past the end: an empty file
                        yield response
                        return
                    if response.status_code >= 400:
                        response.read()  # error bodies are small; hf_raise_for_status reads them
                    hf_raise_for_status(response)
                    yield response
            else:
                response = http_backoff("GET", url, params=params, **options)
                hf_raise_for_status(response)
                yield response
        except (RepositoryNotFoundError, RevisionNotFoundError):
            raise RepoGone(f"{_path(url)} is gone from the Hub") from None
        except EntryNotFoundError:
            raise FileMissing(f"{_path(url)} does not exist") from None
        except HfHubHTTPError as err:
            status = err.response.status_code if err.response is not None else "?"
            raise HubError(f"Hub answered HTTP {status} for {_path(url)} after retries") from None
        except httpx2.HTTPError as err:
            raise HubError(f"Hub unreachable at {self.endpoint} ({type(err).__name__})") from None

    def _get(self, url: str, *, params: Any = None) -> httpx2.Response:
        with self._request(url, params=params) as response:
            return response

    def repo_files(self, repo_type: RepoType, repo_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A repo's info and its files with sizes and LFS sha256 (`?blobs=true`): one API request.

        Returns (info without `siblings`, [{"path", "size", "sha256" (None outside LFS)}]).
        Raises RepoGone when the repo is not there (any more).
        """
        self._respect_quota()
        response = self._get(
            f"{self.endpoint}/api/{_PLURAL[repo_type]}/{repo_id}", params=[("blobs", "true")]
        )
        self.bytes_read += len(response.content)
        try:
            info = response.json()
        except ValueError:
            raise HubError(f"Hub sent malformed JSON for {repo_type} {repo_id}") from None
        if not isinstance(info, dict):
            raise HubError(f"Hub info of {repo_type} {repo_id} is not a JSON object")
        files = []
        for s in info.pop("siblings", None) or []:
            if not isinstance(s, dict) or not isinstance(s.get("rfilename"), str):
                continue
            lfs = s.get("lfs") if isinstance(s.get("lfs"), dict) else {}
            sha = lfs.get("sha256") or lfs.get("oid")
            size = lfs.get("size", s.get("size"))
            files.append(
                {
                    "path": s["rfilename"][:MAX_TEXT],
                    "size": size if isinstance(size, int) and not isinstance(size, bool) else None,
                    "sha256": sha.lower() if isinstance(sha, str) and len(sha) == 64 else None,
                }
            )
        return info, files

    def read_file(
        self,
        repo_type: RepoType,
        repo_id: str,
        path: str,
        *,
        max_bytes: int,
        start: int = 0,
        revision: str = "main",
    ) -> bytes:
        """Bytes `start` to `start + max_bytes` of a file (a Range request to the resolver; LFS files
        redirect to a CDN, which is followed). Never reads more than `max_bytes`, whatever the
        server sends. Raises FileMissing or RepoGone."""
        self._respect_quota("resolvers")
        prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
        url = f"{self.endpoint}/{prefix}{repo_id}/resolve/{quote(revision, safe='')}/{quote(path)}"
        wanted = {"Range": f"bytes={start}-{start + max_bytes - 1}"}
        data = bytearray()
        with self._request(url, headers=wanted, stream=True) as response:
            if response.status_code == 416:
                return b""
            skip = start if response.status_code == 200 else 0  # the server ignored Range
            try:
                for chunk in response.iter_bytes():
                    if skip:
                        cut, skip = min(skip, len(chunk)), skip - min(skip, len(chunk))
                        chunk = chunk[cut:]
                    data += chunk[: max_bytes - len(data)]
                    if len(data) >= max_bytes:
                        break
            except httpx2.HTTPError as err:
                raise HubError(f"Hub connection broke while reading {path} ({type(err).__name__})") from None
        self.bytes_read += len(data)
        return bytes(data)

    def search_pages(
        self, repo_type: RepoType, term: str, expand: Sequence[str], start_url: str | None = None
    ) -> Iterator[tuple[list[Repo], str | None]]:
        """Every repo whose id contains `term` (the Hub's `search=`), newest first, page by page,
        each page with the URL of the next one (None at the end): a sweep can stop and resume there."""
        fields = ["createdAt", *[f for f in expand if f != "createdAt"]]
        url: str | None = start_url or f"{self.endpoint}/api/{_PLURAL[repo_type]}"
        params: list[tuple[str, Any]] | None = None
        if start_url is None:
            params = [("search", term), ("sort", "createdAt"), ("limit", self.page_size)]
            params += [("expand", f) for f in fields]
        while url is not None:
            body, next_url = self._get_json(url, params)
            if not isinstance(body, list):
                raise HubError(f"Hub search of {repo_type}s is not a JSON array")
            page = []
            for item in body:
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    created = parse_time(item.get("createdAt")) or datetime(1970, 1, 1, tzinfo=UTC)
                    page.append(to_repo(repo_type, item, created))
            yield page, next_url
            url, params = next_url, None


def _path(url: str) -> str:
    return httpx2.URL(url).path
