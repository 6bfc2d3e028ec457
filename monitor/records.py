"""Plain records that travel along the data path: Hub source -> matcher -> store -> notifiers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

RepoType = Literal["model", "dataset", "space"]
REPO_TYPES: tuple[RepoType, ...] = ("model", "dataset", "space")

# A hit's lifecycle (the allowed moves between them are `monitor.triage.TRANSITIONS`).
HIT_STATUSES: tuple[str, ...] = ("new", "acknowledged", "reported", "removed", "false_positive", "benign")
OPEN_STATUSES: tuple[str, ...] = ("new", "acknowledged", "reported")  # the hit still needs someone
SUPPRESSION_KINDS: tuple[str, ...] = ("repo", "owner", "pattern")

# URL prefix of each repo type on the Hub website (models have none).
URL_PREFIX: dict[str, str] = {"model": "", "dataset": "datasets/", "space": "spaces/"}


def repo_url(endpoint: str, repo_type: str, repo_id: str) -> str:
    return f"{endpoint.rstrip('/')}/{URL_PREFIX[repo_type]}{repo_id}"


class Repo(NamedTuple):
    """One repo as a Hub listing describes it. Immutable.

    A NamedTuple, not a frozen dataclass: one is built for every repo a scan or sweep reads, and a
    frozen dataclass costs four times as much to build (a quarter of the matcher's time per name).
    `raw` keeps the listing's fields (only those leakmon asked for with `expand`) as evidence.
    """

    repo_type: RepoType
    repo_id: str
    created_at: datetime
    author: str = ""
    title: str | None = None
    tags: tuple[str, ...] = ()
    base_models: tuple[str, ...] = ()  # declared base models (baseModels, a card's base_model)
    linked_models: tuple[str, ...] = ()  # models a Space uses
    raw: Mapping[str, Any] = MappingProxyType({})

    @property
    def owner(self) -> str:
        return self.repo_id.split("/", 1)[0] if "/" in self.repo_id else ""

    @property
    def name(self) -> str:
        return self.repo_id.split("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class Match:
    """Why a repo matched a watch: one piece of evidence.

    Name rules ("term", "fuzzy", "pattern", "owner") read the listing's names and titles; evidence
    rules read what a repo holds: "fingerprint" (metadata: GGUF, safetensors, config), "sha256" (a
    known file's LFS oid) and "content" (a watched string or pattern in a file). `file` and `line`
    say where in the repo, for the rules that read files.
    """

    watch: str
    rule: str  # "term" | "fuzzy" | "pattern" | "owner" | "fingerprint" | "sha256" | "content"
    field: str  # "repo_id" | "owner" | "title" | "tags" | "base_model" | "models" | "gguf" | ... | "file"
    term: str  # the watched term, pattern, fingerprint or string that matched
    text: str  # what the repo showed: the field's text, the metadata read, the line of the file
    score: float  # 1.0 exact; lower for fuzzy or within a tolerance
    file: str | None = None  # path in the repo, for evidence read from a file
    line: int | None = None  # 1-based line of `file`, for content matches

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "field": self.field,
            "term": self.term,
            "text": self.text,
            "score": self.score,
        }
        if self.file is not None:
            out["file"] = self.file
        if self.line is not None:
            out["line"] = self.line
        return out


SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
NAME_RULES = frozenset({"term", "fuzzy", "pattern", "owner"})
# Severity that evidence of what a repo holds carries by itself, whatever the watch says.
EVIDENCE_SEVERITY: dict[str, str] = {"sha256": "critical", "fingerprint": "high", "content": "high"}


def basis(rules: Iterable[str]) -> str:
    """The strongest kind of evidence among match rules: "sha256", "fingerprint", "content" or "name"."""
    found = set(rules)
    for rule in ("sha256", "fingerprint", "content"):
        if rule in found:
            return rule
    return "name"


def severity_for(configured: str, rules: Iterable[str]) -> str:
    """A hash match is critical, metadata fingerprints and content high, a name alone as configured.

    Evidence only ever raises: a watch configured critical stays critical whatever matched.
    """
    levels = [configured, *(EVIDENCE_SEVERITY[r] for r in set(rules) if r in EVIDENCE_SEVERITY)]
    return max(levels, key=SEVERITIES.index)


@dataclass(frozen=True, slots=True)
class Alert:
    """One message for one notifier, as the outbox relay hands it over.

    `event` is "hit.created", "hit.removed" (the repo disappeared from the Hub), "hit.reopened" (a
    removed hit's repo is back: a re-upload), "hit.digest" (several hits of one scan in one message)
    or "test" (`leakmon notify-test`).
    `delivery_id` is stable per message and notifier: the same on every retry, receivers dedupe on it.
    `data` is one hit as documented for the webhook body (for "hit.removed" also `removed_at`; for
    "hit.reopened" also `reopened: true` and `previous_removed_at`; for "test" a sample hit), or
    for "hit.digest" `{"count": n, "hits": [hit, ...]}`.
    Everything in `data` that came from the Hub is hostile: escape it for the channel.
    """

    event: str
    delivery_id: str
    timestamp: datetime
    data: Mapping[str, Any]

    @property
    def hits(self) -> list[Mapping[str, Any]]:
        """The hits this message carries: one, or a digest's."""
        return list(self.data["hits"]) if self.event == "hit.digest" else [self.data]


@dataclass(frozen=True, slots=True)
class Suppression:
    """Never alert on a repo, an owner, or repo ids matching a pattern; for one watch or all.

    `kind` is "repo" (value: owner/name), "owner" (value: owner) or "pattern" (a regex searched,
    case-insensitively, in the repo id owner/name). `watch` None means every watch.
    """

    kind: Literal["repo", "owner", "pattern"]
    value: str
    watch: str | None = None
