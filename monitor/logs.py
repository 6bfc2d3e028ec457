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
    """Configure structlog once per process. `json=None` picks JSON when `stream` is not a terminal.

    Adopted stdlib loggers (huggingface_hub's retry warnings) go through the same renderer and
    redaction, at the same level.
    """
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
    shared: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    tail: list[Any] = ([exc] if exc is not None else []) + [_redact_processor, renderer]
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *shared, *tail],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
        )
    )
    _bridge.update(handler=handler, level=getattr(logging, level.upper()))
    for name in _adopted:
        _apply(name)


# Stdlib loggers of libraries (huggingface_hub) rendered like our own lines, at our level.
_adopted: set[str] = set()
_bridge: dict[str, Any] = {}


def adopt(name: str) -> None:
    """Route a library's stdlib logger through our renderer; call after importing the library,
    which may install its own handler at import time."""
    _adopted.add(name)
    if _bridge:
        _apply(name)


def _apply(name: str) -> None:
    logger = logging.getLogger(name)
    logger.handlers = [_bridge["handler"]]
    logger.propagate = False
    logger.setLevel(_bridge["level"])
