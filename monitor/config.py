"""Configuration: TOML -> validated, frozen objects, once, at start-up.

Every problem raises ConfigError naming the key (`watch[0].terms: must be a non-empty list of
strings`). Unknown keys are errors: a typo must not silently disable a watch. Any string value may
use `${VAR}`; a key `X_file` reads the value of `X` from a file (systemd `LoadCredential=`).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from monitor.errors import ConfigError
from monitor.records import REPO_TYPES, SEVERITIES, Suppression

DEFAULT_ENDPOINT = "https://huggingface.co"
SEARCH_PATHS = ("leakmon.toml", "/etc/leakmon/leakmon.toml")

_VAR = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Used with fullmatch: `$` would also match before a final newline ("a\n" is no name).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_HUB_PART = re.compile(r"[\w.-]{1,96}")  # one part of a repo id (\w includes Unicode letters)


class Secret:
    """A string that never shows itself in reprs, logs or `leakmon check`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class HubConfig:
    endpoint: str = DEFAULT_ENDPOINT
    token: Secret | None = None
    repo_types: tuple[str, ...] = REPO_TYPES
    lookback: int = 86400
    timeout: float = 30.0
    max_retries: int = 5
    poll_interval: float = 300.0  # `run`: seconds between scans
    max_quota_share: float = 0.5  # never spend more than this share of the Hub's rate-limit window
    recheck_interval: float = 3600.0  # `run`: seconds between checks that open hits are still there
    sweep_interval: float = 21600.0  # `run`: seconds between search sweeps for every watched term
    sweep_budget: int = 60  # Hub requests one periodic sweep may spend


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    listen: tuple[str, int] | None = None  # host, port of the Prometheus endpoint of `run`


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    path: Path = Path("leakmon.db")


@dataclass(frozen=True, slots=True)
class ContentConfig:
    """The content tier's per-scan budget: files fetched from new Spaces and candidates."""

    max_requests: int = 100  # Hub requests (API and resolver) the content tier may spend per scan
    max_bytes: int = 16_000_000  # bytes it may download per scan
    max_file_bytes: int = 262_144  # bytes read of one file (its opening part)


@dataclass(frozen=True, slots=True)
class FingerprintConfig:
    """What a lab knows about its own model. Every field given must hold; None means "not given"."""

    architecture: str | None = None  # gguf.architecture or config.json model_type
    context_length: int | None = None  # gguf.context_length or config.json max_position_embeddings
    parameters: int | None = None  # safetensors.total or gguf.total
    tolerance: float = 0.0  # relative tolerance on parameters
    hidden_size: int | None = None  # config.json fields
    num_hidden_layers: int | None = None
    vocab_size: int | None = None
    rope_theta: float | None = None
    tensors: Mapping[str, tuple[int, ...]] = field(default_factory=lambda: MappingProxyType({}))
    sha256: tuple[str, ...] = ()  # LFS oids of known files

    def describe(self) -> str:
        """`architecture=llama, context_length=32764, parameters=68976648192±1%`: for evidence."""
        parts = []
        for name in ("architecture", "context_length", "parameters"):
            value = getattr(self, name)
            if value is not None:
                tol = (
                    f"±{self.tolerance:.2%}".replace(".00%", "%")
                    if name == "parameters" and self.tolerance
                    else ""
                )
                parts.append(f"{name}={value}{tol}")
        for name in ("hidden_size", "num_hidden_layers", "vocab_size", "rope_theta"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}")
        if self.tensors:
            parts.append(f"{len(self.tensors)} tensor shape(s)")
        if self.sha256:
            parts.append(f"{len(self.sha256)} sha256")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class WatchConfig:
    name: str
    terms: tuple[str, ...]
    patterns: tuple[str, ...] = ()
    fuzzy: bool = True
    ignore_authors: tuple[str, ...] = ()
    severity: str = "high"
    notify: tuple[str, ...] | None = None  # None: every notifier
    owners: tuple[str, ...] = ()  # suspicious owners: everything they publish matches
    exclude: tuple[str, ...] = ()  # regexes for known legitimate names this watch never alerts on
    content: tuple[str, ...] = ()  # strings searched in the files of new Spaces and candidates
    content_patterns: tuple[str, ...] = ()  # regexes for the same
    fingerprints: tuple[FingerprintConfig, ...] = ()  # [[watch.fingerprint]]: any one is enough


@dataclass(frozen=True, slots=True)
class NotifierConfig:
    name: str
    type: str
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    min_severity: str = "low"  # hits below this severity never reach this notifier
    digest_over: int | None = None  # more hits than this from one scan arrive as one message

    def accepts(self, severity: str) -> bool:
        return SEVERITIES.index(severity) >= SEVERITIES.index(self.min_severity)


@dataclass(frozen=True, slots=True)
class Config:
    hub: HubConfig
    database: DatabaseConfig
    watches: tuple[WatchConfig, ...]
    notifiers: tuple[NotifierConfig, ...]
    source: Path | None = None
    allowlist: tuple[Suppression, ...] = ()  # global: never alert on these, for any watch
    metrics: MetricsConfig = MetricsConfig()
    content: ContentConfig = ContentConfig()

    def notifiers_for(self, watch: WatchConfig) -> tuple[NotifierConfig, ...]:
        if watch.notify is None:
            return self.notifiers
        return tuple(n for n in self.notifiers if n.name in watch.notify)


# --- option schema -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Option:
    """One config key: its type, default and extra check. Notifier classes declare theirs too."""

    kind: str  # str | secret | int | float | bool | list | url
    default: Any = None
    required: bool = False
    check: Callable[[Any], str | None] | None = None  # returns a problem or None
    file_ok: bool = False  # `<key>_file` may give the value instead


def positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _type_problem(kind: str, value: Any) -> str | None:
    if kind in ("str", "secret", "url"):
        return None if isinstance(value, str) else "must be a string"
    if kind == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "int":
        return None if isinstance(value, int) and not isinstance(value, bool) else "must be an integer"
    if kind == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "must be a number"
    if kind == "list":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else "must be a list of strings"
    raise AssertionError(kind)


def http_url_problem(value: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
    except ValueError:
        return "must be an http(s) URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) URL"
    return None


def expand_vars(key: str, value: str) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(1):  # `$${VAR}` is a literal `${VAR}`
            return "${" + m.group(2) + "}"
        name = m.group(2)
        if name not in os.environ:
            raise ConfigError(key, f"environment variable {name} is not set")
        return os.environ[name]

    return _VAR.sub(repl, value)


def _expand_all(key: str, value: Any) -> Any:
    if isinstance(value, str):
        return expand_vars(key, value)
    if isinstance(value, list):
        return [_expand_all(f"{key}[{i}]", v) for i, v in enumerate(value)]
    return value


def read_options(
    prefix: str,
    raw: Mapping[str, Any],
    schema: Mapping[str, Option],
    base_dir: Path,
    also_known: Mapping[str, Option] | None = None,
) -> dict[str, Any]:
    """Validate one table against its schema: unknown keys, `_file` keys, `${VAR}`, types."""
    out: dict[str, Any] = {}
    seen: set[str] = set()
    for key, value in raw.items():
        name = key[:-5] if key.endswith("_file") else key
        opt = schema.get(name)
        path = f"{prefix}.{key}" if prefix else key
        if opt is None or (key != name and not opt.file_ok):
            known = ", ".join(sorted({*schema, *(also_known or {})})) or "none"
            raise ConfigError(path, f"unknown key (known keys: {known})")
        if name in seen:
            raise ConfigError(path, f"give either {name} or {name}_file, not both")
        seen.add(name)
        value = _expand_all(path, value)
        if key != name:
            if not isinstance(value, str):
                raise ConfigError(path, "must be a path (string)")
            if "\0" in value:
                raise ConfigError(path, "must be a path (it contains a NUL character)")
            file_path = base_dir / value
            try:
                value = file_path.read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as err:
                reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
                raise ConfigError(path, f"cannot read {file_path}: {reason}") from None
        problem = _type_problem(opt.kind, value)
        if problem is None and opt.kind == "url":
            problem = http_url_problem(value)
        if problem is None and opt.check is not None:
            problem = opt.check(value)
        if problem:
            raise ConfigError(f"{prefix}.{name}" if prefix else name, problem)
        out[name] = Secret(value) if opt.kind == "secret" else value
    for name, opt in schema.items():
        if name not in out:
            if opt.required:
                raise ConfigError(f"{prefix}.{name}" if prefix else name, "is required")
            out[name] = opt.default
    return out


# --- sections ----------------------------------------------------------------------------------


def _repo_types(value: list[str]) -> str | None:
    if not value:
        return "must name at least one of model, dataset, space"
    bad = [v for v in value if v not in REPO_TYPES]
    if bad:
        return f"unknown repo type {bad[0]!r} (use model, dataset, space)"
    if len(set(value)) != len(value):
        return "lists a repo type twice"
    return None


def _severity(value: str) -> str | None:
    return None if value in SEVERITIES else f"must be one of {', '.join(SEVERITIES)} (got {value!r})"


def _terms(value: list[str]) -> str | None:
    if not value or any(not v.strip() for v in value):
        return "must be a non-empty list of strings"
    for term in value:
        if not any(ch.isalnum() for ch in term):
            return f"term {term!r} has no letters or digits"
    return None


def _patterns(value: list[str]) -> str | None:
    for i, pattern in enumerate(value):
        try:
            re.compile(pattern, re.IGNORECASE)
        except re.error as err:
            return f"[{i}] is not a valid regular expression ({err})"
        except (OverflowError, RecursionError) as err:  # `a{99999999999}`, thousands of nested groups
            return f"[{i}] is not a usable regular expression ({type(err).__name__}: {err})"
    return None


def _path_problem(value: str) -> str | None:
    return "must be a path (it contains a NUL character)" if "\0" in value else None


def _owners(value: list[str]) -> str | None:
    for owner in value:
        if not _HUB_PART.fullmatch(owner):
            return f"{owner!r} is not a Hub user or organisation name"
    return None


def _repo_ids(value: list[str]) -> str | None:
    for repo_id in value:
        parts = repo_id.split("/")
        if len(parts) != 2 or not all(_HUB_PART.fullmatch(p) for p in parts):
            return f"{repo_id!r} is not a repo id (owner/name)"
    return None


def _name(value: str) -> str | None:
    return None if _NAME.fullmatch(value) else "must be 1-64 letters, digits, '.', '_' or '-'"


HUB_SCHEMA = {
    "endpoint": Option("url"),
    "token": Option("secret", file_ok=True),
    "repo_types": Option("list", default=list(REPO_TYPES), check=_repo_types),
    "lookback": Option("int", default=86400, check=positive),
    "timeout": Option("float", default=30.0, check=positive),
    "max_retries": Option(
        "int", default=5, check=lambda v: None if 0 <= v <= 10 else "must be between 0 and 10"
    ),
    "poll_interval": Option("float", default=300.0, check=lambda v: None if v >= 1 else "must be at least 1"),
    "max_quota_share": Option(
        "float", default=0.5, check=lambda v: None if 0 < v <= 1 else "must be above 0 and at most 1"
    ),
    "recheck_interval": Option("float", default=3600.0, check=positive),
    "sweep_interval": Option("float", default=21600.0, check=positive),
    "sweep_budget": Option("int", default=60, check=positive),
}
METRICS_SCHEMA = {"listen": Option("str", check=lambda v: None if _listen(v) else "must be HOST:PORT")}


def _listen(value: str) -> tuple[str, int] | None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host.strip("[]"), int(port)


DATABASE_SCHEMA = {"path": Option("str", default="leakmon.db", check=_path_problem)}


def _sha256s(value: list[str]) -> str | None:
    if not value:
        return "must list at least one sha256"
    for i, digest in enumerate(value):
        if not re.fullmatch(r"[0-9a-fA-F]{64}", digest.strip()):
            return f"[{i}] must be 64 hexadecimal digits (an LFS oid), not {digest[:80]!r}"
    return None


def _not_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be 0 or more"


CONTENT_SCHEMA = {
    "max_requests": Option("int", default=100, check=_not_negative),
    "max_bytes": Option("int", default=16_000_000, check=_not_negative),
    "max_file_bytes": Option("int", default=262_144, check=positive),
}
FINGERPRINT_SCHEMA = {
    "architecture": Option("str", check=lambda v: None if v.strip() else "must not be empty"),
    "context_length": Option("int", check=positive),
    "parameters": Option("int", check=positive),
    "tolerance": Option(
        "float", default=0.0, check=lambda v: None if 0 <= v < 1 else "must be at least 0 and below 1"
    ),
    "hidden_size": Option("int", check=positive),
    "num_hidden_layers": Option("int", check=positive),
    "vocab_size": Option("int", check=positive),
    "rope_theta": Option("float", check=positive),
    "sha256": Option("list", default=[], check=_sha256s),
}
WATCH_SCHEMA = {
    "name": Option("str", required=True, check=_name),
    "terms": Option("list", check=_terms),
    "patterns": Option("list", default=[], check=_patterns),
    "fuzzy": Option("bool", default=True),
    "ignore_authors": Option("list", default=[]),
    "severity": Option("str", default="high", check=_severity),
    "notify": Option("list"),
    "owners": Option("list", default=[], check=_owners),
    "exclude": Option("list", default=[], check=_patterns),
    "content": Option("list", default=[], check=lambda v: _non_empty_strings(v, 3)),
    "content_patterns": Option("list", default=[], check=_patterns),
}


def _non_empty_strings(value: list[str], min_len: int) -> str | None:
    for i, s in enumerate(value):
        if len(s.strip()) < min_len:
            return f"[{i}] must hold at least {min_len} characters (a shorter string is everywhere)"
    return None


def _tensors(key: str, value: Any) -> Mapping[str, tuple[int, ...]]:
    """`tensors = { "model.embed_tokens.weight" = [32000, 4096] }`: tensor names and shapes."""
    if not isinstance(value, dict) or not value:
        raise ConfigError(
            key, 'must be a table of tensor names and shapes, e.g. { "lm_head.weight" = [32000, 4096] }'
        )
    out = {}
    for name, shape in value.items():
        ok = isinstance(shape, list) and all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        )
        if not ok:
            raise ConfigError(
                f"{key}.{name}", "must be a list of dimensions (whole numbers), e.g. [32000, 4096]"
            )
        out[name] = tuple(shape)
    return MappingProxyType(out)


def _fingerprints(prefix: str, value: Any, base_dir: Path) -> tuple[FingerprintConfig, ...]:
    out = []
    for j, raw in enumerate(_array_of_tables(prefix, value)):
        key = f"{prefix}[{j}]"
        raw = dict(raw)
        tensors = (
            _tensors(f"{key}.tensors", _expand_all(f"{key}.tensors", raw.pop("tensors")))
            if "tensors" in raw
            else {}
        )
        f = read_options(key, raw, FINGERPRINT_SCHEMA, base_dir, also_known={"tensors": Option("str")})
        given = [k for k in FINGERPRINT_SCHEMA if k != "tolerance" and f[k] not in (None, [])]
        if not given and not tensors:
            known = ", ".join(sorted(k for k in {*FINGERPRINT_SCHEMA, "tensors"} if k != "tolerance"))
            raise ConfigError(key, f"a fingerprint needs at least one of {known}")
        if f["tolerance"] and f["parameters"] is None:
            raise ConfigError(
                f"{key}.tolerance", "applies to parameters, which this fingerprint does not give"
            )
        out.append(
            FingerprintConfig(
                architecture=f["architecture"].strip().lower() if f["architecture"] else None,
                context_length=f["context_length"],
                parameters=f["parameters"],
                tolerance=float(f["tolerance"]),
                hidden_size=f["hidden_size"],
                num_hidden_layers=f["num_hidden_layers"],
                vocab_size=f["vocab_size"],
                rope_theta=float(f["rope_theta"]) if f["rope_theta"] is not None else None,
                tensors=MappingProxyType(dict(tensors)),
                sha256=tuple(dict.fromkeys(s.strip().lower() for s in f["sha256"])),
            )
        )
    return tuple(out)


ALLOWLIST_SCHEMA = {
    "repos": Option("list", default=[], check=_repo_ids),
    "authors": Option("list", default=[], check=_owners),
    "patterns": Option("list", default=[], check=_patterns),
}
NOTIFIER_COMMON = {
    "name": Option("str", required=True, check=_name),
    "type": Option("str", required=True),
    "min_severity": Option("str", default="low", check=_severity),
    "digest_over": Option("int", check=positive),
}


def _table(key: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(key, "must be a table")
    return value


def _array_of_tables(key: str, value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(key, f"must be an array of tables ([[{key}]])")
    return value


def parse(data: Mapping[str, Any], base_dir: Path, source: Path | None = None) -> Config:
    """Validate an already-decoded TOML document."""
    from monitor.notifiers import notifier_class  # late: notifiers import config for Option

    known = {"hub", "database", "metrics", "watch", "notifier", "allowlist", "content"}
    for key in data:
        if key not in known:
            raise ConfigError(key, f"unknown section (known: {', '.join(sorted(known))})")

    hub = read_options("hub", _table("hub", data.get("hub", {})), HUB_SCHEMA, base_dir)
    endpoint = hub["endpoint"] or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
    if http_url_problem(endpoint):
        raise ConfigError("hub.endpoint", f"HF_ENDPOINT {http_url_problem(endpoint)}")
    hub_cfg = HubConfig(
        endpoint=endpoint.rstrip("/"),
        token=hub["token"],
        repo_types=tuple(hub["repo_types"]),
        lookback=hub["lookback"],
        timeout=float(hub["timeout"]),
        max_retries=hub["max_retries"],
        poll_interval=float(hub["poll_interval"]),
        max_quota_share=float(hub["max_quota_share"]),
        recheck_interval=float(hub["recheck_interval"]),
        sweep_interval=float(hub["sweep_interval"]),
        sweep_budget=hub["sweep_budget"],
    )
    metrics = read_options("metrics", _table("metrics", data.get("metrics", {})), METRICS_SCHEMA, base_dir)
    metrics_cfg = MetricsConfig(listen=_listen(metrics["listen"]) if metrics["listen"] else None)

    content = read_options("content", _table("content", data.get("content", {})), CONTENT_SCHEMA, base_dir)
    content_cfg = ContentConfig(**content)

    db = read_options("database", _table("database", data.get("database", {})), DATABASE_SCHEMA, base_dir)
    try:
        db_path = Path(db["path"]).expanduser()
    except RuntimeError as err:  # `~someone/...` for a user that does not exist
        raise ConfigError("database.path", f"cannot expand {db['path']!r}: {err}") from None
    db_cfg = DatabaseConfig(path=db_path if db_path.is_absolute() else base_dir / db_path)

    notifiers: list[NotifierConfig] = []
    for i, raw in enumerate(_array_of_tables("notifier", data.get("notifier", []))):
        prefix = f"notifier[{i}]"
        common = {k: raw[k] for k in NOTIFIER_COMMON if k in raw}
        head = read_options(prefix, common, NOTIFIER_COMMON, base_dir)
        try:
            cls = notifier_class(head["type"])
        except LookupError as err:
            raise ConfigError(f"{prefix}.type", str(err)) from None
        rest = {k: v for k, v in raw.items() if k not in NOTIFIER_COMMON}
        options = read_options(prefix, rest, cls.options, base_dir, also_known=NOTIFIER_COMMON)
        problem = cls.validate(options)
        if problem:
            raise ConfigError(f"{prefix}.{problem[0]}", problem[1])
        if any(n.name == head["name"] for n in notifiers):
            raise ConfigError(f"{prefix}.name", f"duplicate notifier name {head['name']!r}")
        notifiers.append(
            NotifierConfig(
                head["name"],
                head["type"],
                MappingProxyType(options),
                min_severity=head["min_severity"],
                digest_over=head["digest_over"],
            )
        )

    watches: list[WatchConfig] = []
    raw_watches = _array_of_tables("watch", data.get("watch", []))
    if not raw_watches:
        raise ConfigError("watch", "at least one [[watch]] with terms is required")
    names = {n.name for n in notifiers}
    for i, raw in enumerate(raw_watches):
        prefix = f"watch[{i}]"
        raw = dict(raw)
        fingerprints = (
            _fingerprints(f"{prefix}.fingerprint", raw.pop("fingerprint"), base_dir)
            if "fingerprint" in raw
            else ()
        )
        w = read_options(prefix, raw, WATCH_SCHEMA, base_dir, also_known={"fingerprint": Option("str")})
        if w["terms"] is None:
            if not (w["patterns"] or w["owners"] or w["content"] or w["content_patterns"] or fingerprints):
                raise ConfigError(
                    f"{prefix}.terms",
                    "is required (or give patterns, owners, content, content_patterns"
                    " or a [[watch.fingerprint]])",
                )
            w["terms"] = []
        if any(x.name == w["name"] for x in watches):
            raise ConfigError(f"{prefix}.name", f"duplicate watch name {w['name']!r}")
        notify = w["notify"]
        if notify is not None:
            unknown = [n for n in notify if n not in names]
            if unknown:
                known_names = ", ".join(sorted(names)) or "none configured"
                raise ConfigError(
                    f"{prefix}.notify", f"names no notifier {unknown[0]!r} (known: {known_names})"
                )
        watches.append(
            WatchConfig(
                name=w["name"],
                terms=tuple(w["terms"]),
                patterns=tuple(w["patterns"]),
                fuzzy=w["fuzzy"],
                ignore_authors=tuple(w["ignore_authors"]),
                severity=w["severity"],
                notify=tuple(notify) if notify is not None else None,
                owners=tuple(w["owners"]),
                exclude=tuple(w["exclude"]),
                content=tuple(w["content"]),
                content_patterns=tuple(w["content_patterns"]),
                fingerprints=fingerprints,
            )
        )
    allow = read_options(
        "allowlist", _table("allowlist", data.get("allowlist", {})), ALLOWLIST_SCHEMA, base_dir
    )
    allowlist = (
        tuple(Suppression("repo", v) for v in allow["repos"])
        + tuple(Suppression("owner", v) for v in allow["authors"])
        + tuple(Suppression("pattern", v) for v in allow["patterns"])
    )
    return Config(
        hub=hub_cfg,
        database=db_cfg,
        watches=tuple(watches),
        notifiers=tuple(notifiers),
        source=source,
        allowlist=allowlist,
        metrics=metrics_cfg,
        content=content_cfg,
    )


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--config, then $LEAKMON_CONFIG, then ./leakmon.toml, then /etc/leakmon/leakmon.toml."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("LEAKMON_CONFIG")
    if env:
        return Path(env)
    for candidate in SEARCH_PATHS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise ConfigError("", "no config file: pass --config PATH, set LEAKMON_CONFIG, or create ./leakmon.toml")


def load(path: str | os.PathLike[str] | None = None) -> Config:
    source = find_config(path)
    try:
        text = source.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError("", f"config file {source} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError("", f"cannot read config file {source}: {err}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError("", f"{source} is not valid TOML: {err}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError("", f"{source} is not valid TOML: arrays or tables nested too deeply") from None
    return parse(data, base_dir=source.resolve().parent, source=source)


def redacted(cfg: Config) -> dict[str, Any]:
    """What `leakmon check` prints: the resolved config with every secret hidden."""
    from monitor.notifiers import notifier_class

    def show(value: Any) -> Any:
        if isinstance(value, Secret):
            return "***"
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, tuple):
            return list(value)
        return value

    notifiers = []
    for n in cfg.notifiers:
        cls = notifier_class(n.type)
        opts = {k: show(cls.redact(k, v)) for k, v in n.options.items() if v is not None}
        notifiers.append(
            {
                "name": n.name,
                "type": n.type,
                "min_severity": n.min_severity,
                "digest_over": n.digest_over,
                **opts,
            }
        )
    return {
        "source": str(cfg.source) if cfg.source else None,
        "hub": {
            "endpoint": cfg.hub.endpoint,
            "token": "***" if cfg.hub.token else None,
            "repo_types": list(cfg.hub.repo_types),
            "lookback": cfg.hub.lookback,
            "timeout": cfg.hub.timeout,
            "max_retries": cfg.hub.max_retries,
            "poll_interval": cfg.hub.poll_interval,
            "max_quota_share": cfg.hub.max_quota_share,
            "recheck_interval": cfg.hub.recheck_interval,
            "sweep_interval": cfg.hub.sweep_interval,
            "sweep_budget": cfg.hub.sweep_budget,
        },
        "metrics": {
            "listen": f"{cfg.metrics.listen[0]}:{cfg.metrics.listen[1]}" if cfg.metrics.listen else None
        },
        "database": {"path": str(cfg.database.path)},
        "content": {k: getattr(cfg.content, k) for k in ContentConfig.__slots__},
        "watch": [
            {k: show(getattr(w, k)) for k in WatchConfig.__slots__ if k != "fingerprints"}
            | {"fingerprint": [_fingerprint_dict(f) for f in w.fingerprints]}
            for w in cfg.watches
        ],
        "allowlist": [{"kind": a.kind, "value": a.value} for a in cfg.allowlist],
        "notifier": notifiers,
    }


def _fingerprint_dict(fp: FingerprintConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in FingerprintConfig.__slots__:
        value = getattr(fp, name)
        if name == "tensors":
            value = {k: list(v) for k, v in value.items()}
        elif isinstance(value, tuple):
            value = list(value)
        if value not in (None, [], {}) and not (name == "tolerance" and fp.parameters is None):
            out[name] = value
    return out
