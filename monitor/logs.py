"""structlog set-up: JSON off a terminal (journald, pipes), readable on one; secrets redacted."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

_secrets: set[str] = set()


def register_secrets(values: Iterable[str]) -> None:
    """Values that must never appear in a log line (tokens, webhook URLs, signing keys)."""
    _secrets.update(v for v in values if v and len(v) >= 6)


def redact(value: Any) -> Any:
    if isinstance(value, str):
        for secret in _secrets:
            if secret in value:
                value = value.replace(secret, "***")
        return value
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    return value


def _redact_processor(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return {k: redact(v) for k, v in event.items()}


def configure(*, level: str = "warning", json: bool | None = None, stream: TextIO | None = None) -> None:
    """Configure structlog once per process. `json=None` picks JSON when `stream` is not a terminal."""
    stream = stream or sys.stderr
    if json is None:
        json = not stream.isatty()
    renderer: Any
    if json:
        # No locals in tracebacks: a webhook URL or token in a local variable would land in the log.
        renderer = structlog.processors.JSONRenderer()
        exc = structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        )
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=stream.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
        exc = None
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if exc is not None:
        processors.append(exc)
    processors += [_redact_processor, renderer]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
