"""The notifier interface that built-ins and plugins share, and the guards every HTTP notifier uses."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from monitor.config import Option
from monitor.errors import DeliveryError
from monitor.records import Alert

# Cloud metadata services answer on these even when they look public to ipaddress.
_METADATA = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
    ipaddress.ip_address("100.100.100.200"),
}
# 4xx status codes worth retrying; every 5xx is too, every other non-2xx is permanent.
RETRYABLE_STATUS = frozenset({408, 425, 429})  # and every 5xx


class Notifier:
    """Base class of every notifier.

    A subclass declares `type` and `options` (its config keys beyond `name` and `type`), and
    implements `send`, raising DeliveryError(recoverable=...) when the alert did not arrive.
    Retries, backoff and dead-lettering belong to the relay, never to a notifier.
    """

    type: ClassVar[str] = ""
    options: ClassVar[Mapping[str, Option]] = {}

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.config = options

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> tuple[str, str] | None:
        """Cross-key checks after each key was validated alone: (key, problem) or None."""
        return None

    @classmethod
    def redact(cls, key: str, value: Any) -> Any:
        """How `leakmon check` and logs show an option. Secrets are already Secret objects."""
        return value

    def send(self, alert: Alert) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; called once when the relay is done."""


def redact_url(url: str) -> str:
    """Show where a URL points without its credentials (Slack and Discord keep them in the path)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    return f"{parts.scheme}://{host}{port}/***"


def is_private_address(addr: str) -> bool:
    ip = ipaddress.ip_address(addr.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (
        ip in _METADATA
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


def literal_target_problem(url: str, allow_private: bool) -> str | None:
    """Config-time check: a URL whose host is a private literal address or localhost."""
    if allow_private:
        return None
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return "points at localhost; set allow_private = true if that is intended"
    try:
        private = is_private_address(host)
    except ValueError:
        return None  # a name: resolved and checked again at send time
    if private:
        return f"points at the private address {host}; set allow_private = true if that is intended"
    return None


def check_target(url: str, allow_private: bool) -> None:
    """Send-time check: refuse targets that resolve to loopback, private, link-local or metadata."""
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as err:
        raise DeliveryError(f"cannot resolve {host}: {err}", recoverable=True) from None
    for info in infos:
        addr = str(info[4][0])
        if is_private_address(addr):
            raise DeliveryError(
                f"{host} resolves to the private address {addr}; refused (allow_private = false)",
                recoverable=False,
            )


def post(
    session: requests.Session, url: str, body: bytes, headers: Mapping[str, str], timeout: float
) -> requests.Response:
    """POST without following redirects; transport failures become recoverable DeliveryErrors."""
    try:
        return session.post(url, data=body, headers=dict(headers), timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        raise DeliveryError(f"timed out after {timeout:g} s", recoverable=True) from None
    except requests.RequestException as err:
        # The exception text can hold the full URL, and the URL can be the credential.
        raise DeliveryError(f"connection failed ({type(err).__name__})", recoverable=True) from None


def raise_for_status(
    response: requests.Response, *, service: str = "", detail: str = "", retry_after: float | None = None
) -> None:
    """2xx passes; a redirect (never followed) and 4xx are permanent; 408, 425, 429 and 5xx are
    recoverable, after `retry_after` (default: the Retry-After header)."""
    status = response.status_code
    if 200 <= status < 300:
        return
    message = (f"{service} answered HTTP {status}" if service else f"HTTP {status}") + (
        f": {detail}" if detail else ""
    )
    if 300 <= status < 400:
        raise DeliveryError(f"{message} (redirect not followed)", recoverable=False, status=status)
    if retry_after is None:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
    raise DeliveryError(
        message,
        recoverable=status in RETRYABLE_STATUS or status >= 500,
        retry_after=retry_after,
        status=status,
    )


def post_json(
    session: requests.Session, url: str, body: bytes, headers: Mapping[str, str], timeout: float
) -> requests.Response:
    """POST and classify the answer (see `raise_for_status`): what plugins need in one call."""
    response = post(session, url, body, headers, timeout)
    raise_for_status(response)
    return response


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    import time

    return max(0.0, when.timestamp() - time.time())
