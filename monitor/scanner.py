"""One poll cycle: Hub source -> matcher -> store (hits + outbox) -> relay. `scan` and `run` both call it."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from monitor import content
from monitor.config import Config
from monitor.dispatch import DeliveryStats, Relay
from monitor.errors import HubError
from monitor.fingerprint import EVIDENCE_NEEDS, Evidence
from monitor.hub import HubSource
from monitor.matcher import Matcher
from monitor.records import Match, Repo, Suppression, repo_url, severity_for
from monitor.store import NewHit, NewProbe, Recorded, Store, utcnow

log = structlog.get_logger("leakmon.scan")


class Interrupted(Exception):
    """A scan step was cut short on request (SIGTERM); what was not read stays unread."""


# Re-read this much before a type's cursor: the Hub's listing is eventually consistent, and a repo
# can show up a little after newer ones. Hits are unique per (watch, type, repo), so no double alerts.
OVERLAP = timedelta(minutes=10)
# A createdAt this far in the future is not trusted to move a cursor (it would skip real repos).
MAX_CLOCK_SKEW = timedelta(hours=1)
# How long a one-shot scan keeps retrying deliveries before leaving them to the next scan.
DELIVERY_WAIT = 45.0


@dataclass
class ScanResult:
    scan_id: int
    outcome: str  # "ok" | "failed" | "interrupted" (stopped by a signal: nothing unread marked read)
    repos_read: int = 0
    hub_requests: int = 0
    new_hit_ids: list[int] = field(default_factory=list)
    reopened_hit_ids: list[int] = field(default_factory=list)  # removed hits whose repo came back
    errors: list[str] = field(default_factory=list)
    delivery: DeliveryStats = field(default_factory=DeliveryStats)
    outbox_pending: int = 0
    content: content.ContentResult | None = None  # the content tier's run (None: it did not run)

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class Scanner:
    """Holds what a cycle needs; `run_once` is one scan."""

    def __init__(
        self,
        cfg: Config,
        store: Store,
        source: HubSource,
        relay: Relay,
        *,
        matcher: Matcher | None = None,
        overlap: timedelta = OVERLAP,
        delivery_wait: float = DELIVERY_WAIT,
        stop: threading.Event | None = None,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.source = source
        self.relay = relay
        # The config's allowlist plus the database's suppressions, re-read before each scan and
        # sweep (`refresh_matcher`), so `leakmon suppress` takes effect without a restart.
        self._fixed_matcher = matcher is not None
        self._suppressions: tuple[Suppression, ...] = ()
        self.matcher = matcher or self._build_matcher()
        self.evidence = Evidence(cfg.watches)
        # [content] max_requests = 0 turns the content tier off: nothing is queued for it.
        self.probing = cfg.content.max_requests > 0
        self.overlap = overlap
        self.delivery_wait = delivery_wait
        self._watches = {w.name: w for w in cfg.watches}
        # Set by the daemon on SIGTERM: the scan ends after the page in progress.
        self.stop = stop or threading.Event()

    def required_fields(self, repo_type: str) -> tuple[str, ...]:
        """Listing `expand` fields: the matcher's, plus what the cheap evidence tier reads."""
        fields = self.matcher.required_fields.get(repo_type, ())
        return (*fields, *(f for f in self.evidence.required_fields(repo_type) if f not in fields))

    def _build_matcher(self) -> Matcher:
        self._suppressions = self.store.suppression_records()
        return Matcher(self.cfg.watches, (*self.cfg.allowlist, *self._suppressions))

    def refresh_matcher(self) -> None:
        """Rebuild the matcher if the database's suppressions changed since it was built."""
        if not self._fixed_matcher and self.store.suppression_records() != self._suppressions:
            self.matcher = self._build_matcher()
            log.info("matcher.reloaded", suppressions=len(self._suppressions))

    def notifier_names(self, watch_name: str, severity: str) -> list[str]:
        """The notifiers that take alerts of this watch at this severity."""
        watch = self._watches.get(watch_name)
        candidates = self.cfg.notifiers_for(watch) if watch else self.cfg.notifiers
        return [n.name for n in candidates if n.accepts(severity)]

    def hits_for(self, repo: Repo, matches: list[Match]) -> list[NewHit]:
        """One hit per watch among `matches`, its severity from the evidence, its notifiers by that."""
        by_watch: dict[str, list[Match]] = defaultdict(list)
        for m in matches:
            by_watch[m.watch].append(m)
        hits = []
        for name, found in by_watch.items():
            watch = self._watches[name]
            severity = severity_for(watch.severity, (m.rule for m in found))
            notifiers = self.notifier_names(name, severity)
            hits.append(
                NewHit(
                    watch=name,
                    severity=severity,
                    repo=repo,
                    url=repo_url(self.cfg.hub.endpoint, repo.repo_type, repo.repo_id),
                    matches=found,
                    notifiers=notifiers,
                )
            )
        return hits

    def _scan_type(self, repo_type: str, scan_id: int, now: datetime, result: ScanResult) -> None:
        cursor = self.store.get_cursor(repo_type)
        since = cursor - self.overlap if cursor else now - timedelta(seconds=self.cfg.hub.lookback)
        newest = cursor
        fields = self.required_fields(repo_type)
        for page in self.source.iter_new(repo_type, since, fields):  # type: ignore[arg-type]
            for repo in page:
                if repo.created_at <= now + MAX_CLOCK_SKEW and (newest is None or repo.created_at > newest):
                    newest = repo.created_at
            # Hits of a page are recorded before the next page is read: found is found, even if a
            # later page fails. Each hit and its outbox rows share one transaction.
            recorded = self.record(page, scan_id, now)
            result.new_hit_ids.extend(recorded.new)
            result.reopened_hit_ids.extend(recorded.reopened)
            result.repos_read += len(page)
            if self.stop.is_set():
                raise Interrupted(f"{repo_type}s: stopped before the last page")
        # Only now, with every page read and every hit recorded, may the cursor move.
        if newest is not None and newest != cursor:
            self.store.set_cursor(repo_type, newest, scan_id, now=now)

    def record(self, repos: list[Repo], scan_id: int | None, now: datetime | None = None) -> Recorded:
        """Match repos and record their hits with the outbox rows and the content tier's probes
        (one transaction): the ids of new hits, and of removed hits reopened because their repo is
        back (a re-upload)."""
        hits: list[NewHit] = []
        probes: list[NewProbe] = []
        for repo in repos:
            matches = self.matcher.match_repo(repo)
            if self.evidence.active:
                assessed = self.evidence.assess(repo)
                if assessed.matches or assessed.needs:
                    silenced = self.matcher.silenced(repo)
                    matches += [m for m in assessed.matches if m.watch not in silenced]
                    if assessed.needs and self.probing and not self._all_silenced(silenced):
                        probes.append(NewProbe(repo, "candidate", assessed.needs))
            if matches:
                hits.extend(self.hits_for(repo, matches))
                if self.probing:
                    probes.append(NewProbe(repo, "evidence", EVIDENCE_NEEDS))
        recorded = self.store.record(scan_id, hits, now=now, probes=probes)
        ids = recorded.new + recorded.reopened
        for hit in self.store.list_hits(ids=ids) if ids else []:
            log.info(
                "hit.reopened" if hit["id"] in recorded.reopened else "hit.new",
                hit_id=hit["id"],
                watch=hit["watch"],
                repo_type=hit["repo_type"],
                repo_id=hit["repo_id"],
                severity=hit["severity"],
            )
        return recorded

    def _all_silenced(self, silenced: frozenset[str]) -> bool:
        """Whether every watch with fingerprints or content strings is silenced for a repo."""
        return all(
            w.name in silenced for w in self.cfg.watches if w.fingerprints or w.content or w.content_patterns
        )

    def close(self) -> None:
        self.relay.close()
        self.source.close()
        self.store.close()

    def run_once(self, now: datetime | None = None) -> ScanResult:
        now = now or utcnow()
        scan_id = self.store.start_scan(now)
        result = ScanResult(scan_id=scan_id, outcome="ok")
        self.refresh_matcher()
        requests_before = self.source.requests
        bound = log.bind(scan_id=scan_id)
        for repo_type in self.cfg.hub.repo_types:
            if self.stop.is_set():
                result.outcome = "interrupted"
                result.errors.append(f"{repo_type}s: not read (stopping)")
                continue
            try:
                self._scan_type(repo_type, scan_id, now, result)
            except Interrupted as err:
                result.outcome = "interrupted"
                result.errors.append(str(err))
            except HubError as err:
                # This type's cursor stays where it was; the other types still get their turn.
                result.outcome = "failed"
                result.errors.append(f"{repo_type}s: {err}")
                bound.error("scan.type_failed", repo_type=repo_type, error=str(err))
        if self.probing and result.outcome == "ok" and not self.stop.is_set():
            # The Hub answered every listing: now the files of candidates and new hits, in budget.
            result.content = content.run(self, scan_id, now)
            result.new_hit_ids.extend(result.content.new_hit_ids)
            result.reopened_hit_ids.extend(result.content.reopened_hit_ids)
        result.hub_requests = self.source.requests - requests_before
        for notifier in self.cfg.notifiers:
            if notifier.digest_over is not None:
                self.store.assign_digest(scan_id, notifier.name, notifier.digest_over)
        result.delivery = self.relay.drain(0 if self.stop.is_set() else self.delivery_wait)
        result.outbox_pending = self.store.outbox_counts()["pending"]
        self.store.finish_scan(
            scan_id,
            outcome=result.outcome,
            repos_read=result.repos_read,
            hub_requests=result.hub_requests,
            new_hits=len(result.new_hit_ids),
            error="; ".join(result.errors) or None,
        )
        bound.info(
            "scan.done",
            outcome=result.outcome,
            repos_read=result.repos_read,
            hub_requests=result.hub_requests,
            new_hits=len(result.new_hit_ids),
            reopened=len(result.reopened_hit_ids),
            delivered=result.delivery.delivered,
            pending=result.outbox_pending,
        )
        return result


def open_scanner(cfg: Config, *, store: Store | None = None, **source_options: float) -> Scanner:
    """Wire a Scanner from config: the database, the Hub source, the notifiers and the relay."""
    from monitor.dispatch import build_notifiers

    store = store or Store.open(cfg.database.path)
    source = HubSource.from_config(cfg.hub, **source_options)
    relay = Relay(store, build_notifiers(cfg.notifiers))
    return Scanner(cfg, store, source, relay)
