"""The content tier: fetch what candidates and new hits hold, within a per-scan budget.

A scan queues probes in the same transaction as a page's hits (store.record_hits): `candidate`
probes for repos the cheap tier could not decide (a fingerprint that only config.json, a safetensors
header or the file hashes can settle; a new Space whose code may name a watched host), and
`evidence` probes for new hits. `run` then works through the queue, candidates first, within
`[content] max_requests` and `max_bytes` and never past `hub.max_quota_share` of the Hub's API and
resolver windows. What does not fit stays queued for the next scan: deferred, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from monitor.errors import FileMissing, HubError, RepoGone
from monitor.fingerprint import (
    SAFETENSORS_INDEX,
    BadHeader,
    FileInfo,
    RepoContent,
    decode_text,
    is_checkpoint,
    parse_json_object,
    parse_safetensors_header,
    safetensors_header_length,
)
from monitor.hub import parse_time, to_repo
from monitor.records import NAME_RULES, Repo
from monitor.store import MAX_EVIDENCE_TEXT, Probe, iso

if TYPE_CHECKING:
    from monitor.scanner import Scanner

log = structlog.get_logger("leakmon.content")

HEADER_READ = 100_000  # the first Range read of a safetensors file, as huggingface_hub does
MAX_FILES_KEPT = 1_000  # file list entries kept as evidence
MIN_CHECKPOINT_BYTES = 1_000_000  # files that link two repos as the same weights
KEEP_FINISHED = timedelta(days=2)  # finished probes remembered, so re-reads are not fetched twice


@dataclass
class ContentResult:
    probed: int = 0
    gone: int = 0
    deferred: int = 0  # still queued after this run
    hub_requests: int = 0
    bytes_read: int = 0
    new_hit_ids: list[int] = field(default_factory=list)
    reopened_hit_ids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class _OutOfBudget(Exception):
    """This scan's content budget (or our share of a Hub quota) is spent: the rest waits."""


class _Fetcher:
    """Fetches for one run, charging every request and byte to the run's budget."""

    def __init__(self, scanner: Scanner) -> None:
        self.source = scanner.source
        self.limits = scanner.cfg.content
        self.requests0 = self.source.requests
        self.bytes0 = self.source.bytes_read
        # The run's first probe may overdraw the budget (never a quota): a budget smaller than one
        # probe must not starve the queue.
        self.overdraw = False

    @property
    def requests(self) -> int:
        return self.source.requests - self.requests0

    @property
    def bytes(self) -> int:
        return self.source.bytes_read - self.bytes0

    def room(self, resource: str) -> None:
        spent = self.requests >= self.limits.max_requests or self.bytes >= self.limits.max_bytes
        if spent and not self.overdraw:
            raise _OutOfBudget("budget")
        if self.source.quota_spent(resource):
            raise _OutOfBudget(f"{resource} quota share")

    def repo_files(self, repo: Repo) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        self.room("api")
        return self.source.repo_files(repo.repo_type, repo.repo_id)

    def read(self, repo: Repo, path: str, max_bytes: int | None = None, start: int = 0) -> bytes:
        self.room("resolvers")
        limit = max_bytes or self.limits.max_file_bytes
        if not self.overdraw:
            limit = min(limit, max(self.limits.max_bytes - self.bytes, 1))
        return self.source.read_file(repo.repo_type, repo.repo_id, path, max_bytes=limit, start=start)


def _estimate(probe: Probe) -> int:
    """Requests a probe takes at least, to defer it whole rather than start what cannot finish."""
    return 1 + len(probe.needs & {"config", "header", "texts"}) * 2


def run(scanner: Scanner, scan_id: int | None, now: datetime) -> ContentResult:
    """Work through the probe queue within this scan's budget. Never raises for the Hub's sake."""
    store, evidence = scanner.store, scanner.evidence
    result = ContentResult()
    store.prune_probes(now - KEEP_FINISHED)
    fetch = _Fetcher(scanner)
    limits = scanner.cfg.content
    stopped = None
    for n, probe in enumerate(store.due_probes()):
        if scanner.stop.is_set():
            stopped = "stopping"
            break
        left = limits.max_requests - fetch.requests
        if n and left < _estimate(probe):  # the first probe always gets its chance
            stopped = "budget"
            break
        created = parse_time(probe.item.get("createdAt")) or probe.created_at
        item = {**probe.item, "id": probe.repo_id}
        repo = to_repo(probe.repo_type, item, created)  # type: ignore[arg-type]
        fetch.overdraw = n == 0
        try:
            content, info, errors = _fetch(fetch, scanner, repo, probe)
        except _OutOfBudget as err:
            stopped = str(err)
            break
        except RepoGone as err:
            store.end_probe(probe.id, "gone", str(err), now)
            result.gone += 1
            continue
        except HubError as err:
            store.end_probe(probe.id, "pending", str(err), now)
            result.errors.append(f"{probe.repo_type} {probe.repo_id}: {err}")
            log.warning("content.failed", repo_type=probe.repo_type, repo_id=probe.repo_id, error=str(err))
            break  # the Hub is struggling: the rest waits for the next scan
        silenced = scanner.matcher.silenced(repo)
        found = [m for m in evidence.judge(repo, content) if m.watch not in silenced]
        hits = scanner.hits_for(repo, found)
        record = _evidence(repo, info, content, found, errors, now)
        recorded = store.complete_probe(
            probe.id, scan_id, hits, record, now, hashes=_checkpoint_hashes(content)
        )
        result.new_hit_ids += recorded.new
        result.reopened_hit_ids += recorded.reopened
        result.probed += 1
        for hit_id in recorded.new + recorded.reopened:
            event = "hit.new" if hit_id in recorded.new else "hit.reopened"
            log.info(event, hit_id=hit_id, repo_type=repo.repo_type, repo_id=repo.repo_id, tier="content")
    result.hub_requests, result.bytes_read = fetch.requests, fetch.bytes
    result.deferred = store.probe_counts()["pending"]
    if stopped and result.deferred:
        log.info("content.deferred", reason=stopped, pending=result.deferred, hub_requests=fetch.requests)
    return result


def _fetch(
    fetch: _Fetcher, scanner: Scanner, repo: Repo, probe: Probe
) -> tuple[RepoContent, dict[str, Any] | None, list[str]]:
    evidence = scanner.evidence
    needs = set(probe.needs)
    if probe.kind == "candidate" and evidence.has_content:
        needs.add("texts")  # whoever is probed anyway has its card read for watched strings
    errors: list[str] = []
    info: dict[str, Any] | None = None
    files: tuple[FileInfo, ...] | None = None
    names = _listing_files(repo)
    if "files" in needs or names is None:
        info, raw_files = fetch.repo_files(repo)
        files = tuple(FileInfo(f["path"], f["size"], f["sha256"]) for f in raw_files)
        names = [f.path for f in files]

    def read(path: str, max_bytes: int | None = None, start: int = 0) -> bytes | None:
        try:
            return fetch.read(repo, path, max_bytes, start)
        except FileMissing:
            errors.append(f"{path}: not found")
            return None

    config = None
    if "config" in needs and "config.json" in names:
        data = read("config.json")
        config = parse_json_object(data) if data is not None else None
        if data is not None and config is None:
            errors.append("config.json: not a JSON object (or longer than max_file_bytes)")
    tensors: dict[str, tuple[int, ...]] | None = None
    if "header" in needs:
        index = None
        if SAFETENSORS_INDEX in names:
            data = read(SAFETENSORS_INDEX)
            index = parse_json_object(data) if data is not None else None
        tensors = {}
        for path in evidence.header_paths(names, index):
            tensors.update(_read_header(read, path, errors))
    texts: dict[str, str] = {}
    if "texts" in needs:
        for path in evidence.text_paths(repo, names):
            data = read(path)
            if data is not None:
                texts[path] = decode_text(data)
    return RepoContent(files=files, config=config, tensors=tensors, texts=texts), info, errors


def _read_header(read: Any, path: str, errors: list[str]) -> dict[str, tuple[int, ...]]:
    """Tensor shapes from a safetensors header: one Range read, two when the header is long."""
    data = read(path, HEADER_READ)
    if data is None:
        return {}
    try:
        length = safetensors_header_length(data)
        if len(data) < 8 + length:
            rest = read(path, 8 + length - len(data), len(data))
            data += rest or b""
        return parse_safetensors_header(data)
    except BadHeader as err:
        errors.append(f"{path}: not a safetensors header ({err})")
        return {}


def _checkpoint_hashes(content: RepoContent) -> set[str]:
    """LFS sha256 of the checkpoint files a repo holds: what makes two repos the same weights.
    Small files (a tokenizer, training arguments) are shared by unrelated repos: left out."""
    return {
        f.sha256
        for f in content.files or ()
        if f.sha256 and is_checkpoint(f.path) and (f.size or 0) >= MIN_CHECKPOINT_BYTES
    }


def _listing_files(repo: Repo) -> list[str] | None:
    raw = repo.raw.get("siblings")
    if not isinstance(raw, list):
        return None
    return [s["rfilename"] for s in raw if isinstance(s, dict) and isinstance(s.get("rfilename"), str)]


def _evidence(
    repo: Repo,
    info: dict[str, Any] | None,
    content: RepoContent,
    found: list[Any],
    errors: list[str],
    now: datetime,
) -> dict[str, Any]:
    """What the repo held when leakmon looked: kept with its hits, bounded by the store."""
    record: dict[str, Any] = {"captured_at": iso(now)}
    if info is not None:
        record["repo"] = info
    if content.files is not None:
        record["files"] = [
            {"path": f.path, "size": f.size, "sha256": f.sha256, "lfs": f.sha256 is not None}
            for f in content.files[:MAX_FILES_KEPT]
        ]
        record["files_truncated"] = len(content.files) > MAX_FILES_KEPT
    for path, text in content.texts.items():
        key = "card" if path == "README.md" else "app" if repo.repo_type == "space" else None
        if key and key not in record:
            record[key] = {"path": path, "text": text[:MAX_EVIDENCE_TEXT]}
    record["findings"] = [{"watch": m.watch, **m.as_dict()} for m in found if m.rule not in NAME_RULES]
    if errors:
        record["errors"] = errors[:50]
    return record
