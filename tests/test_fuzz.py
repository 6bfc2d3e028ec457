"""Property tests (hypothesis) of everything that reads hostile or hand-written input.

- the config loader: any TOML-ish text, and any decoded document shaped like a config, gives a
  Config or a ConfigError whose message is one line naming the key, never another exception;
- the matcher's normaliser and tokeniser (and the matcher itself): never raise, on control
  characters, emoji, lone surrogates, 10,000 characters;
- every notifier's message builder (webhook, slack, discord, teams, email, apprise, stdout) for
  every event type: no crash, no raw mention syntax, no control characters, no CR/LF in headers,
  and the service's own size limits kept.

Example counts come from the hypothesis profile in conftest.py (`make stress` runs many more).
"""

from __future__ import annotations

import email.policy
import io
import json
import re
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from monitor import config
from monitor.config import (
    ALLOWLIST_SCHEMA,
    DATABASE_SCHEMA,
    HUB_SCHEMA,
    METRICS_SCHEMA,
    NOTIFIER_COMMON,
    WATCH_SCHEMA,
    WatchConfig,
)
from monitor.errors import ConfigError, one_line
from monitor.matcher import Matcher, normalise, split_text, token_variants, tokens
from monitor.notifiers import discord as discord_mod
from monitor.notifiers import slack as slack_mod
from monitor.notifiers import teams as teams_mod
from monitor.notifiers.apprise_notifier import AppriseNotifier
from monitor.notifiers.discord import DiscordNotifier
from monitor.notifiers.email import EmailNotifier
from monitor.notifiers.slack import SlackNotifier
from monitor.notifiers.stdout import StdoutNotifier
from monitor.notifiers.teams import TeamsNotifier
from monitor.notifiers.webhook import body_for
from monitor.records import Alert, Repo, Suppression
from tests.test_notifiers import _CONTROLS, HIT, build, strings

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning"),  # apprise on 3.11
]

# --- hostile text ----------------------------------------------------------------------------------

# Every code point, lone surrogates included (hypothesis leaves out category Cs by default).
ANY_CHAR = st.characters(codec=None, exclude_categories=())
NASTY = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U024BE7LH>",
    "<@W123|bob>",
    "<#C024BE7LR>",
    "<#C1|general>",
    "<!subteam^S123>",
    "<http://evil.example|click>",
    "<https://evil.example>",
    "<mailto:a@evil.example|mail>",
    "@everyone",
    "@here",
    "<@&123456>",
    "<@!123456>",
    "<#123456>",
    "<at>Bob</at>",
    "\x1b[2J",
    "\x1b]8;;http://evil.example\x07x\x1b]8;;\x07",
    "\x9b31m",
    "\r\nBcc: evil@evil.example\r\n",
    "\n",
    "\u2028",
    "\u202e",
    "\x00",
    "\x85",
    "\ud800",
    "\udfff",
    "\U0001f6a8",
    "👩‍👩‍👧‍👦",
    "ℌ𝔢𝔩𝔩𝔬",
    "*bold* _it_ ~s~ `code` [x](http://evil.example) # h",
    "&amp;&lt;",
    "${HF_TOKEN}",
]
hostile_text = st.one_of(
    st.text(ANY_CHAR, max_size=60),
    st.lists(st.one_of(st.sampled_from(NASTY), st.text(ANY_CHAR, max_size=8)), max_size=12).map("".join),
    st.tuples(st.sampled_from(NASTY), st.integers(1, 10_000)).map(lambda t: (t[0] * t[1])[:10_000]),
)
long_text = st.tuples(st.text(ANY_CHAR, min_size=1, max_size=20), st.integers(200, 10_000)).map(
    lambda t: (t[0] * (t[1] // len(t[0]) + 1))[: t[1]]
)
any_text = st.one_of(hostile_text, long_text)


# --- the config loader ---------------------------------------------------------------------------


def assert_one_line_naming_a_key(err: ConfigError) -> None:
    message = str(err)
    assert message, "an empty error message"
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", message), repr(message)
    if err.key:
        assert message.startswith(one_line(err.key) + ": "), message


def assert_loads(text: str, directory: Path) -> None:
    path = directory / "leakmon.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        cfg = config.load(path)
    except ConfigError as err:
        assert_one_line_naming_a_key(err)
    else:
        assert isinstance(cfg, config.Config) and cfg.watches


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("fuzzconf")
    (directory / "secret.txt").write_text("whsec_" + "QUJD" * 8 + "\n")
    (directory / "bad.txt").write_bytes(b"\xff\xfe")
    return directory


VALID = """
[hub]
endpoint = "http://127.0.0.1:1"
repo_types = ["model", "space"]
lookback = 3600
[database]
path = "x.db"
[[watch]]
name = "sora"
terms = ["sora", "sora-turbo"]
patterns = ['sora[-_ ]?v\\d']
ignore_authors = ["openai"]
severity = "critical"
notify = ["hook"]
[[notifier]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:9/hook"
secret_file = "secret.txt"
allow_private = true
[allowlist]
repos = ["a/b"]
"""

toml_fragments = st.sampled_from(
    [
        *VALID.splitlines(keepends=True),
        "[hub]\n",
        "[[watch]]\n",
        "[[notifier]]\n",
        "[metrics]\n",
        "[allowlist]\n",
        "[unknown]\n",
        'name = "a\\nb"\n',
        '"a\\nb" = 1\n',
        "terms = []\n",
        'terms = ["", " "]\n',
        'patterns = ["(" ]\n',
        "patterns = ['a{99999999999}']\n",
        "patterns = ['" + "(" * 600 + ")" * 600 + "']\n",
        "a = " + "[" * 3000 + "]" * 3000 + "\n",
        "b = " + "{x = " * 3000 + "1" + "}" * 3000 + "\n",
        'token = "${NOT_SET_ANYWHERE}"\n',
        'token_file = "a\\u0000b"\n',
        'token_file = "missing.txt"\n',
        'token_file = "bad.txt"\n',
        'path = "~no-such-user-at-all/x.db"\n',
        'path = "a\\u0000.db"\n',
        'listen = "[::1]:99999"\n',
        "timeout = nan\n",
        "timeout = inf\n",
        "lookback = -1\n",
        "lookback = 99999999999999999999\n",
        "max_retries = 1e400\n",
        'type = "email"\n',
        'type = "slack"\n',
        'type = "nope"\n',
        'url = "http://[::1"\n',
        'severity = "CRITICAL"\n',
        "x = 1979-05-27T07:32:00Z\n",
        "\x00",
        "\ud800",
        "\ufeff",
        "=",
        "[",
        '"',
        "'''",
        "\n",
    ]
)
toml_text = st.one_of(
    st.lists(toml_fragments, max_size=40).map("".join),
    st.text(ANY_CHAR, max_size=200),
    st.tuples(st.lists(toml_fragments, max_size=30), st.text(ANY_CHAR, max_size=10)).map(
        lambda t: "".join(t[0]) + t[1]
    ),
)


@given(text=toml_text)
@example(text=VALID)
@example(text="a = " + "[" * 5000 + "]" * 5000)
@example(text='[hub]\ntoken_file = "a\\u0000b"\n[[watch]]\nname = "a"\nterms = ["x"]\n')
def test_config_text_gives_a_config_or_a_one_line_error(text: str, config_dir: Path) -> None:
    assert_loads(text, config_dir)


def test_the_valid_example_loads(config_dir: Path) -> None:
    """The property above must not pass by failing every input."""
    path = config_dir / "ok.toml"
    path.write_text(VALID)
    cfg = config.load(path)
    assert cfg.watches[0].name == "sora" and cfg.notifiers[0].name == "hook"


scalar = st.one_of(
    st.text(ANY_CHAR, max_size=30),
    st.sampled_from(
        [
            "",
            "sora",
            "x.db",
            "secret.txt",
            "missing.txt",
            "bad.txt",
            "a\x00b",
            "~no-such-user-at-all/x",
            "${HOME}",
            "${NOT_SET_ANYWHERE}",
            "$${HOME}",
            "http://127.0.0.1:9/hook",
            "https://hooks.example.com/x",
            "http://[::1",
            "whsec_" + "QUJD" * 8,
            "whsec_!!",
            "critical",
            "model",
            "webhook",
            "email",
            "slack",
            "stdout",
            "a@b.example",
            "127.0.0.1:9464",
            "(" * 600 + ")" * 600,
            "a{99999999999}",
            "a\n",
        ]
    ),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.datetimes(timezones=st.sampled_from([None, UTC])),
)
value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(ANY_CHAR, max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
string_lists = st.lists(scalar.filter(lambda v: isinstance(v, str)), max_size=4)
ALL_NOTIFIER_KEYS = sorted(
    {
        *NOTIFIER_COMMON,
        *(k for cls in (SlackNotifier, EmailNotifier, AppriseNotifier) for k in cls.options),
        "url",
        "secret",
    }
)


def table(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A table with mostly known keys (some as `_file`), each with a plausible or a random value."""
    key = st.one_of(
        st.sampled_from(keys), st.sampled_from(keys).map(lambda k: k + "_file"), st.text(ANY_CHAR, max_size=8)
    )
    return st.dictionaries(key, st.one_of(scalar, string_lists, value), max_size=len(keys) + 1)


documents = st.fixed_dictionaries(
    {},
    optional={
        "hub": st.one_of(table(list(HUB_SCHEMA)), value),
        "database": table(list(DATABASE_SCHEMA)),
        "metrics": table(list(METRICS_SCHEMA)),
        "watch": st.one_of(st.lists(table(list(WATCH_SCHEMA)), max_size=3), value),
        "notifier": st.lists(table(ALL_NOTIFIER_KEYS), max_size=3),
        "allowlist": table(list(ALLOWLIST_SCHEMA)),
        "extra": value,
    },
)


@given(data=documents)
@example(data={"hub": {"token_file": "a\x00b"}, "watch": [{"name": "a", "terms": ["x"]}]})
@example(data={"watch": [{"name": "a", "terms": ["x"], "patterns": ["(" * 3000 + ")" * 3000]}]})
@example(data={"watch": [{"name": "a", "terms": ["x"], "exclude": ["a{99999999999}"]}]})
@example(data={"database": {"path": "~no-such-user-at-all/x"}, "watch": [{"name": "a", "terms": ["x"]}]})
@example(data={"a\nb": 1})
@example(data={"notifier": [{"name": "n\n", "type": "stdout"}], "watch": [{"name": "a", "terms": ["x"]}]})
def test_config_document_gives_a_config_or_a_one_line_error(data: dict[str, Any], config_dir: Path) -> None:
    try:
        cfg = config.parse(data, config_dir)
    except ConfigError as err:
        assert err.key, f"a decoded document's error names no key: {err}"
        assert_one_line_naming_a_key(err)
    else:
        assert cfg.watches
        for w in cfg.watches:  # what the loader accepts, the matcher compiles
            assert "\n" not in w.name
        Matcher(cfg.watches, cfg.allowlist)


# --- the matcher ---------------------------------------------------------------------------------

MATCHER = Matcher(
    [
        WatchConfig("sora", ("sora", "sora-turbo"), patterns=(r"sora[-_ ]?v\d",), ignore_authors=("openai",)),
        WatchConfig("miqu", ("miqu", "mistral-medium"), owners=("miqudev",), exclude=("^miquel",)),
        WatchConfig("cjk", ("ソラ", "通义千问", "gpt-5"), fuzzy=False),
    ],
    [Suppression("pattern", "allowed/.*"), Suppression("owner", "fans")],
)


@given(text=any_text)
@example(text="\ud800" * 10_000)
@example(text="a1" * 5_000)
@example(text="s0r4" * 2_500)
@example(text="\U0001f6a8" * 10_000)
@example(text="\x00\x1b[2J\r\n" * 2_000)
@example(text="1.0" * 3_000)
@example(text="/" * 10_000)
def test_normaliser_and_tokeniser_never_raise(text: str) -> None:
    assert isinstance(normalise(text), str)
    assert all(isinstance(t, str) and t for t in tokens(text))
    assert isinstance(token_variants(text), list)
    _owner, _target, field = split_text(text)
    assert field in ("repo_id", "title")
    assert isinstance(MATCHER.match_text(text), list)
    assert isinstance(MATCHER.explain(text).lines(), list)


@given(owner=hostile_text, name=any_text, title=st.none() | any_text, tags=st.lists(hostile_text, max_size=5))
def test_match_repo_never_raises(owner: str, name: str, title: str | None, tags: list[str]) -> None:
    repo = Repo("model", f"{owner}/{name}", datetime.now(UTC), author=owner, title=title, tags=tuple(tags))
    for m in MATCHER.match_repo(repo):
        assert m.watch in ("sora", "miqu", "cjk") and 0 < m.score <= 1


# --- every message builder ------------------------------------------------------------------------

maybe_text = st.one_of(hostile_text, st.none(), st.integers())
match_data = st.fixed_dictionaries(
    {
        "rule": st.one_of(st.sampled_from(["term", "fuzzy", "pattern", "owner"]), hostile_text),
        "field": st.one_of(st.sampled_from(["repo_id", "title", "tags"]), hostile_text),
        "term": hostile_text,
        "text": any_text,
        "score": st.floats(0, 1),
    }
)
hit_data = st.fixed_dictionaries(
    {
        "id": st.integers(0, 10**9),
        "watch": st.one_of(st.just("sora"), hostile_text),
        # Our own config value (validated), never Hub text: the formatters show it as is.
        "severity": st.sampled_from(["low", "medium", "high", "critical"]),
        "repo_type": st.one_of(st.sampled_from(["model", "dataset", "space"]), hostile_text),
        "repo_id": any_text,
        "url": st.one_of(
            st.just(HIT["url"]),
            hostile_text.map(lambda t: "https://huggingface.co/" + t),
            hostile_text,
        ),
        "author": maybe_text,
        "created_at": st.one_of(st.just(HIT["created_at"]), maybe_text),
        "matches": st.lists(match_data, max_size=6),
    }
)
WHEN = datetime(2024, 11, 26, 13, 9, 54, tzinfo=UTC)


@st.composite
def alerts(draw: st.DrawFn) -> Alert:
    event = draw(st.sampled_from(["hit.created", "hit.removed", "hit.digest", "test"]))
    delivery_id = draw(st.one_of(st.just("msg_0123456789abcdef"), hostile_text))
    if event == "hit.digest":
        hits = draw(st.lists(hit_data, min_size=1, max_size=30))
        data: dict[str, Any] = {"count": draw(st.integers(len(hits), 10_000)), "hits": hits}
    else:
        data = draw(hit_data)
        if event == "hit.removed":
            data["removed_at"] = draw(st.one_of(st.just("2024-11-27T08:00:00Z"), maybe_text))
        if event == "test":
            data["test"] = True
    return Alert(event, delivery_id, WHEN, data)


# Slack: a `<` starts a control sequence (mention, channel, link); only our own links may have one.
SLACK_LINK = re.compile(r"<https?://[^\s<>|`]*\|(?:open|Open on the Hub)>")
CHAT_MENTIONS = re.compile(r"@(everyone|here|channel)\b|<[@#!]|<at>", re.IGNORECASE)


def assert_no_controls(texts: list[str]) -> None:
    for text in texts:
        assert not _CONTROLS.search(text), repr(text[:200])
        assert not re.search("[\ud800-\udfff]", text), "a lone surrogate survived"


def sent_strings(payload: Any) -> list[str]:
    return list(strings(payload))


SLACK = build(SlackNotifier, url="https://hooks.slack.com/services/T0/B0/x")
DISCORD = build(DiscordNotifier, url="https://discord.com/api/webhooks/1/x")
TEAMS = build(TeamsNotifier, url="https://prod.example.logic.azure.com/workflows/x")
EMAIL = build(EmailNotifier, host="smtp.example.com", **{"from": "leakmon@example.com"}, to=["a@example.com"])


@given(alert=alerts())
def test_webhook_and_stdout_bodies(alert: Alert) -> None:
    body = body_for(alert)
    assert body.isascii() and not re.search(rb"[\x00-\x1f\x7f]", body)
    decoded = json.loads(body)
    assert decoded["type"] == alert.event and decoded["data"] == json.loads(json.dumps(dict(alert.data)))
    out = io.StringIO()
    with redirect_stdout(out):
        StdoutNotifier("out", {}).send(alert)
    line = out.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1 and line.isascii()
    assert json.loads(line)["id"] == json.loads(json.dumps(alert.delivery_id))


@given(alert=alerts())
@example(alert=Alert("hit.created", "msg_1", WHEN, {**HIT, "repo_id": "<!channel> <@U1> <http://x|y>"}))
def test_slack_payload(alert: Alert) -> None:
    payload = SLACK.payload(alert)  # type: ignore[attr-defined]
    texts = sent_strings(payload)
    assert_no_controls(texts)
    for text in texts:
        leftover = SLACK_LINK.sub("", text)
        assert "<" not in leftover and ">" not in leftover, f"raw Slack control syntax in {text[:200]!r}"
        assert not CHAT_MENTIONS.search(leftover), text[:200]
    assert slack_mod.fits(payload), "over Slack's limits"


@given(alert=alerts())
@example(alert=Alert("hit.created", "msg_1", WHEN, {**HIT, "author": "@everyone @here <@123> <@&1> <#9>"}))
def test_discord_payload(alert: Alert) -> None:
    payload = DISCORD.payload(alert)  # type: ignore[attr-defined]
    assert payload["allowed_mentions"] == {"parse": []}
    texts = sent_strings(payload)
    assert_no_controls(texts)
    for text in texts:  # safe even if mentions were enabled
        assert not CHAT_MENTIONS.search(text), text[:200]
    assert discord_mod.fits(payload), "over Discord's limits"


@given(alert=alerts())
def test_teams_payload(alert: Alert) -> None:
    payload = TEAMS.payload(alert)  # type: ignore[attr-defined]
    texts = sent_strings(payload)
    assert_no_controls(texts)
    for text in texts:
        assert not CHAT_MENTIONS.search(text), text[:200]
    assert teams_mod.fits(payload), "over the Teams message limit"


@given(alert=alerts())
@example(alert=Alert("hit.created", "msg_1\r\nBcc: x@evil.example", WHEN, {**HIT, "watch": "a\r\nBcc: b"}))
def test_email_message(alert: Alert) -> None:
    msg = EMAIL.message(alert)  # type: ignore[attr-defined]
    for name, header in msg.items():
        assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029]", str(header)), name
    assert msg["Bcc"] is None and msg["Subject"].startswith("[leakmon] ")
    data = msg.as_bytes(policy=email.policy.SMTP)  # what smtplib sends: must not raise either
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    names = [line.split(b":", 1)[0] for line in head if not line[:1].isspace()]
    assert names == [n.encode() for n in msg], "Hub text added or split a header line"
    for part in (msg.get_body(("plain",)), msg.get_body(("html",))):
        assert part is not None
        assert_no_controls(part.get_content().splitlines())
    html = msg.get_body(("html",)).get_content()
    assert not re.search(r"<(?!/?(?:!DOCTYPE html|html|body|h2|h3|p|ul|li|table|tr|th|td|a)\b)", html)


@given(alert=alerts())
def test_apprise_text(alert: Alert) -> None:
    head, body = AppriseNotifier.render(alert)
    texts = [head, *body.split("\n")]
    assert_no_controls(texts)
    for text in texts:
        assert not CHAT_MENTIONS.search(text), text[:200]


def test_every_builder_is_covered() -> None:
    """A new built-in notifier type needs its own property test above."""
    from monitor.notifiers import _BUILTIN

    assert set(_BUILTIN) == {"webhook", "stdout", "slack", "discord", "teams", "email", "apprise"}
