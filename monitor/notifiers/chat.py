"""The common base of the HTTP chat notifiers (Slack, Discord, Teams).

The URL is the credential, so it is a secret, redacted to its host; posts never follow redirects;
statuses are classified for the relay (2xx ok; 408, 425, 429 and 5xx recoverable; the rest permanent).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import requests

from monitor import __version__
from monitor.config import Option, Secret, http_url_problem, positive
from monitor.notifiers.base import (
    Notifier,
    check_target,
    literal_target_problem,
    parse_retry_after,
    post,
    raise_for_status,
    redact_url,
)
from monitor.notifiers.format import json_body
from monitor.records import Alert


def _reveal(value: Any) -> str:
    return value.reveal() if isinstance(value, Secret) else str(value)


CHAT_OPTIONS: Mapping[str, Option] = {
    # The URL is the credential (Slack, Discord and Teams keep it in the path or query).
    "url": Option("secret", required=True, file_ok=True, check=http_url_problem),
    "allow_private": Option("bool", default=False),
    "timeout": Option("float", default=10.0, check=positive),
}


class ChatNotifier(Notifier):
    """A JSON POST to a secret webhook URL; subclasses build the payload and may read error details.

    `min_interval` (seconds) is the least time between two posts of one notifier: the relay honours
    it, and `send` enforces it too (sleeping), so it holds even when called directly.
    """

    options: ClassVar[Mapping[str, Option]] = CHAT_OPTIONS
    min_interval: ClassVar[float] = 0.0
    service: ClassVar[str] = ""

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> tuple[str, str] | None:
        problem = literal_target_problem(_reveal(options["url"]), options["allow_private"])
        return ("url", problem) if problem else None

    @classmethod
    def redact(cls, key: str, value: Any) -> Any:
        return redact_url(_reveal(value)) if key == "url" and value is not None else value

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        super().__init__(name, options)
        self._session = requests.Session()
        self._session.trust_env = False  # an environment proxy must not see the credential URL
        self._lock = threading.Lock()
        self._last: float | None = None

    # Subclasses implement `payload`; `target` may adjust the URL (Discord adds `wait=true`).
    def payload(self, alert: Alert) -> Any:
        raise NotImplementedError

    def target(self) -> str:
        return _reveal(self.config["url"])

    def send(self, alert: Alert) -> None:
        url = self.target()
        check_target(url, self.config["allow_private"])
        body = json_body(self.payload(alert))
        headers = {"content-type": "application/json; charset=utf-8", "user-agent": f"leakmon/{__version__}"}
        with self._lock:
            self._pace()
            response = post(self._session, url, body, headers, self.config["timeout"])
        self.check_response(response)

    def _pace(self) -> None:
        if self.min_interval > 0 and self._last is not None:
            wait = self._last + self.min_interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self._last = time.monotonic()

    def check_response(self, response: requests.Response) -> None:
        if not 200 <= response.status_code < 300:
            raise_for_status(
                response,
                service=self.service,
                detail=self.detail(response),
                retry_after=self.retry_after(response),
            )

    def retry_after(self, response: requests.Response) -> float | None:
        return parse_retry_after(response.headers.get("Retry-After"))

    def detail(self, response: requests.Response) -> str:
        """A short, safe description of the service's error (never the URL); "" if none."""
        return ""

    def close(self) -> None:
        self._session.close()


def error_code(text: str) -> str:
    """A service error code such as `channel_not_found`, or "" if the text is anything else."""
    text = text.strip()
    return text if re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", text) else ""
