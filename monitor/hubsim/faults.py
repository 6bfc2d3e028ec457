"""Fault injection and the fixed-window rate limiter.

Rules are matched in the order they were added. Every matching `latency` rule adds its delay; then the
first matching "terminal" rule (status, rate_limit, malformed, reset) decides the answer. A rule is
consumed (its `times` decremented) only when it is applied.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["status", "rate_limit", "latency", "malformed", "reset"]


@dataclass(eq=False)
class FaultRule:
    """A handle on one injected fault. `times=None` means forever; `hits` counts applications."""

    kind: FaultKind
    path: re.Pattern[str] | None = None
    method: str | None = None
    page: int | None = None
    times: int | None = 1
    status: int = 500
    reset: int = 0
    seconds: float = 0.0
    hits: int = 0
    _owner: FaultSet | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        return self.times is None or self.hits < self.times

    def matches(self, method: str, path: str, page: int) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path is not None and not self.path.search(path):
            return False
        return self.page is None or self.page == page

    def remove(self) -> None:
        if self._owner is not None:
            self._owner.remove(self)


class FaultSet:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        rule._owner = self
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        with self._lock:
            if rule in self._rules:
                self._rules.remove(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def take(self, method: str, path: str, page: int) -> tuple[float, FaultRule | None]:
        """Apply the rules matching one request: (total added latency, terminal rule or None)."""
        delay = 0.0
        terminal: FaultRule | None = None
        with self._lock:
            for rule in self._rules:
                if not rule.active or not rule.matches(method, path, page):
                    continue
                if rule.kind == "latency":
                    delay += rule.seconds
                    rule.hits += 1
                elif terminal is None:
                    terminal = rule
                    rule.hits += 1
            self._rules = [r for r in self._rules if r.active]
        return delay, terminal


class FixedWindow:
    """A fixed-window request counter, like the Hub's per-IP buckets (one per simulator)."""

    def __init__(
        self, name: str, quota: int, window: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self._clock = clock
        self._lock = threading.Lock()
        self.configure(quota, window)

    def configure(self, quota: int, window: int) -> None:
        if quota < 0 or window <= 0:
            raise ValueError("quota must be >= 0 and window > 0")
        with self._lock:
            self.quota = quota
            self.window = window
            self._start = self._clock()
            self._count = 0

    def hit(self) -> tuple[bool, int, int]:
        """Count one request: (allowed, remaining, seconds to reset)."""
        with self._lock:
            now = self._clock()
            elapsed = now - self._start
            if elapsed >= self.window:  # move to the window holding `now`
                self._start += (elapsed // self.window) * self.window
                self._count = 0
            self._count += 1
            reset = max(0, math.ceil(self._start + self.window - now))
            return self._count <= self.quota, max(0, self.quota - self._count), reset

    def headers(self, remaining: int, reset: int) -> dict[str, str]:
        return {
            "RateLimit": f'"{self.name}";r={remaining};t={reset}',
            "RateLimit-Policy": f'"fixed window";"{self.name}";q={self.quota};w={self.window}',
        }
