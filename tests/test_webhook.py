"""The webhook notifier: Standard Webhooks v1 signatures, private-target guard, no redirects."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest
import requests
import responses

from monitor.config import Secret
from monitor.errors import DeliveryError
from monitor.notifiers import available, notifier_class
from monitor.notifiers.base import redact_url
from monitor.notifiers.webhook import WebhookNotifier
from monitor.records import Alert
from tests.conftest import SECRET

ALERT = Alert(
    event="hit.created",
    delivery_id="msg_0123456789abcdef",
    timestamp=datetime(2024, 11, 26, 13, 9, 54, tzinfo=UTC),
    data={
        "id": 17,
        "watch": "sora",
        "severity": "critical",
        "repo_type": "space",
        "repo_id": "PR-Puppets/PR-Puppet-Sora",
        "url": "https://huggingface.co/spaces/PR-Puppets/PR-Puppet-Sora",
        "author": "PR-Puppets",
        "created_at": "2024-11-26T13:09:54Z",
        "matches": [
            {"rule": "term", "field": "repo_id", "term": "sora", "text": "PR-Puppet-Sora", "score": 1.0}
        ],
    },
)


def make(url: str, allow_private: bool = False) -> WebhookNotifier:
    return WebhookNotifier(
        "security",
        MappingProxyType(
            {"url": url, "secret": Secret(SECRET), "allow_private": allow_private, "timeout": 5.0}
        ),
    )


def own_signature(headers: dict[str, str], body: bytes) -> str:
    """The test's own Standard Webhooks computation, independent of leakmon's code."""
    key = base64.b64decode(SECRET.split("_", 1)[1])
    signed = headers["webhook-id"].encode() + b"." + headers["webhook-timestamp"].encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def test_builtins_register_through_entry_points() -> None:
    assert {"webhook", "stdout"} <= set(available())
    assert notifier_class("webhook") is WebhookNotifier


def test_signed_body_matches_interface(receiver: Any) -> None:
    notifier = make(receiver.url, allow_private=True)
    notifier.send(ALERT)
    notifier.send(ALERT)  # a retry: same id, same body
    first, second = receiver.deliveries
    for d in (first, second):
        assert d.status == 204
        assert d.headers["content-type"] == "application/json"
        assert d.headers["webhook-id"] == "msg_0123456789abcdef"
        assert abs(int(d.headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 60
        assert d.headers["webhook-signature"] == own_signature(d.headers, d.body)
    assert first.body == second.body
    body = json.loads(first.body)
    assert body == {"type": "hit.created", "timestamp": "2024-11-26T13:09:54Z", "data": dict(ALERT.data)}


def test_loopback_refused_unless_allowed(receiver: Any) -> None:
    with pytest.raises(DeliveryError) as err:
        make(receiver.url).send(ALERT)
    assert not err.value.recoverable
    assert "private address 127.0.0.1" in str(err.value)
    assert receiver.deliveries == []


def test_name_resolving_to_private_address_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(DeliveryError, match=r"169\.254\.169\.254"):
        make("https://innocent.example.com/hook").send(ALERT)


@pytest.fixture
def public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)


URL = "https://hooks.example.com/services/T0/B0/secret-token"


@pytest.mark.usefixtures("public_dns")
@responses.activate
@pytest.mark.parametrize(
    ("status", "recoverable"),
    [
        (500, True),
        (502, True),
        (503, True),
        (429, True),
        (408, True),
        (400, False),
        (401, False),
        (404, False),
        (410, False),
        (301, False),
        (307, False),
    ],
)
def test_status_classification(status: int, recoverable: bool) -> None:
    headers = {"Location": "https://elsewhere.example/"} if 300 <= status < 400 else {}
    responses.post(URL, status=status, headers=headers)
    responses.post("https://elsewhere.example/", status=200)
    with pytest.raises(DeliveryError) as err:
        make(URL).send(ALERT)
    assert err.value.recoverable is recoverable
    assert err.value.status == status
    assert len(responses.calls) == 1  # a redirect is never followed
    assert "secret-token" not in str(err.value)


@pytest.mark.usefixtures("public_dns")
@responses.activate
def test_retry_after_is_read() -> None:
    responses.post(URL, status=429, headers={"Retry-After": "17"})
    with pytest.raises(DeliveryError) as err:
        make(URL).send(ALERT)
    assert err.value.retry_after == 17


@pytest.mark.usefixtures("public_dns")
@responses.activate
def test_connection_error_hides_url() -> None:
    responses.post(URL, body=requests.ConnectionError(f"cannot connect to {URL}"))
    with pytest.raises(DeliveryError) as err:
        make(URL).send(ALERT)
    assert err.value.recoverable
    assert "secret-token" not in str(err.value)


def test_redact_url() -> None:
    assert redact_url(URL) == "https://hooks.example.com/***"
    assert redact_url("http://127.0.0.1:8080/x?token=1") == "http://127.0.0.1:8080/***"


HOSTILE = (
    "<!channel> @everyone <http://x|y> \x1b[2J\x1b]8;;http://evil\x07 \r\nBcc: a@b \u2028\x85" + "x" * 100_000
)


def test_hostile_text_is_escaped_in_webhook_and_stdout(
    receiver: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitor.notifiers.stdout import StdoutNotifier

    data = {
        **ALERT.data,
        "matches": [{"rule": "term", "field": "title", "term": "sora", "text": HOSTILE, "score": 1.0}],
    }
    alert = Alert("hit.created", "msg_hostile", ALERT.timestamp, data)
    make(receiver.url, allow_private=True).send(alert)
    (delivery,) = receiver.deliveries
    assert delivery.body.isascii()
    assert not any(ch < 0x20 for ch in delivery.body)  # no raw control bytes, CR or LF
    assert delivery.json["data"]["matches"][0]["text"] == HOSTILE  # intact for the receiver to render

    StdoutNotifier("console", {}).send(alert)
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and line.isascii() and "\x1b" not in line and "\r" not in line
    assert json.loads(line)["data"]["matches"][0]["text"] == HOSTILE


def test_hostile_reopened_alert_is_escaped_in_webhook_and_stdout(
    receiver: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitor.notifiers.stdout import StdoutNotifier

    data = {**ALERT.data, "repo_id": "evil/" + HOSTILE, "reopened": True, "previous_removed_at": HOSTILE}
    alert = Alert("hit.reopened", "msg_hostile_reopened", ALERT.timestamp, data)
    make(receiver.url, allow_private=True).send(alert)
    (delivery,) = receiver.deliveries
    assert delivery.verified and delivery.body.isascii() and not any(ch < 0x20 for ch in delivery.body)
    body = delivery.json
    assert body["type"] == "hit.reopened" and set(body) == {"type", "timestamp", "data"}
    assert body["data"]["reopened"] is True and body["data"]["previous_removed_at"] == HOSTILE

    StdoutNotifier("console", {}).send(alert)
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and line.isascii() and "\x1b" not in line and "\r" not in line
    assert json.loads(line)["data"]["repo_id"] == "evil/" + HOSTILE
