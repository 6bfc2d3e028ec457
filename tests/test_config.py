"""Config loading: every malformed config is exit 2 with one line naming the key, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor import config
from monitor.cli import cli
from monitor.errors import ConfigError, one_line
from tests.conftest import SECRET

GOOD = f"""
[hub]
endpoint = "http://127.0.0.1:9"

[[watch]]
name = "sora"
terms = ["sora"]

[[notifier]]
name = "security"
type = "webhook"
url = "https://hooks.example.com/leaks"
secret = "{SECRET}"
"""

FP = 'terms = ["sora"]\n  [[watch.fingerprint]]\n'  # a watch with a fingerprint table opened

# (config text, the key the one-line error must name)
BAD: list[tuple[str, str, str]] = [
    ("invalid TOML", "[hub\nendpoint = 1", "not valid TOML"),
    ("unknown top-level section", GOOD + "\n[hubb]\nx = 1\n", "hubb: unknown section"),
    (
        "unknown key",
        GOOD.replace('terms = ["sora"]', 'terms = ["sora"]\nterm = "x"'),
        "watch[0].term: unknown key",
    ),
    (
        "wrong type",
        GOOD.replace('endpoint = "http://127.0.0.1:9"', 'endpoint = "http://127.0.0.1:9"\nlookback = "1d"'),
        "hub.lookback: must be an integer",
    ),
    (
        "empty terms",
        GOOD.replace('terms = ["sora"]', "terms = []"),
        "watch[0].terms: must be a non-empty list",
    ),
    (
        "terms not a list",
        GOOD.replace('terms = ["sora"]', 'terms = "sora"'),
        "watch[0].terms: must be a list",
    ),
    (
        "bad regex",
        GOOD.replace('terms = ["sora"]', "terms = [\"sora\"]\npatterns = ['sora[']"),
        "watch[0].patterns: [0] is not a valid regular expression",
    ),
    (
        "duplicate watch names",
        GOOD + '\n[[watch]]\nname = "sora"\nterms = ["x"]\n',
        "watch[1].name: duplicate watch name 'sora'",
    ),
    (
        "notify names no notifier",
        GOOD.replace('terms = ["sora"]', 'terms = ["sora"]\nnotify = ["secruity"]'),
        "watch[0].notify: names no notifier 'secruity'",
    ),
    (
        "unset ${VAR}",
        GOOD.replace("https://hooks.example.com/leaks", "${LEAKMON_TEST_UNSET_VAR}"),
        "notifier[0].url: environment variable LEAKMON_TEST_UNSET_VAR is not set",
    ),
    (
        "unreadable *_file",
        GOOD.replace(f'secret = "{SECRET}"', 'secret_file = "does-not-exist.txt"'),
        "notifier[0].secret_file: cannot read",
    ),
    (
        "bad severity",
        GOOD.replace('terms = ["sora"]', 'terms = ["sora"]\nseverity = "urgent"'),
        "watch[0].severity: must be one of low, medium, high, critical",
    ),
    (
        "both X and X_file",
        GOOD.replace(f'secret = "{SECRET}"', f'secret = "{SECRET}"\nsecret_file = "s.txt"'),
        "notifier[0].secret_file: give either secret or secret_file",
    ),
    (
        "unknown notifier type",
        GOOD.replace('type = "webhook"', 'type = "pager"'),
        "notifier[0].type: unknown notifier type 'pager'",
    ),
    (
        "bad webhook secret",
        GOOD.replace(SECRET, "hunter2"),
        "notifier[0].secret: must be a Standard Webhooks key",
    ),
    (
        "private target",
        GOOD.replace("https://hooks.example.com/leaks", "http://10.0.0.5/hook"),
        "notifier[0].url: points at the private address 10.0.0.5",
    ),
    (
        "not a URL",
        GOOD.replace("https://hooks.example.com/leaks", "ftp://x/y"),
        "notifier[0].url: must be an http(s) URL",
    ),
    (
        "bad repo type",
        GOOD.replace('endpoint = "http://127.0.0.1:9"', 'repo_types = ["models"]'),
        "hub.repo_types: unknown repo type 'models'",
    ),
    ("no watches", GOOD.split("[[watch]]")[0], "watch: at least one [[watch]]"),
    (
        "bool for int",
        GOOD.replace('endpoint = "http://127.0.0.1:9"', "lookback = true"),
        "hub.lookback: must be an integer",
    ),
    ("term without letters", GOOD.replace('terms = ["sora"]', 'terms = ["--"]'), "watch[0].terms: term '--'"),
    (
        "bad exclude regex",
        GOOD.replace('terms = ["sora"]', "terms = [\"sora\"]\nexclude = ['(']"),
        "watch[0].exclude: [0] is not a valid regular expression",
    ),
    (
        "bad owner",
        GOOD.replace('terms = ["sora"]', 'terms = ["sora"]\nowners = ["a/b"]'),
        "watch[0].owners: 'a/b' is not a Hub user",
    ),
    (
        "allowlist repo not an id",
        GOOD + '\n[allowlist]\nrepos = ["just-a-name"]\n',
        "allowlist.repos: 'just-a-name' is not a repo id",
    ),
    ("allowlist unknown key", GOOD + '\n[allowlist]\nrepo = ["a/b"]\n', "allowlist.repo: unknown key"),
    (
        "fingerprint sha256 not hex",
        GOOD.replace('terms = ["sora"]', FP + 'sha256 = ["abc"]'),
        "watch[0].fingerprint[0].sha256: [0] must be 64 hexadecimal digits",
    ),
    (
        "empty fingerprint",
        GOOD.replace('terms = ["sora"]', FP),
        "watch[0].fingerprint[0]: a fingerprint needs",
    ),
    (
        "tolerance without parameters",
        GOOD.replace('terms = ["sora"]', FP + 'architecture = "llama"\ntolerance = 0.01'),
        "watch[0].fingerprint[0].tolerance: applies to parameters",
    ),
    (
        "fingerprint unknown key",
        GOOD.replace('terms = ["sora"]', FP + "context = 32764"),
        "watch[0].fingerprint[0].context: unknown key",
    ),
    (
        "fingerprint wrong type",
        GOOD.replace('terms = ["sora"]', FP + 'parameters = "70B"'),
        "watch[0].fingerprint[0].parameters: must be an integer",
    ),
    (
        "tensor shape not numbers",
        GOOD.replace('terms = ["sora"]', FP + 'tensors = { "lm_head.weight" = ["32000", 4096] }'),
        "watch[0].fingerprint[0].tensors.lm_head.weight: must be a list of dimensions",
    ),
    (
        "fingerprint not a table",
        GOOD.replace('terms = ["sora"]', 'terms = ["sora"]\nfingerprint = "llama"'),
        "watch[0].fingerprint: must be an array of tables",
    ),
    (
        "content string too short",
        GOOD.replace('terms = ["sora"]', 'terms = ["sora"]\ncontent = ["ab"]'),
        "watch[0].content: [0] must hold at least 3 characters",
    ),
    (
        "bad content pattern",
        GOOD.replace('terms = ["sora"]', "terms = [\"sora\"]\ncontent_patterns = ['sk-[']"),
        "watch[0].content_patterns: [0] is not a valid regular expression",
    ),
    (
        "watch with nothing to match",
        GOOD.replace('terms = ["sora"]\n', ""),
        "watch[0].terms: is required (or give patterns",
    ),
    ("content budget negative", GOOD + "\n[content]\nmax_requests = -1\n", "content.max_requests: must be 0"),
]


@pytest.mark.parametrize(("label", "text", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_config_is_one_line_exit_2(tmp_path: Path, label: str, text: str, expected: str) -> None:
    path = tmp_path / "leakmon.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert expected in str(err.value)

    result = CliRunner().invoke(cli, ["check", "--config", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.output + result.stderr
    assert result.stdout == ""


def test_good_config_resolves_vars_files_and_redacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "secret.txt").write_text(SECRET + "\n")
    monkeypatch.setenv("LEAK_URL", "https://hooks.example.com/T000/B000/very-secret-path")
    monkeypatch.setenv("HF_TOKEN_FOR_TEST", "hf_abcdefghijklmnop")
    path = tmp_path / "leakmon.toml"
    path.write_text(
        GOOD.replace("https://hooks.example.com/leaks", "${LEAK_URL}")
        .replace(f'secret = "{SECRET}"', 'secret_file = "secret.txt"')
        .replace(
            'endpoint = "http://127.0.0.1:9"',
            'endpoint = "http://127.0.0.1:9"\ntoken = "${HF_TOKEN_FOR_TEST}"\nrepo_types = ["space"]',
        )
    )
    cfg = config.load(path)
    assert cfg.hub.token is not None and cfg.hub.token.reveal() == "hf_abcdefghijklmnop"
    assert cfg.hub.repo_types == ("space",)
    notifier = cfg.notifiers[0]
    assert notifier.options["secret"].reveal() == SECRET  # trailing newline of the file stripped
    assert notifier.options["url"].endswith("very-secret-path")
    assert cfg.database.path == tmp_path / "leakmon.db"  # relative to the config file
    with pytest.raises(AttributeError):
        cfg.hub.lookback = 5  # type: ignore[misc]  # frozen

    result = CliRunner().invoke(cli, ["check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    for secret in ("hf_abcdefghijklmnop", "very-secret-path", SECRET, SECRET[6:20]):
        assert secret not in result.output
    assert "hooks.example.com" in result.output


def test_literal_dollar_and_config_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "custom.toml"
    path.write_text(
        GOOD.replace('name = "sora"\nterms = ["sora"]', 'name = "sora"\nterms = ["$${NOT_A_VAR}x"]')
    )
    monkeypatch.setenv("LEAKMON_CONFIG", str(path))
    cfg = config.load(None)
    assert cfg.watches[0].terms == ("${NOT_A_VAR}x",)

    monkeypatch.delenv("LEAKMON_CONFIG")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "leakmon.toml").write_text(GOOD)
    assert config.load(None).source == Path("leakmon.toml")


def test_hf_endpoint_is_the_default_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "leakmon.toml"
    path.write_text(GOOD.replace('endpoint = "http://127.0.0.1:9"\n', ""))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:4242/")
    assert config.load(path).hub.endpoint == "http://127.0.0.1:4242"
    monkeypatch.delenv("HF_ENDPOINT")
    assert config.load(path).hub.endpoint == "https://huggingface.co"


def test_missing_config_file_is_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["scan", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "nope.toml does not exist" in result.stderr


def test_owners_exclude_and_allowlist_resolve(tmp_path: Path) -> None:
    from monitor.records import Suppression

    path = tmp_path / "leakmon.toml"
    path.write_text(
        GOOD.replace('terms = ["sora"]', 'terms = ["sora"]\nowners = ["miqudev"]\nexclude = ["^sora-bench"]')
        + '\n[allowlist]\nrepos = ["openai-community/sora-faq"]\nauthors = ["hf-internal-testing"]\n'
        + "patterns = ['^trl-lib/']\n"
    )
    cfg = config.load(path)
    assert cfg.watches[0].owners == ("miqudev",) and cfg.watches[0].exclude == ("^sora-bench",)
    assert cfg.allowlist == (
        Suppression("repo", "openai-community/sora-faq"),
        Suppression("owner", "hf-internal-testing"),
        Suppression("pattern", "^trl-lib/"),
    )


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """config/leakmon.example.toml holds only keys that work."""
    monkeypatch.setenv("LEAK_WEBHOOK_URL", "https://hooks.example.com/leaks")
    monkeypatch.setenv("LEAK_WEBHOOK_SECRET", SECRET)
    example = Path(__file__).resolve().parent.parent / "config" / "leakmon.example.toml"
    cfg = config.load(example)
    assert cfg.watches[0].name == "sora" and cfg.notifiers[0].type == "webhook"


def test_fingerprints_and_content_resolve(tmp_path: Path) -> None:
    sha = "AB" * 32
    path = tmp_path / "leakmon.toml"
    path.write_text(
        f"""
[[watch]]
name = "sora"
content = ["video.internal.example"]

[[watch]]
name = "miqu"
content_patterns = ['sk-[a-z]{{20}}']
  [[watch.fingerprint]]
  architecture = "LLaMA "
  context_length = 32764
  parameters = 68_976_648_192
  tolerance = 0.01
  [[watch.fingerprint]]
  sha256 = ["{sha}", "{sha.lower()}"]
  tensors = {{ "lm_head.weight" = [32000, 8192] }}
  rope_theta = 1000000

[content]
max_requests = 10
"""
    )
    cfg = config.load(path)
    assert cfg.watches[0].terms == () and cfg.watches[0].content == ("video.internal.example",)
    first, second = cfg.watches[1].fingerprints
    assert first.architecture == "llama" and first.tolerance == 0.01 and first.parameters == 68976648192
    assert second.sha256 == ("ab" * 32,)  # lower case, once
    assert dict(second.tensors) == {"lm_head.weight": (32000, 8192)} and second.rope_theta == 1e6
    assert cfg.content.max_requests == 10 and cfg.content.max_bytes == 16_000_000
    shown = config.redacted(cfg)
    assert shown["watch"][1]["fingerprint"][0] == {
        "architecture": "llama",
        "context_length": 32764,
        "parameters": 68976648192,
        "tolerance": 0.01,
    }
    assert shown["watch"][1]["fingerprint"][1]["tensors"] == {"lm_head.weight": [32000, 8192]}
    result = CliRunner().invoke(cli, ["check", "--json", "--config", str(path)])
    assert result.exit_code == 0, result.output


def test_names_and_owners_are_whole_line_matches(tmp_path: Path) -> None:
    """`$` in a regex also matches before a final newline: "a\\n" must not pass as a name."""
    base = {"watch": [{"name": "a", "terms": ["x"]}]}
    for data, key in [
        ({"watch": [{"name": "a\n", "terms": ["x"]}]}, "watch[0].name"),
        ({"watch": [{"name": "a", "terms": ["x"], "owners": ["evil\n"]}]}, "watch[0].owners"),
        ({**base, "allowlist": {"repos": ["a/b\n"]}}, "allowlist.repos"),
        ({**base, "notifier": [{"name": "n\n", "type": "stdout"}]}, "notifier[0].name"),
    ]:
        with pytest.raises(ConfigError) as err:
            config.parse(data, tmp_path)
        assert err.value.key == key


def test_config_errors_found_by_fuzzing(tmp_path: Path) -> None:
    """Found by tests/test_fuzz.py: each raised ValueError, RecursionError, OverflowError or
    RuntimeError (a traceback instead of exit 2), or printed a message over two lines."""
    w = [{"name": "a", "terms": ["x"]}]
    cases = [
        ({"hub": {"token_file": "a\x00b"}, "watch": w}, "hub.token_file"),
        ({"watch": [{**w[0], "patterns": ["(" * 3000 + ")" * 3000]}]}, "watch[0].patterns"),
        ({"watch": [{**w[0], "exclude": ["a{99999999999}"]}]}, "watch[0].exclude"),
        ({"database": {"path": "~no-such-user-at-all/x"}, "watch": w}, "database.path"),
        ({"database": {"path": "a\x00.db"}, "watch": w}, "database.path"),
        ({"a\nb": 1}, "a\nb"),
    ]
    for data, key in cases:
        with pytest.raises(ConfigError) as err:
            config.parse(data, tmp_path)
        assert err.value.key == key
        message = str(err.value)
        assert "\n" not in message and message.startswith(one_line(key) + ": ")
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 5000 + "]" * 5000)
    with pytest.raises(ConfigError, match="is not valid TOML"):
        config.load(deep)
