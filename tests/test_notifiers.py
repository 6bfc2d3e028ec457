"""Slack, Discord, Teams, email and Apprise notifiers, against real local receivers.

Every service gets: the documented message structure, hostile Hub text arriving escaped and
bounded, rate limits (recoverable with the service's wait), permanent errors, the private-target
guard, redaction of the credential, and digest/removed/test rendering.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import requests
import responses

from monitor import config
from monitor.config import Secret, read_options
from monitor.errors import ConfigError, DeliveryError
from monitor.notifiers import format as fmt
from monitor.notifiers.apprise_notifier import INSTALL, AppriseNotifier, MissingDependency
from monitor.notifiers.base import Notifier
from monitor.notifiers.discord import DiscordNotifier, with_wait
from monitor.notifiers.email import EmailNotifier
from monitor.notifiers.slack import SlackNotifier
from monitor.notifiers.teams import TeamsNotifier
from monitor.records import Alert
from tests.receivers import HttpReceiver, Reply, SmtpReceiver, self_signed, server_context

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning"),  # apprise on 3.11
]

WHEN = datetime(2024, 11, 26, 13, 9, 54, tzinfo=UTC)

HIT: dict[str, Any] = {
    "id": 17,
    "watch": "sora",
    "severity": "critical",
    "repo_type": "space",
    "repo_id": "PR-Puppets/PR-Puppet-Sora",
    "url": "https://huggingface.co/spaces/PR-Puppets/PR-Puppet-Sora",
    "author": "PR-Puppets",
    "created_at": "2024-11-26T13:09:54Z",
    "matches": [
        {"rule": "term", "field": "repo_id", "term": "sora", "text": "PR-Puppet-Sora", "score": 1.0},
        {"rule": "fuzzy", "field": "title", "term": "sora", "text": "Sora API access", "score": 0.9},
    ],
}

EVIL = (
    "<!channel> <@U123> <@&456> @everyone @here <http://evil.example|click> *bold* _it_ ~s~ `code` "
    "[x](http://evil.example) # head \x1b[2J\x1b]8;;http://evil.example\x07osc\x1b]8;;\x07 \u202edir "
    "\x00\x07\x85 \r\nBcc: evil@x.example\r\n"
)
MENTIONS = ("<!channel>", "<@U123>", "<@&456>", "@everyone", "@here", "<http://evil.example|click>")

HOSTILE_HIT: dict[str, Any] = {
    "id": 666,
    "watch": "sora",
    "severity": "critical",
    "repo_type": "model",
    "repo_id": "evil/" + EVIL,
    "url": "javascript:alert(1)",
    "author": EVIL,
    "created_at": "2024-11-26T13:09:54Z",
    "matches": [
        {"rule": "term", "field": "title", "term": "sora", "text": EVIL + "A" * 100_000, "score": 1.0},
        # Evidence read from a file: the path is Hub text too.
        {"rule": "content", "field": "file", "term": "x", "text": EVIL, "score": 1, "file": EVIL, "line": 3},
    ]
    * 3,
    "basis": EVIL,
}


def alert(event: str = "hit.created", data: dict[str, Any] | None = None) -> Alert:
    return Alert(event=event, delivery_id="msg_0123456789abcdef", timestamp=WHEN, data=data or HIT)


def digest(n: int, hit: dict[str, Any] = HIT) -> Alert:
    hits = [{**hit, "id": i, "repo_id": f"{hit['repo_id']}-{i}"} for i in range(n)]
    return alert("hit.digest", {"count": n, "hits": hits})


REMOVED = alert("hit.removed", {**HIT, "removed_at": "2024-11-27T08:00:00Z"})
REOPENED = alert("hit.reopened", {**HIT, "reopened": True, "previous_removed_at": "2024-11-27T08:00:00Z"})
TEST = alert("test")
# A re-upload's alert carries hostile text in its own field too.
HOSTILE_REOPENED = alert("hit.reopened", {**HOSTILE_HIT, "reopened": True, "previous_removed_at": EVIL * 50})


def build(cls: type[Notifier], tmp_path: Path | None = None, **raw: Any) -> Notifier:
    """Options through the real config path: schema, `_file` keys, Secret wrapping, validate()."""
    options = read_options("notifier[0]", raw, cls.options, tmp_path or Path("."))
    problem = cls.validate(options)
    if problem:
        raise ConfigError(f"notifier[0].{problem[0]}", problem[1])
    return cls("n", MappingProxyType(options))


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # \n is ours


def assert_defused(texts: Iterator[str] | list[str], *, mentions: bool = True) -> None:
    for text in texts:
        assert not _CONTROLS.search(text), repr(text[:200])
        assert "[2J" not in text and "8;;" not in text, "an ANSI sequence survived"
        assert "A" * (fmt.MAX_FIELD + 1) not in text, "a Hub value was not bounded"
        if mentions:
            for token in MENTIONS:
                assert token not in text, f"{token} arrived raw in {text[:200]!r}"


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    with HttpReceiver() as receiver:
        yield receiver


@pytest.fixture
def loopback_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)


@pytest.fixture
def public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)


# --- format ----------------------------------------------------------------------------------------


def test_clean_strips_controls_escapes_and_breaks() -> None:
    assert fmt.clean("a\x1b[31mred\x1b[0m\r\nb\tc\x00\x9b2Jd\u202e") == "ared b cd"
    assert fmt.clean("x" * 500, 10) == "x" * 9 + "…"
    assert fmt.clean(None) == ""
    assert fmt.clean("\ud800ok") == "?ok"


def test_fit_never_cuts_an_escape() -> None:
    out = fmt.fit("&" * 50, lambda t: t.replace("&", "&amp;"), 23)
    assert out == "&amp;" * 4 + "…"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://huggingface.co/spaces/a/b", "https://huggingface.co/spaces/a/b"),
        ("https://hf.co/a/b|c>d (e) `f`", "https://hf.co/a/b%7Cc%3Ed%20%28e%29%20%60f%60"),
        ("https://hf.co/@everyone", "https://hf.co/%40everyone"),
        ("javascript:alert(1)", ""),
        ("https://user:pw@evil.example/", ""),
        ("https://hf.co:99999/", ""),
        ("https://hf.co/a\ud800b", ""),  # a lone surrogate (from a JSON escape): no crash, no link
        ("https://hf.co/" + "\x9b" * 400, ""),  # 417 characters, 2,414 once percent-encoded: too long
        ("https://hf.co/" + "é" * 300, "https://hf.co/" + "%C3%A9" * 300),  # 1,814 once encoded: fine
    ],
)
def test_safe_url(url: str, expected: str) -> None:
    assert fmt.safe_url(url) == expected


def test_digest_view_is_bounded() -> None:
    v = fmt.view(digest(45))
    assert len(v.hits) == fmt.MAX_LISTED and v.count == 45 and v.more == 25
    assert fmt.more_line(v) == "and 25 more"
    lines = fmt.summary_lines(v)
    assert lines[0] == "CRITICAL 45 hits: sora"
    assert lines[-1] == "and 25 more"


# --- Slack -----------------------------------------------------------------------------------------


def slack(url: str, **extra: Any) -> SlackNotifier:
    notifier = build(SlackNotifier, url=url, allow_private=True, timeout=5, **extra)
    assert isinstance(notifier, SlackNotifier)
    return notifier


def test_slack_block_kit(hook: HttpReceiver) -> None:
    slack(hook.url + "/services/T0/B0/XXX").send(alert())
    req = hook.last
    assert req.path == "/services/T0/B0/XXX"
    assert req.headers["content-type"].startswith("application/json")
    body = req.json
    assert body["text"].startswith("CRITICAL `sora`: `space` `PR-Puppets/PR-Puppet-Sora`")
    assert body["unfurl_links"] is False
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["section", "context", "section", "section", "actions"]
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in body["blocks"][2]["fields"]}
    assert fields["*Severity*"] == "CRITICAL"
    assert fields["*Repo*"] == "`PR-Puppets/PR-Puppet-Sora`"
    assert fields["*Watch*"] == "`sora`"
    assert "`term` match on `repo_id`: `PR-Puppet-Sora`" in body["blocks"][3]["text"]["text"]
    button = body["blocks"][4]["elements"][0]
    assert button["url"] == HIT["url"]


def test_slack_hostile_text_escaped_and_bounded(hook: HttpReceiver) -> None:
    notifier = slack(hook.url)
    notifier.min_interval = 0  # type: ignore[misc]  # pacing has its own test
    for a in (alert(data=HOSTILE_HIT), digest(60, HOSTILE_HIT), HOSTILE_REOPENED):
        notifier.send(a)
        body = hook.last.json
        assert_defused(list(strings(body)))
        assert len(hook.last.body) <= 40_000
        for block in body["blocks"]:
            if "text" in block:
                assert len(block["text"]["text"]) <= 3000
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
        text = json.dumps(body, ensure_ascii=False)
        assert "&lt;!channel&gt;" in text
        assert "&lt;http://evil.example|click&gt;" in text
        # mrkdwn in Hub text only ever appears inside code spans
        for section in [b["text"]["text"] for b in body["blocks"] if "text" in b]:
            outside = re.sub(r"`[^`]*`", "", section)
            assert "_it_" not in outside and "~s~" not in outside and "*bold*" not in outside
    assert "javascript" not in hook.requests[0].text  # no link to a non-http URL
    assert hook.requests[0].json["blocks"][-1]["type"] != "actions"


def test_slack_paces_one_message_a_second(hook: HttpReceiver) -> None:
    notifier = slack(hook.url)
    assert SlackNotifier.min_interval == 1.0
    start = time.monotonic()
    notifier.send(alert())
    notifier.send(alert())
    assert time.monotonic() - start >= 0.95
    assert len(hook.requests) == 2


@pytest.mark.parametrize(
    ("status", "body", "recoverable"),
    [
        (404, "channel_not_found", False),
        (410, "channel_is_archived", False),
        (404, "no_service", False),
        (403, "invalid_token", False),
        (400, "invalid_payload", False),
        (500, "rollup_error", True),
        (501, "", True),
        (503, "", True),
    ],
)
def test_slack_errors(hook: HttpReceiver, status: int, body: str, recoverable: bool) -> None:
    hook.script(Reply(status, body))
    with pytest.raises(DeliveryError) as err:
        slack(hook.url + "/services/T0/B0/SECRET").send(alert())
    assert err.value.recoverable is recoverable
    assert err.value.status == status
    assert body in str(err.value)
    assert "SECRET" not in str(err.value)


def test_slack_rate_limited(hook: HttpReceiver) -> None:
    hook.script(Reply(429, "rate_limited", {"Retry-After": "7"}))
    with pytest.raises(DeliveryError) as err:
        slack(hook.url).send(alert())
    assert err.value.recoverable and err.value.retry_after == 7


def test_slack_redirect_not_followed(hook: HttpReceiver) -> None:
    hook.script(Reply(302, "", {"Location": hook.url + "/elsewhere"}))
    with pytest.raises(DeliveryError) as err:
        slack(hook.url).send(alert())
    assert not err.value.recoverable
    assert len(hook.requests) == 1


# --- Discord ---------------------------------------------------------------------------------------


def discord(url: str) -> DiscordNotifier:
    notifier = build(DiscordNotifier, url=url, allow_private=True, timeout=5)
    assert isinstance(notifier, DiscordNotifier)
    return notifier


def test_discord_embed(hook: HttpReceiver) -> None:
    hook.script(Reply(200, {"id": "1", "type": 0}))
    discord(hook.url + "/api/webhooks/1/TOKEN?thread_id=42").send(alert())
    req = hook.last
    assert req.path == "/api/webhooks/1/TOKEN"
    assert req.query == {"thread_id": ["42"], "wait": ["true"]}
    body = req.json
    assert body["allowed_mentions"] == {"parse": []}
    assert "CRITICAL sora: space PR-Puppets/PR-Puppet-Sora" in body["content"]
    (embed,) = body["embeds"]
    assert embed["url"] == HIT["url"]
    assert embed["title"] == "CRITICAL sora: space PR-Puppets/PR-Puppet-Sora"
    assert embed["timestamp"] == "2024-11-26T13:09:54+00:00"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Severity"] == "CRITICAL" and fields["Watch"] == "sora"
    assert "term match on repo\\_id: PR-Puppet-Sora" in embed["description"]


def test_with_wait_keeps_the_query() -> None:
    assert with_wait("https://d.example/api/webhooks/1/t") == "https://d.example/api/webhooks/1/t?wait=true"
    assert with_wait("https://d.example/w?wait=false&thread_id=9").endswith("?thread_id=9&wait=true")


def test_discord_hostile_text_escaped_and_bounded(hook: HttpReceiver) -> None:
    notifier = discord(hook.url)
    for a in (alert(data=HOSTILE_HIT), digest(60, HOSTILE_HIT), HOSTILE_REOPENED):
        notifier.send(a)
        body = hook.last.json
        assert body["allowed_mentions"] == {"parse": []}
        assert_defused(list(strings(body)))
        (embed,) = body["embeds"]
        assert len(body["content"]) <= 2000
        assert len(embed["title"]) <= 256
        assert len(embed["description"]) <= 4096
        total = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
        total += sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
        assert total <= 6000
    first = json.dumps(hook.requests[0].json, ensure_ascii=False)
    assert "\\\\*bold\\\\*" in first and "\\\\[x\\\\]\\\\(" in first  # Markdown escaped
    assert "@\u200beveryone" in first
    assert "url" not in hook.requests[0].json["embeds"][0]  # javascript: is no link


@pytest.mark.parametrize(
    ("reply", "wait"),
    [
        (Reply(429, {"message": "You are being rate limited.", "retry_after": 1.5, "global": False}), 1.5),
        (Reply(429, "", {"Retry-After": "3"}), 3.0),
        (Reply(429, {"message": "slow down"}, {"X-RateLimit-Reset-After": "2.25"}), 2.25),
    ],
)
def test_discord_rate_limited(hook: HttpReceiver, reply: Reply, wait: float) -> None:
    hook.script(reply)
    with pytest.raises(DeliveryError) as err:
        discord(hook.url).send(alert())
    assert err.value.recoverable and err.value.retry_after == wait


@pytest.mark.parametrize(
    ("status", "recoverable"), [(404, False), (401, False), (400, False), (502, True), (500, True)]
)
def test_discord_errors(hook: HttpReceiver, status: int, recoverable: bool) -> None:
    hook.script(Reply(status, {"message": "Unknown Webhook", "code": 10015}))
    with pytest.raises(DeliveryError) as err:
        discord(hook.url + "/api/webhooks/1/TOKEN").send(alert())
    assert err.value.recoverable is recoverable
    assert "Unknown Webhook (code 10015)" in str(err.value)
    assert "TOKEN" not in str(err.value)


# --- Teams -----------------------------------------------------------------------------------------


def teams(url: str) -> TeamsNotifier:
    notifier = build(TeamsNotifier, url=url, allow_private=True, timeout=5)
    assert isinstance(notifier, TeamsNotifier)
    return notifier


def test_teams_adaptive_card(hook: HttpReceiver) -> None:
    hook.script(Reply(202, ""))
    teams(hook.url + "/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=SIG").send(alert())
    body = hook.last.json
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    kinds = [b["type"] for b in card["body"]]
    assert kinds[:3] == ["TextBlock", "TextBlock", "FactSet"]
    assert card["body"][0]["text"] == "CRITICAL sora: space PR-Puppets/PR-Puppet-Sora"
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Repo"] == "PR-Puppets/PR-Puppet-Sora" and facts["Severity"] == "CRITICAL"
    assert any("fuzzy match on title: Sora API access" in b.get("text", "") for b in card["body"])
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open on the Hub", "url": HIT["url"]}]


def test_teams_hostile_text_escaped_and_bounded(hook: HttpReceiver) -> None:
    notifier = teams(hook.url)
    for a in (alert(data=HOSTILE_HIT), digest(60, HOSTILE_HIT), HOSTILE_REOPENED):
        notifier.send(a)
        assert len(hook.last.body) < 28_000
        assert_defused(list(strings(hook.last.json)))
        assert "\\\\*bold\\\\*" in hook.last.text


@pytest.mark.parametrize(
    ("reply", "recoverable", "wait"),
    [
        (Reply(429, "", {"Retry-After": "11"}), True, 11.0),
        (Reply(400, {"error": {"code": "InvalidRequestContent", "message": "x"}}), False, None),
        (Reply(401, ""), False, None),
        (Reply(404, ""), False, None),
        (Reply(502, ""), True, None),
    ],
)
def test_teams_errors(hook: HttpReceiver, reply: Reply, recoverable: bool, wait: float | None) -> None:
    hook.script(reply)
    with pytest.raises(DeliveryError) as err:
        teams(hook.url).send(alert())
    assert err.value.recoverable is recoverable
    assert err.value.retry_after == wait


# --- all HTTP chat services ------------------------------------------------------------------------

CHAT = [SlackNotifier, DiscordNotifier, TeamsNotifier]


@pytest.mark.parametrize("cls", CHAT)
def test_chat_renders_every_event(hook: HttpReceiver, cls: type[Notifier]) -> None:
    hook.default = Reply(200, "ok")
    sent = {}
    for name, a in {"test": TEST, "removed": REMOVED, "reopened": REOPENED, "digest": digest(45)}.items():
        notifier = build(cls, url=hook.url, allow_private=True)
        notifier.send(a)
        sent[name] = hook.last.text.replace("\\", "").replace("`", "")
    assert "TEST" in sent["test"] and "nothing leaked" in sent["test"]
    assert "REMOVED sora" in sent["removed"] and "gone from the Hub" in sent["removed"]
    assert "2024-11-27T08:00:00Z" in sent["removed"].replace("u200b", "")
    assert "RE-UPLOADED CRITICAL sora" in sent["reopened"] and "uploaded again" in sent["reopened"]
    assert "Removed before" in sent["reopened"]
    assert "2024-11-27T08:00:00Z" in sent["reopened"].replace("u200b", "")
    assert "45 hits" in sent["digest"] and "and 25 more" in sent["digest"]
    assert "PR-Puppet-Sora-19" in sent["digest"] and "PR-Puppet-Sora-20" not in sent["digest"]


@pytest.mark.usefixtures("loopback_dns")
@pytest.mark.parametrize("cls", CHAT)
def test_chat_loopback_refused_unless_allowed(hook: HttpReceiver, cls: type[Notifier]) -> None:
    with pytest.raises(ConfigError, match=r"notifier\[0\]\.url: points at the private address 127\.0\.0\.1"):
        build(cls, url=hook.url)
    # A name that resolves to loopback passes the config check and is refused at send time.
    notifier = build(cls, url=f"http://localhost.test.example:{hook.port}/")
    with pytest.raises(DeliveryError) as err:
        notifier.send(alert())
    assert not err.value.recoverable and "private address" in str(err.value)
    assert hook.requests == []


@pytest.mark.parametrize("cls", CHAT)
def test_chat_url_is_a_redacted_secret(tmp_path: Path, cls: type[Notifier]) -> None:
    url = "https://hooks.example.com/services/T0/B0/very-secret-token"
    (tmp_path / "hook").write_text(url + "\n")
    notifier = build(cls, tmp_path, url_file="hook")
    assert isinstance(notifier.config["url"], Secret)
    assert "very-secret" not in repr(dict(notifier.config))
    assert cls.redact("url", notifier.config["url"]) == "https://hooks.example.com/***"
    assert cls.redact("timeout", 10.0) == 10.0
    with pytest.raises(ConfigError, match=r"notifier\[0\]\.url: must be an http\(s\) URL"):
        build(cls, url="ftp://hooks.example.com/x")


URL = "https://hooks.example.com/services/T0/B0/very-secret-token"


@pytest.mark.usefixtures("public_dns")
@responses.activate
@pytest.mark.parametrize("cls", CHAT)
@pytest.mark.parametrize(
    ("failure", "recoverable"),
    [
        (requests.ConnectionError(f"cannot connect to {URL}"), True),
        (requests.ReadTimeout(f"read timed out: {URL}"), True),
    ],
)
def test_chat_network_failures_hide_url(cls: type[Notifier], failure: Exception, recoverable: bool) -> None:
    responses.post(re.compile(r"https://hooks\.example\.com/.*"), body=failure)
    with pytest.raises(DeliveryError) as err:
        build(cls, url=URL).send(alert())
    assert err.value.recoverable is recoverable
    assert "very-secret" not in str(err.value)


def test_all_types_through_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The five types load from TOML, and `leakmon check` shows none of their secrets."""
    import monitor.notifiers as registry

    for name, target in {
        "slack": "monitor.notifiers.slack:SlackNotifier",
        "discord": "monitor.notifiers.discord:DiscordNotifier",
        "teams": "monitor.notifiers.teams:TeamsNotifier",
        "email": "monitor.notifiers.email:EmailNotifier",
        "apprise": "monitor.notifiers.apprise_notifier:AppriseNotifier",
    }.items():
        monkeypatch.setitem(registry._BUILTIN, name, target)
    registry.available.cache_clear()
    monkeypatch.setenv("APPRISE_URL", "json://hooks.example.com/apprise-secret")
    try:
        path = tmp_path / "leakmon.toml"
        path.write_text(
            """
[[watch]]
name = "sora"
terms = ["sora"]

[[notifier]]
name = "s"
type = "slack"
url = "https://hooks.slack.com/services/T0/B0/slack-secret"

[[notifier]]
name = "d"
type = "discord"
url = "https://discord.com/api/webhooks/1/discord-secret"

[[notifier]]
name = "t"
type = "teams"
url = "https://prod.westus.logic.azure.com/workflows/x/invoke?sig=teams-secret"

[[notifier]]
name = "e"
type = "email"
host = "smtp.example.com"
username = "leakmon"
password = "mail-secret"
from = "leakmon <leakmon@example.com>"
to = ["security@example.com"]

[[notifier]]
name = "a"
type = "apprise"
urls = ["${APPRISE_URL}"]
"""
        )
        cfg = config.load(path)
        shown = json.dumps(config.redacted(cfg))
    finally:
        registry.available.cache_clear()
    assert [n.type for n in cfg.notifiers] == ["slack", "discord", "teams", "email", "apprise"]
    assert "secret" not in shown.replace('"password": "***"', "")
    assert "https://hooks.slack.com/***" in shown and "json://***" in shown


# --- email ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    try:
        return self_signed(tmp_path_factory.mktemp("tls"))
    except (RuntimeError, OSError) as err:
        pytest.skip(f"cannot make a test certificate: {err}")


def email(port: int, **extra: Any) -> EmailNotifier:
    raw = {
        "host": "127.0.0.1",
        "port": port,
        "starttls": False,
        "from": "leakmon <leakmon@example.com>",
        "to": ["security@example.com", "Oncall <oncall@example.com>"],
        "allow_private": True,
        "timeout": 5,
        **extra,
    }
    notifier = build(EmailNotifier, **raw)
    assert isinstance(notifier, EmailNotifier)
    return notifier


def test_email_text_and_html(tmp_path: Path) -> None:
    with SmtpReceiver() as smtp:
        notifier = email(smtp.port)
        notifier.send(alert())
        notifier.send(alert())  # a retry
    first, second = smtp.mails
    assert first.rcpt_tos == ["security@example.com", "oncall@example.com"]
    assert first.mail_from == "leakmon@example.com"
    msg = first.message
    assert msg["Subject"] == "[leakmon] CRITICAL sora: space PR-Puppets/PR-Puppet-Sora"
    assert msg["Message-ID"] == "<msg_0123456789abcdef@leakmon>"
    assert second.message["Message-ID"] == msg["Message-ID"]
    assert msg["From"] == "leakmon <leakmon@example.com>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    page = msg.get_body(("html",)).get_content()
    assert "Repo: PR-Puppets/PR-Puppet-Sora" in text and HIT["url"] in text
    assert "term match on repo_id: PR-Puppet-Sora" in text
    assert f'<a href="{HIT["url"]}">Open on the Hub</a>' in page


def test_email_hostile_text(tmp_path: Path) -> None:
    with SmtpReceiver() as smtp:
        notifier = email(smtp.port)
        notifier.send(alert(data=HOSTILE_HIT))
        notifier.send(digest(60, HOSTILE_HIT))
        notifier.send(HOSTILE_REOPENED)
    assert len(smtp.mails) == 3
    for mail in smtp.mails:
        assert mail.rcpt_tos == ["security@example.com", "oncall@example.com"]
        msg = mail.message
        assert msg["Bcc"] is None
        assert len(mail.data) < 200_000
        for name, value in msg.items():
            assert not _CONTROLS.search(str(value)) and "\n" not in str(value), name
        assert msg["Subject"].startswith(("[leakmon] CRITICAL", "[leakmon] RE-UPLOADED CRITICAL"))
        page = msg.get_body(("html",)).get_content()
        text = msg.get_body(("plain",)).get_content()
        assert "&lt;!channel&gt;" in page and "<http://evil" not in page and "<@U123>" not in page
        assert "javascript" not in page
        assert_defused(page.splitlines(), mentions=False)
        assert_defused(text.splitlines(), mentions=False)


def test_email_renders_every_event() -> None:
    with SmtpReceiver() as smtp:
        notifier = email(smtp.port)
        for a in (TEST, REMOVED, digest(45), REOPENED):
            notifier.send(a)
    test, removed, dig, reopened = (m.message for m in smtp.mails)
    assert reopened["Subject"] == "[leakmon] RE-UPLOADED CRITICAL sora: space PR-Puppets/PR-Puppet-Sora"
    reopened_text = reopened.get_body(("plain",)).get_content()
    assert "uploaded again" in reopened_text and "Removed before: 2024-11-27T08:00:00Z" in reopened_text
    assert "Removed before" in reopened.get_body(("html",)).get_content()
    assert test["Subject"] == "[leakmon] TEST CRITICAL sora: space PR-Puppets/PR-Puppet-Sora"
    assert "nothing leaked" in test.get_body(("plain",)).get_content()
    assert removed["Subject"] == "[leakmon] REMOVED sora: space PR-Puppets/PR-Puppet-Sora"
    assert "Removed: 2024-11-27T08:00:00Z" in removed.get_body(("plain",)).get_content()
    assert dig["Subject"] == "[leakmon] CRITICAL 45 hits: sora"
    body = dig.get_body(("plain",)).get_content()
    assert "PR-Puppet-Sora-19" in body and "PR-Puppet-Sora-20" not in body and "and 25 more" in body


def test_email_starttls_verified(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    with SmtpReceiver(starttls=server_context(cert, key), users={"leakmon": "pw"}) as smtp:
        email(smtp.port, starttls=True, cafile=str(cert), username="leakmon", password="pw").send(alert())
        with pytest.raises(DeliveryError) as err:
            email(smtp.port, starttls=True).send(alert())  # the system store does not trust it
        assert not err.value.recoverable
        assert "certificate" in str(err.value)
        with pytest.raises(DeliveryError) as err:
            email(smtp.port, starttls=True, cafile=str(cert), username="leakmon", password="no").send(alert())
        assert not err.value.recoverable and "535" in str(err.value)
    (mail,) = smtp.mails
    assert mail.tls and mail.login == "leakmon"


def test_email_implicit_tls(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    with SmtpReceiver(implicit_tls=server_context(cert, key)) as smtp:
        email(smtp.port, ssl=True, cafile=str(cert)).send(alert())
        with pytest.raises(DeliveryError) as err:
            email(smtp.port, ssl=True).send(alert())
        assert not err.value.recoverable and "certificate" in str(err.value)
    (mail,) = smtp.mails
    assert mail.tls


def test_email_starttls_not_offered_is_permanent() -> None:
    with SmtpReceiver() as smtp, pytest.raises(DeliveryError) as err:
        email(smtp.port, starttls=True).send(alert())
    assert not err.value.recoverable and "STARTTLS" in str(err.value)
    assert smtp.mails == []


def test_email_smtp_replies() -> None:
    with SmtpReceiver() as smtp:
        notifier = email(smtp.port)
        smtp.rcpt_replies["security@example.com"] = "550 5.1.1 no such user"
        smtp.rcpt_replies["oncall@example.com"] = "550 5.1.1 no such user"
        with pytest.raises(DeliveryError) as err:
            notifier.send(alert())
        assert not err.value.recoverable and "550" in str(err.value)

        smtp.rcpt_replies["oncall@example.com"] = "450 4.2.1 mailbox busy"
        with pytest.raises(DeliveryError) as err:
            notifier.send(alert())
        assert err.value.recoverable

        del smtp.rcpt_replies["oncall@example.com"]  # one refused, one accepted
        with pytest.raises(DeliveryError) as err:
            notifier.send(alert())
        assert not err.value.recoverable and "recipients refused (1 of 2)" in str(err.value)

        smtp.rcpt_replies.clear()
        smtp.data_replies.append("451 4.3.0 try again later")
        with pytest.raises(DeliveryError) as err:
            notifier.send(alert())
        assert err.value.recoverable and "451" in str(err.value)

        smtp.data_replies.append("554 5.7.1 rejected as spam")
        with pytest.raises(DeliveryError) as err:
            notifier.send(alert())
        assert not err.value.recoverable


def test_email_connection_refused_is_recoverable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DeliveryError) as err:
        email(port, timeout=2).send(alert())
    assert err.value.recoverable


def test_email_config_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"notifier\[0\]\.host: points at the private address 127\.0\.0\.1"):
        email(25, allow_private=False)
    with pytest.raises(ConfigError, match=r"starttls: must be true"):
        email(25, username="u", password="p")
    with pytest.raises(ConfigError, match=r"password: is required"):
        email(25, starttls=True, username="u")
    with pytest.raises(ConfigError, match=r"cafile: must be the absolute path"):
        email(25, cafile="relative.pem")
    with pytest.raises(ConfigError, match=r"notifier\[0\]\.to: .* is not an email address"):
        email(25, to=["nobody"])
    with pytest.raises(ConfigError, match=r"notifier\[0\]\.from: must not contain line breaks"):
        email(25, **{"from": "a@example.com\r\nBcc: evil@example.com"})
    (tmp_path / "pw").write_text("from-a-file\n")
    notifier = build(
        EmailNotifier,
        tmp_path,
        host="smtp.example.com",
        username="u",
        password_file="pw",
        **{"from": "a@example.com"},
        to=["b@example.com"],
    )
    assert notifier.config["password"].reveal() == "from-a-file"
    assert notifier.config["port"] is None and notifier.port == 587  # type: ignore[attr-defined]
    # A host name that resolves to loopback is refused at send time.
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda host, port, *a, **k: [(2, 1, 6, "", ("127.0.0.1", port))]
    )
    with pytest.raises(DeliveryError) as err:
        build(
            EmailNotifier, host="localhost.test.example", **{"from": "a@x.example"}, to=["b@x.example"]
        ).send(alert())
    assert not err.value.recoverable and "private address" in str(err.value)


# --- Apprise ---------------------------------------------------------------------------------------


def apprise(url: str) -> AppriseNotifier:
    notifier = build(AppriseNotifier, urls=[url], timeout=3)
    assert isinstance(notifier, AppriseNotifier)
    return notifier


def test_apprise_json_delivery(hook: HttpReceiver) -> None:
    apprise(f"json://127.0.0.1:{hook.port}/notify").send(alert())
    req = hook.last
    assert req.path == "/notify"
    body = req.json
    assert body["title"] == "CRITICAL sora: space PR-Puppets/PR-Puppet-Sora"
    assert "Repo: PR-Puppets/PR-Puppet-Sora" in body["message"]
    assert f"Link: {HIT['url']}" in body["message"]
    assert "term match on repo_id: PR-Puppet-Sora" in body["message"]


def test_apprise_hostile_text(hook: HttpReceiver) -> None:
    notifier = apprise(f"json://127.0.0.1:{hook.port}/")
    for a in (alert(data=HOSTILE_HIT), digest(60, HOSTILE_HIT), HOSTILE_REOPENED):
        notifier.send(a)
        body = hook.last.json
        assert len(body["message"]) <= 4000 and len(body["title"]) <= 250
        assert_defused([body["title"], *body["message"].split("\n")])


def test_apprise_events(hook: HttpReceiver) -> None:
    notifier = apprise(f"json://127.0.0.1:{hook.port}/")
    for a in (TEST, REMOVED, digest(45), REOPENED):
        notifier.send(a)
    test, removed, dig, reopened = (r.json for r in hook.requests)
    assert (
        reopened["title"].startswith("RE-UPLOADED CRITICAL sora") and "uploaded again" in reopened["message"]
    )
    assert test["title"].startswith("TEST ") and "nothing leaked" in test["message"]
    assert removed["title"].startswith("REMOVED sora") and "gone from the Hub" in removed["message"]
    assert dig["title"] == "CRITICAL 45 hits: sora" and "and 25 more" in dig["message"]


def test_apprise_failure_is_recoverable(hook: HttpReceiver) -> None:
    hook.script(Reply(500, "no"))
    with pytest.raises(DeliveryError) as err:
        apprise(f"json://127.0.0.1:{hook.port}/").send(alert())
    assert err.value.recoverable


def test_apprise_config(monkeypatch: pytest.MonkeyPatch) -> None:
    assert AppriseNotifier.redact("urls", ["discord://1/tok3n", "mailto://u:pw@x"]) == [
        "discord://***",
        "mailto://***",
    ]
    with pytest.raises(ConfigError) as err:
        build(AppriseNotifier, urls=["nosuchscheme://user:hunter2@x"])
    assert "urls: [0] (nosuchscheme://***) is not a valid Apprise URL" in str(err.value)
    assert "hunter2" not in str(err.value)
    notifier = apprise("json://127.0.0.1:9/")
    (plugin,) = notifier._apprise.services
    assert plugin.socket_read_timeout == 3 and plugin.socket_connect_timeout == 3

    monkeypatch.setitem(sys.modules, "apprise", None)  # as if not installed
    with pytest.raises(ConfigError, match=re.escape(f"notifier[0].urls: {INSTALL}")):
        build(AppriseNotifier, urls=["json://x.example/"])
    with pytest.raises(ImportError, match=r"pip install 'leakmon\[apprise\]'") as err:
        AppriseNotifier("a", MappingProxyType({"urls": ["json://x.example/"], "timeout": 1.0}))
    assert isinstance(err.value, MissingDependency)
