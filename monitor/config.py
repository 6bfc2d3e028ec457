"""Configuration: TOML -> validated, frozen objects. (Loader is being written; WatchConfig is final.)"""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class WatchConfig:
    name: str
    terms: tuple[str, ...]
    patterns: tuple[str, ...] = ()
    fuzzy: bool = True
    ignore_authors: tuple[str, ...] = ()
    severity: str = "high"
    notify: tuple[str, ...] | None = None  # None: every notifier
