"""Search the Hub's whole history for every watched term (`search=`, newest first), resumably.

Scans read what is new since the cursors; a sweep reads everything a search finds, so it catches
repos older than the cursors (a first install) and repos renamed to a watched name. The Hub's
`search` is a case-insensitive substring of the repo id, so one search string per word of the terms
finds joined, split and camelCase spellings too; the matcher then decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from monitor.config import WatchConfig
from monitor.errors import HubError
from monitor.matcher import tokens
from monitor.scanner import Scanner

log = structlog.get_logger("leakmon.sweep")

MIN_SEARCH = 3  # shorter words would list most of the Hub


def search_strings(watches: tuple[WatchConfig, ...]) -> list[str]:
    """The Hub search strings that cover every watched term: each word of 3+ letters."""
    found: dict[str, None] = {}
    for watch in watches:
        for term in watch.terms:
            words = [t for t in tokens(term) if t.isalpha() and len(t) >= MIN_SEARCH]
            if not words:  # short words and digits only ("x1"): search for the term as written
                words = [term.strip().casefold()]
            found.update(dict.fromkeys(words))
    return list(found)


@dataclass
class SweepResult:
    hub_requests: int = 0
    repos_read: int = 0
    new_hit_ids: list[int] = field(default_factory=list)
    reopened_hit_ids: list[int] = field(default_factory=list)
    finished: list[tuple[str, str]] = field(default_factory=list)  # (search, repo type) read to the end
    complete: bool = False  # every search read to the end in this run
    error: str | None = None


Progress = Callable[[str, str, int, bool], None]  # (search, repo type, repos read so far, finished)


def sweep(
    scanner: Scanner, *, budget: int | None = None, restart: bool = False, progress: Progress | None = None
) -> SweepResult:
    """Read search results page by page, saving the position after each page, until every search
    is read to the end or `budget` Hub requests are spent. A later call resumes where this one
    stopped; a search read to the end starts again from the newest next time."""
    cfg, store, source = scanner.cfg, scanner.store, scanner.source
    result = SweepResult()
    scanner.refresh_matcher()  # suppressions added since the last scan apply
    started = source.requests
    pairs = [(s, t) for s in search_strings(cfg.watches) for t in cfg.hub.repo_types]
    # Least recently advanced first, so a budget-limited periodic sweep rotates through all of them.
    pairs.sort(key=lambda p: (store.sweep_state(*p) or {}).get("updated_at") or "")
    done = 0
    for search, repo_type in pairs:
        state = store.sweep_state(search, repo_type) or {}
        start_url = None if restart else state.get("next_url")
        read = 0
        fields = scanner.required_fields(repo_type)
        try:
            for page, next_url in source.search_pages(repo_type, search, fields, start_url):  # type: ignore[arg-type]
                recorded = scanner.record(page, None)
                result.new_hit_ids.extend(recorded.new)
                result.reopened_hit_ids.extend(recorded.reopened)
                read += len(page)
                result.repos_read += len(page)
                store.save_sweep(
                    search, repo_type, next_url=next_url, done=next_url is None, repos_read=len(page)
                )
                if progress:
                    progress(search, repo_type, read, next_url is None)
                if next_url is None:
                    done += 1
                    result.finished.append((search, repo_type))
                    break
                over_budget = budget is not None and source.requests - started >= budget
                if over_budget or scanner.stop.is_set():
                    result.hub_requests = source.requests - started
                    return result
        except HubError as err:
            result.error = f"search {search!r} in {repo_type}s: {err}"
            log.warning("sweep.failed", search=search, repo_type=repo_type, error=str(err))
            break
        if budget is not None and source.requests - started >= budget:
            break
    result.hub_requests = source.requests - started
    result.complete = done == len(pairs)
    log.info(
        "sweep.done",
        hub_requests=result.hub_requests,
        repos_read=result.repos_read,
        new_hits=len(result.new_hit_ids),
        complete=result.complete,
    )
    return result
