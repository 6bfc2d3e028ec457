"""HubSimulator: a local HTTP server that answers like the Hugging Face Hub (see hub-api.md).

Standard library only: a ThreadingHTTPServer in a daemon thread, bound to 127.0.0.1 by default.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import re
import socket
import struct
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from monitor.hubsim.faults import FaultRule, FaultSet, FixedWindow
from monitor.hubsim.files import FileEntry, make_file, safetensors_file
from monitor.hubsim.scenario import load_scenario
from monitor.hubsim.state import INFO_FIELDS, HubError, HubState, Redirect, normalize_type, page_of

log = logging.getLogger(__name__)

_LIST_RE = re.compile(r"^/api/(models|datasets|spaces)/?$")
_REPO_API_RE = re.compile(r"^/api/(models|datasets|spaces)/([^/]+)/([^/]+)(?:/(.*))?$")
_RESOLVE_RE = re.compile(r"^/(?:(datasets|spaces)/)?([^/]+)/([^/]+)/resolve/([^/]+)/(.+)$")
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)")

# Answered so that a client whose HF_ENDPOINT points here does not fail its telemetry lookup.
_AGENT_HARNESSES = {"standardEnvVars": [], "harnesses": {}}


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the simulator saw it.

    `path` is percent-decoded, `query` the decoded (name, value) pairs in order, `headers` has
    lower-case names, `status` 0 means the connection was reset, `at` is time.time() on arrival.
    """

    method: str
    path: str
    query: list[tuple[str, str]]
    status: int
    headers: dict[str, str]
    at: float


@dataclass
class _Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: tuple[FileEntry, int, int] | None = None  # file, start, stop (exclusive)
    is_json: bool = False


def _json(status: int, data: Any, headers: Mapping[str, str] | None = None) -> _Response:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return _Response(
        status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, body, is_json=True
    )


def _error(err: HubError) -> _Response:
    headers = dict(err.headers)
    if err.code:
        headers["X-Error-Code"] = err.code
        headers["X-Error-Message"] = err.message
    return _json(err.status, {"error": err.message}, headers)


def _pattern(path: str | re.Pattern[str] | None) -> re.Pattern[str] | None:
    if path is None or isinstance(path, re.Pattern):
        return path
    return re.compile(path)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects; every answer carries Content-Length
    server_version = "hubsim"
    sys_version = ""
    timeout = 60  # idle keep-alive connections give their thread back
    sim: HubSimulator

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle plus the client's delayed
        # ACK add 40 ms to every keep-alive request.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sim._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.sim._track(self.connection, False)

    def do_GET(self) -> None:
        self.sim._handle(self)

    do_HEAD = do_GET
    do_POST = do_GET
    do_PUT = do_GET
    do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a slow or stuck handler never blocks shutdown

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (and stop() closing sockets) are normal here, not worth a traceback.
        log.debug("hubsim: error on connection from %s", client_address, exc_info=True)


class HubSimulator:
    """A fake Hugging Face Hub on 127.0.0.1. Thread-safe; usable as a context manager."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        quota: int = 500,
        window: int = 300,
        resolver_quota: int = 3000,
        resolver_window: int | None = None,
        max_log: int = 100_000,
    ) -> None:
        self.host = host
        self.port = port
        self.state = HubState()
        self.faults = FaultSet()
        self.api_bucket = FixedWindow("api", quota, window)
        self.resolver_bucket = FixedWindow("resolvers", resolver_quota, resolver_window or window)
        self._log: collections.deque[RequestRecord] = collections.deque(maxlen=max_log)
        self._log_lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        handler = type("HubSimHandler", (_Handler,), {"sim": self})
        server = _Server((self.host, self.port), handler)
        self._server = server
        host, port = server.server_address[:2]
        self.port = int(port)
        self._url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"hubsim:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._conns_lock:  # keep-alive connections would otherwise keep being served
            conns = list(self._conns)
            self._conns.clear()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("HubSimulator is not started")
        return self._url

    @property
    def running(self) -> bool:
        return self._server is not None

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._conns_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    # --- repos -----------------------------------------------------------------------------------

    def add_repo(
        self,
        repo_type: str,
        repo_id: str,
        *,
        created_at: datetime | None = None,
        author: str | None = None,
        card_data: Mapping[str, Any] | None = None,
        files: Mapping[str, bytes | str | FileEntry] | Iterable[FileEntry] | None = None,
        private: bool = False,
        **fields: Any,
    ) -> dict[str, Any]:
        """Add a repo and return its full info (as GET /api/{type}s/{id} would)."""
        repo = self.state.add_repo(
            repo_type,
            repo_id,
            created_at=created_at,
            author=author,
            card_data=card_data,
            files=files,
            private=private,
            **fields,
        )
        return self.state.render(repo.type, repo.id)

    def remove_repo(self, repo_type: str, repo_id: str) -> None:
        self.state.remove_repo(repo_type, repo_id)

    def rename_repo(self, repo_type: str, old_id: str, new_id: str) -> None:
        """Move a repo; the old id answers 307 to the new one from then on."""
        self.state.rename_repo(repo_type, old_id, new_id)

    def update_repo(self, repo_type: str, repo_id: str, **fields: Any) -> dict[str, Any]:
        repo = self.state.update_repo(repo_type, repo_id, **fields)
        return self.state.render(repo.type, repo.id)

    def add_file(
        self,
        repo_type: str,
        repo_id: str,
        path: str,
        content: bytes | str | FileEntry | None = None,
        *,
        lfs_sha256: str | None = None,
        size: int | None = None,
        lfs: bool | None = None,
    ) -> dict[str, Any]:
        """Add or replace a file (a new commit). Returns its tree entry. See files.make_file."""
        if isinstance(content, FileEntry):
            entry = content
            entry.path = path
        else:
            entry = make_file(path, content, lfs_sha256=lfs_sha256, size=size, lfs=lfs)
        self.state.add_file(repo_type, repo_id, entry)
        return entry.tree_entry()

    def add_safetensors(
        self,
        repo_type: str,
        repo_id: str,
        path: str,
        tensors: Mapping[str, tuple[str, Iterable[int]]],
        metadata: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Add an LFS safetensors file with a real header; the repo's `safetensors` field follows it."""
        entry = safetensors_file(path, {k: (d, tuple(s)) for k, (d, s) in tensors.items()}, metadata)
        self.state.add_file(repo_type, repo_id, entry)
        return entry.tree_entry()

    def remove_file(self, repo_type: str, repo_id: str, path: str) -> None:
        self.state.remove_file(repo_type, repo_id, path)

    def get_repo(self, repo_type: str, repo_id: str) -> dict[str, Any] | None:
        """Full info of a repo (private ones too), or None."""
        repo = self.state.get(repo_type, repo_id)
        return None if repo is None else self.state.render(repo.type, repo.id, INFO_FIELDS[repo.type])

    def repo_count(self, repo_type: str | None = None) -> int:
        return self.state.count(repo_type)

    def load_scenario(self, path_or_dict: str | Path | Mapping[str, Any], now: datetime | None = None) -> int:
        """Load a scenario (dict, JSON file path, or bundled name like "demo"); returns repos added.

        Relative times in it count from `now` (default: the current time, UTC).
        """
        return load_scenario(self.state, path_or_dict, now=now)

    # --- faults ----------------------------------------------------------------------------------

    def fail(
        self,
        status: int = 500,
        *,
        path: str | re.Pattern[str] | None = r"^/api/models$",
        method: str | None = None,
        page: int | None = None,
        times: int | None = 1,
    ) -> FaultRule:
        """Answer `status` (with a JSON error) to matching requests, `times` times (None: forever)."""
        return self.faults.add(FaultRule("status", _pattern(path), method, page, times, status=status))

    def rate_limit_burst(
        self,
        count: int = 3,
        reset: int = 0,
        path: str | re.Pattern[str] | None = None,
        *,
        method: str | None = None,
        page: int | None = None,
    ) -> FaultRule:
        """The next `count` matching requests get 429 with `RateLimit: ...;r=0;t=<reset>`."""
        return self.faults.add(
            FaultRule("rate_limit", _pattern(path), method, page, count, status=429, reset=reset)
        )

    def latency(
        self,
        seconds: float,
        path: str | re.Pattern[str] | None = None,
        times: int | None = None,
        *,
        method: str | None = None,
        page: int | None = None,
    ) -> FaultRule:
        return self.faults.add(FaultRule("latency", _pattern(path), method, page, times, seconds=seconds))

    def malformed_json(
        self,
        path: str | re.Pattern[str] | None = r"^/api/",
        times: int | None = 1,
        page: int | None = None,
        *,
        method: str | None = None,
    ) -> FaultRule:
        """Matching JSON answers come back 200 with the body cut in half."""
        return self.faults.add(FaultRule("malformed", _pattern(path), method, page, times))

    def reset_connection(
        self,
        path: str | re.Pattern[str] | None = None,
        times: int | None = 1,
        *,
        method: str | None = None,
        page: int | None = None,
    ) -> FaultRule:
        """Close the socket (RST) without answering."""
        return self.faults.add(FaultRule("reset", _pattern(path), method, page, times))

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_quota(
        self,
        quota: int,
        window: int = 300,
        *,
        resolver_quota: int | None = None,
        resolver_window: int | None = None,
    ) -> None:
        """Reconfigure the buckets; this starts a fresh window."""
        self.api_bucket.configure(quota, window)
        if resolver_quota is not None or resolver_window is not None:
            self.resolver_bucket.configure(
                self.resolver_bucket.quota if resolver_quota is None else resolver_quota,
                resolver_window or self.resolver_bucket.window,
            )

    # --- request log -----------------------------------------------------------------------------

    def requests(
        self, path_prefix: str | None = None, method: str | None = None, status: int | None = None
    ) -> list[RequestRecord]:
        with self._log_lock:
            records = list(self._log)
        return [
            r
            for r in records
            if (path_prefix is None or r.path.startswith(path_prefix))
            and (method is None or r.method == method.upper())
            and (status is None or r.status == status)
        ]

    def clear_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    # --- HTTP ------------------------------------------------------------------------------------

    def _handle(self, h: _Handler) -> None:
        at = time.time()
        method = h.command.upper()
        split = urlsplit(h.path)
        path = unquote(split.path)  # what the log and fault rules see; routing uses the raw path
        query = parse_qsl(split.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in h.headers.items()}
        try:
            length = int(h.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = h.rfile.read(length) if length > 0 else b""

        bucket = (
            self.api_bucket
            if path.startswith("/api/")
            else (self.resolver_bucket if "/resolve/" in path else None)
        )
        allowed, remaining, reset = bucket.hit() if bucket else (True, 0, 0)
        delay, fault = self.faults.take(method, path, page_of(query))
        if delay > 0:
            time.sleep(delay)

        if fault is not None and fault.kind == "reset":
            self._record(method, path, query, 0, headers, at)
            self._reset(h)
            return

        try:
            if fault is not None and fault.kind == "status":
                resp = _json(fault.status, {"error": f"Simulated error {fault.status}"})
            elif fault is not None and fault.kind == "rate_limit":
                resp = _json(429, {"error": "Too Many Requests"})
                remaining, reset = 0, fault.reset
            elif not allowed:
                resp = _json(429, {"error": "Too Many Requests"})
                remaining = 0
            else:
                resp = self._route(method, split.path, split.query, query, body, headers)
        except HubError as e:
            resp = _error(e)
        except Exception:
            log.exception("hubsim: error answering %s %s", method, h.path)
            resp = _json(500, {"error": "Internal Error"})

        if fault is not None and fault.kind == "malformed" and resp.status == 200 and resp.is_json:
            resp.body = resp.body[: max(1, len(resp.body) // 2)]
        if fault is not None and fault.kind == "rate_limit" and bucket is None:
            bucket = self.api_bucket
        if bucket is not None:
            resp.headers.update(bucket.headers(remaining, reset))
        # Logged before sending: a client that has its answer can already see the record.
        self._record(method, path, query, resp.status, headers, at)
        self._send(h, method, resp)

    def _record(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        status: int,
        headers: dict[str, str],
        at: float,
    ) -> None:
        with self._log_lock:
            self._log.append(RequestRecord(method, path, query, status, headers, at))

    @staticmethod
    def _reset(h: _Handler) -> None:
        with contextlib.suppress(OSError):  # linger 0: close() sends RST instead of FIN
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.close_connection = True

    @staticmethod
    def _send(h: _Handler, method: str, resp: _Response) -> None:
        try:
            h.send_response(resp.status)
            length = resp.stream[2] - resp.stream[1] if resp.stream is not None else len(resp.body)
            if "Content-Length" not in resp.headers:
                resp.headers["Content-Length"] = str(length)
            for k, v in resp.headers.items():
                h.send_header(k, v)
            h.end_headers()
            if method == "HEAD":
                return
            if resp.stream is not None:
                entry, start, stop = resp.stream
                for chunk in entry.iter_bytes(start, stop):
                    h.wfile.write(chunk)
            else:
                h.wfile.write(resp.body)
        except OSError:  # the client went away, or stop() closed the connection
            h.close_connection = True

    def _link(self, path: str, query: list[tuple[str, str]], cursor: str) -> str:
        params = [(k, v) for k, v in query if k != "cursor"] + [("cursor", cursor)]
        return f'<{self.url}{path}?{urlencode(params)}>; rel="next"'

    def _route(
        self,
        method: str,
        path: str,
        raw_query: str,
        query: list[tuple[str, str]],
        body: bytes,
        headers: Mapping[str, str],
    ) -> _Response:
        if path == "/api/agent-harnesses":
            return _json(200, _AGENT_HARNESSES)
        m = _LIST_RE.match(path)
        if m:
            if method not in ("GET", "HEAD"):
                raise HubError(405, "Method not allowed")
            repo_type = normalize_type(m.group(1))
            items, cursor = self.state.list_page(repo_type, query)
            resp = _json(200, items)
            if cursor:
                resp.headers["Link"] = self._link(f"/api/{m.group(1)}", query, cursor)
            return resp
        m = _REPO_API_RE.match(path)
        if m:
            return self._repo_api(method, m, raw_query, query, body, headers)
        m = _RESOLVE_RE.match(path)
        if m and not path.startswith("/api/"):
            return self._resolve(method, m, raw_query, headers)
        raise HubError(404, "Not Found")

    def _repo_api(
        self,
        method: str,
        m: re.Match[str],
        raw_query: str,
        query: list[tuple[str, str]],
        body: bytes,
        headers: Mapping[str, str],
    ) -> _Response:
        plural, owner, name, rest = m.group(1), unquote(m.group(2)), unquote(m.group(3)), m.group(4) or ""
        repo_type = normalize_type(plural)
        repo_id = f"{owner}/{name}"
        parts = rest.split("/") if rest else []
        try:
            if not parts:
                self._allow(method, "GET", "HEAD")
                return _json(200, self.state.info(repo_type, repo_id, None, query))
            action, args = parts[0], [unquote(p) for p in parts[1:]]
            if action == "revision" and len(args) == 1:
                self._allow(method, "GET", "HEAD")
                return _json(200, self.state.info(repo_type, repo_id, args[0], query))
            if action == "tree" and args:
                self._allow(method, "GET", "HEAD")
                entries, cursor = self.state.tree(repo_type, repo_id, args[0], "/".join(args[1:]), query)
                resp = _json(200, entries)
                if cursor:
                    resp.headers["Link"] = self._link(m.group(0), query, cursor)
                return resp
            if action == "paths-info" and len(args) == 1:
                self._allow(method, "POST")
                paths = _form_paths(body, headers.get("content-type", ""))
                return _json(200, self.state.paths_info(repo_type, repo_id, args[0], paths))
            # Unknown sub-resource: 404 RepoNotFound for a missing repo, plain 404 otherwise.
            self.state.info(repo_type, repo_id, None, [])
        except Redirect as r:
            location = f"/api/{plural}/{quote(r.new_id)}" + (f"/{rest}" if rest else "")
            return self._redirect(location, raw_query)
        raise HubError(404, "Not Found")

    @staticmethod
    def _allow(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise HubError(405, "Method not allowed")

    @staticmethod
    def _redirect(location: str, raw_query: str) -> _Response:
        if raw_query:
            location += "?" + raw_query
        return _json(307, {"message": "Repository was renamed", "url": location}, {"Location": location})

    def _resolve(
        self, method: str, m: re.Match[str], raw_query: str, headers: Mapping[str, str]
    ) -> _Response:
        self._allow(method, "GET", "HEAD")
        plural, owner, name = m.group(1), unquote(m.group(2)), unquote(m.group(3))
        rev, file_path = unquote(m.group(4)), unquote(m.group(5))
        repo_type = normalize_type(plural) if plural else "model"
        try:
            repo, entry = self.state.resolve(repo_type, f"{owner}/{name}", rev, file_path)
        except Redirect as r:
            prefix = f"/{plural}" if plural else ""
            return self._redirect(f"{prefix}/{quote(r.new_id)}/resolve/{m.group(4)}/{m.group(5)}", raw_query)
        base = {
            "X-Repo-Commit": repo.sha,
            "ETag": f'"{entry.etag}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(file_path.rsplit('/', 1)[-1])}",
        }
        if entry.is_lfs:
            base["X-Linked-Etag"] = f'"{entry.lfs_sha256}"'
            base["X-Linked-Size"] = str(entry.size)
        start, stop, status = 0, entry.size, 200
        rng = headers.get("range")
        if rng:
            rm = _RANGE_RE.match(rng.strip())
            if rm and (rm.group(1) or rm.group(2)):
                if rm.group(1):
                    start = int(rm.group(1))
                    stop = min(entry.size, int(rm.group(2)) + 1) if rm.group(2) else entry.size
                else:  # suffix range: the last N bytes
                    start = max(0, entry.size - int(rm.group(2)))
                if start >= entry.size or stop <= start:
                    return _Response(416, {**base, "Content-Range": f"bytes */{entry.size}"}, b"")
                status = 206
                base["Content-Range"] = f"bytes {start}-{stop - 1}/{entry.size}"
        return _Response(status, base, stream=(entry, start, stop))


def _form_paths(body: bytes, content_type: str) -> list[str]:
    if "json" in content_type:
        try:
            data = json.loads(body or b"{}")
        except ValueError as e:
            raise HubError(400, "Invalid JSON body") from e
        paths = data.get("paths", []) if isinstance(data, dict) else []
        return [str(p) for p in paths]
    return [v for k, v in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True) if k == "paths"]
