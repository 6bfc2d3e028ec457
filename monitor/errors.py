"""Named exceptions. The library raises these; only the CLI turns them into one-line messages."""

from __future__ import annotations

import re

# C0/C1 controls, the Unicode line and paragraph separators, lone surrogates: none may reach a terminal.
_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def one_line(text: str) -> str:
    """`text` with every control character shown as an escape (`\\n`), so it stays one line."""
    return _BREAKING.sub(lambda m: repr(m.group())[1:-1], text)


class LeakmonError(Exception):
    """Base of every error leakmon raises on purpose."""

    exit_code = 2


class ConfigError(LeakmonError):
    """The configuration is invalid. The message starts with the offending key."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        # Keys and values come from the file: a quoted TOML key may hold a newline.
        super().__init__(f"{one_line(key)}: {one_line(problem)}" if key else one_line(problem))


class UsageError(LeakmonError):
    """A command was called with arguments that cannot work (unknown hit id, bad status...)."""


class UnknownHit(UsageError):
    """No hit has this id."""


class InvalidTransition(UsageError):
    """A hit cannot move from its status to the one asked for (see `monitor.triage.TRANSITIONS`)."""


class HubError(LeakmonError):
    """The Hub could not be read completely (after retries). Nothing unread was marked as read."""

    exit_code = 3


class RepoGone(HubError):
    """The repo is not on the Hub (deleted, made private, or never there): 404 RepoNotFound."""


class FileMissing(HubError):
    """The repo is there but the file is not: 404 EntryNotFound."""


class StoreError(LeakmonError):
    """The database cannot be opened or is not a leakmon database."""


class DeliveryError(LeakmonError):
    """A notifier failed to deliver.

    `recoverable` drives the relay: recoverable errors are retried with backoff, permanent ones
    dead-letter the outbox row at once. `retry_after` (seconds) is the service's own wish.
    """

    def __init__(
        self, message: str, *, recoverable: bool, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.recoverable = recoverable
        self.retry_after = retry_after
        self.status = status
