"""Signed webhooks, Standard Webhooks v1 (https://www.standardwebhooks.com/)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import requests

from monitor import __version__
from monitor.config import Option, positive
from monitor.notifiers.base import Notifier, check_target, literal_target_problem, post_json, redact_url
from monitor.records import Alert


def _secret_problem(value: str) -> str | None:
    try:
        decode_secret(value)
    except ValueError as err:
        return str(err)
    return None


def decode_secret(value: str) -> bytes:
    """`whsec_<base64>` -> the HMAC key bytes."""
    if not value.startswith("whsec_"):
        raise ValueError("must be a Standard Webhooks key: whsec_ followed by base64")
    try:
        key = base64.b64decode(value[len("whsec_") :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64 after whsec_") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("must decode to 24-64 bytes (generate 32 random bytes)")
    return key


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def body_for(alert: Alert) -> bytes:
    """The webhook body. Deterministic for an alert, so every retry sends the same bytes."""
    envelope = {
        "type": alert.event,
        "timestamp": alert.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": dict(alert.data),
    }
    # ASCII only: control characters and look-alike Unicode from Hub data travel as \u escapes.
    return json.dumps(envelope, ensure_ascii=True, separators=(",", ":")).encode()


class WebhookNotifier(Notifier):
    type: ClassVar[str] = "webhook"
    options: ClassVar[Mapping[str, Option]] = {
        "url": Option("url", required=True, file_ok=True),
        "secret": Option("secret", required=True, file_ok=True, check=_secret_problem),
        "allow_private": Option("bool", default=False),
        "timeout": Option("float", default=10.0, check=positive),
    }

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> tuple[str, str] | None:
        problem = literal_target_problem(options["url"], options["allow_private"])
        return ("url", problem) if problem else None

    @classmethod
    def redact(cls, key: str, value: Any) -> Any:
        return redact_url(value) if key == "url" else value

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        super().__init__(name, options)
        self._key = decode_secret(options["secret"].reveal())
        self._session = requests.Session()
        self._session.trust_env = False  # a proxy from the environment must not see signed alerts

    def send(self, alert: Alert) -> None:
        url = self.config["url"]
        check_target(url, self.config["allow_private"])
        body = body_for(alert)
        ts = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": f"leakmon/{__version__}",
            "webhook-id": alert.delivery_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(self._key, alert.delivery_id, ts, body),
        }
        post_json(self._session, url, body, headers, self.config["timeout"])

    def close(self) -> None:
        self._session.close()
