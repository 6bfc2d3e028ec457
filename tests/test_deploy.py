"""deploy/: the systemd units and the environment file example.

Structural promises are checked everywhere; `systemd-analyze verify` and the offline security
score (exposure 2.0 or lower) wherever systemd-analyze is installed.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SERVICES = ("leakmon.service", "leakmon-scan.service")
UNITS = (*SERVICES, "leakmon-scan.timer")
INSTALLED_BIN = "/opt/leakmon/bin/leakmon"
MAX_EXPOSURE = 2.0
# [Service] keys that may differ between the daemon and the one-shot scan; every other one
# (identity, files, secrets, environment, sandbox) must be the same in both.
PER_UNIT = {
    "Type", "NotifyAccess", "ExecStart", "WatchdogSec", "Restart", "RestartSec",
    "RestartPreventExitStatus", "TimeoutStartSec", "TimeoutStopSec",
}  # fmt: skip


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values in order]}}: keys repeat, unlike in configparser."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        assert not line.endswith("\\"), f"{path.name}:{number}: no continuation lines, please"
        if line.startswith("["):
            assert line.endswith("]"), f"{path.name}:{number}: bad section header"
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}:{number}: setting outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}:{number}: not KEY=VALUE"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = unit.get(section, {}).get(key)
    assert values, f"[{section}] {key}= is missing"
    assert len(values) == 1, f"[{section}] {key}= is set {len(values)} times"
    return values[0]


def words(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> set[str]:
    return {w for v in unit.get(section, {}).get(key, []) for w in v.split()}


@pytest.fixture(scope="module")
def units() -> dict[str, dict[str, dict[str, list[str]]]]:
    return {name: parse_unit(DEPLOY / name) for name in UNITS}


# --- structure: what the README promises -------------------------------------------------------


def test_daemon_unit_promises(units: dict) -> None:
    unit = units["leakmon.service"]
    assert one(unit, "Service", "Type") == "notify"
    assert one(unit, "Service", "NotifyAccess") == "main"
    assert one(unit, "Service", "ExecStart") == f"{INSTALLED_BIN} run --config /etc/leakmon/leakmon.toml"
    assert one(unit, "Service", "WatchdogSec") not in ("", "0", "infinity")
    assert one(unit, "Service", "Restart") == "on-failure"
    assert one(unit, "Service", "RestartSec")
    assert one(unit, "Service", "RestartPreventExitStatus") == "2"  # a bad config stays bad
    assert one(unit, "Service", "TimeoutStopSec") == "15s"  # leakmon exits within 10 s of SIGTERM
    assert one(unit, "Unit", "StartLimitIntervalSec")
    assert one(unit, "Unit", "StartLimitBurst")
    assert "StartLimitIntervalSec" not in unit["Service"]  # ignored there since systemd 230
    assert {"leakmon-scan.service", "leakmon-scan.timer"} <= words(unit, "Unit", "Conflicts")
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def test_scan_unit_and_timer_promises(units: dict) -> None:
    scan, timer = units["leakmon-scan.service"], units["leakmon-scan.timer"]
    assert one(scan, "Service", "Type") == "oneshot"
    assert one(scan, "Service", "ExecStart") == (
        f"{INSTALLED_BIN} scan --quiet --config /etc/leakmon/leakmon.toml"
    )
    # Without --fail-on-hit exit 1 cannot happen; 2 and 3 must leave the unit failed.
    assert "--fail-on-hit" not in one(scan, "Service", "ExecStart")
    assert "SuccessExitStatus" not in scan["Service"]
    assert "Install" not in scan  # started by the timer only
    assert "leakmon.service" in words(scan, "Unit", "Conflicts")
    assert one(timer, "Timer", "Unit") == "leakmon-scan.service"
    assert one(timer, "Timer", "OnUnitActiveSec") == "5min"
    assert one(timer, "Timer", "OnBootSec")
    assert "leakmon.service" in words(timer, "Unit", "Conflicts")
    assert one(timer, "Install", "WantedBy") == "timers.target"


@pytest.mark.parametrize("name", SERVICES)
def test_service_identity_files_and_secrets(units: dict, name: str) -> None:
    unit = units[name]
    assert one(unit, "Service", "DynamicUser") == "yes"
    assert one(unit, "Service", "User") == "leakmon"  # the daemon and the scans share one UID
    assert one(unit, "Service", "StateDirectory") == "leakmon"
    assert one(unit, "Service", "StateDirectoryMode") == "0700"
    assert one(unit, "Service", "ConfigurationDirectory") == "leakmon"
    assert one(unit, "Service", "ProtectSystem") == "strict"
    assert one(unit, "Service", "CapabilityBoundingSet") == ""
    assert one(unit, "Service", "UMask") == "0077"
    assert words(unit, "Service", "RestrictAddressFamilies") == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert "IPAddressDeny" not in unit["Service"]  # the Hub's addresses change: no egress by IP
    assert "PrivateNetwork" not in unit["Service"]
    assert "HF_HUB_DISABLE_TELEMETRY=1" in unit["Service"]["Environment"]
    assert one(unit, "Service", "EnvironmentFile") == "-/etc/leakmon/leakmon.env"

    loaded = dict(v.split(":", 1) for v in unit["Service"]["LoadCredential"])
    assert loaded == {
        "hf_token": "/etc/leakmon/credentials/hf_token",
        "webhook_secret": "/etc/leakmon/credentials/webhook_secret",
    }
    # systemd 252 has no optional LoadCredential= (no "-" prefix, no ImportCredential=): a missing
    # file fails the start unless SetCredential= of the same ID gives a fallback. An empty value
    # is refused by 252, hence a lone newline.
    fallbacks = dict(v.split(":", 1) for v in unit["Service"]["SetCredential"])
    assert fallbacks == {"hf_token": "\\n", "webhook_secret": "\\n"}


def test_both_services_share_one_sandbox(units: dict) -> None:
    daemon, scan = (units[n]["Service"] for n in SERVICES)
    assert set(daemon) - PER_UNIT == set(scan) - PER_UNIT
    for key in set(daemon) - PER_UNIT:
        assert daemon[key] == scan[key], f"{key}= differs between the two services"


def test_empty_credential_fallback_means_anonymous_hub_access(tmp_path: Path) -> None:
    """What SetCredential=hf_token:\\n leaves behind when the token file is absent."""
    from monitor import config
    from monitor.hub import HubSource

    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "hf_token").write_text("\n", encoding="utf-8")
    path = tmp_path / "leakmon.toml"
    path.write_text(
        '[hub]\ntoken_file = "${CREDENTIALS_DIRECTORY}/hf_token"\n'
        '[database]\npath = "leakmon.db"\n'
        '[[watch]]\nname = "sora"\nterms = ["sora"]\n',
        encoding="utf-8",
    )
    old = os.environ.get("CREDENTIALS_DIRECTORY")
    os.environ["CREDENTIALS_DIRECTORY"] = str(creds)
    try:
        cfg = config.load(path)
    finally:
        if old is None:
            os.environ.pop("CREDENTIALS_DIRECTORY", None)
        else:
            os.environ["CREDENTIALS_DIRECTORY"] = old
    with HubSource.from_config(cfg.hub) as source:
        assert not any(k.lower() == "authorization" for k in source._headers)


def test_env_example_is_a_valid_environment_file() -> None:
    text = (DEPLOY / "leakmon.env.example").read_text(encoding="utf-8")
    assigned, commented = {}, set()
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            m = re.match(r"#([A-Z][A-Z0-9_]*)=\S", line)
            if m:
                commented.add(m.group(1))
            continue
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*=\S*", line), f"not VAR=value: {line!r}"
        key, _, value = line.partition("=")
        assigned[key] = value
    assert assigned == {"LEAKMON_CONFIG": "/etc/leakmon/leakmon.toml", "HF_HUB_DISABLE_TELEMETRY": "1"}
    assert {"HF_ENDPOINT", "HTTPS_PROXY"} <= commented


@pytest.mark.parametrize("name", SERVICES)
def test_exec_start_is_a_real_leakmon_command_line(units: dict, name: str) -> None:
    """Every option the unit passes exists on that subcommand (a rename would break the unit)."""
    argv = one(units[name], "Service", "ExecStart").split()
    assert argv[0] == INSTALLED_BIN
    subcommand, options = argv[1], [a for a in argv[2:] if a.startswith("-")]
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", subcommand, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    for option in options:
        assert re.search(rf"(^|[\s,]){re.escape(option)}\b", proc.stdout), f"{subcommand} has no {option}"


# --- systemd-analyze ---------------------------------------------------------------------------


@functools.cache
def systemd_analyze() -> str | None:
    """The systemd-analyze to use, or None: absent, or older than 252 (no --offline=true)."""
    found = shutil.which("systemd-analyze")
    if not found:
        return None
    proc = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=30)
    m = re.match(r"systemd (\d+)", proc.stdout)
    return found if m and int(m.group(1)) >= 252 else None


def analyze(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SYSTEMD_LOG_LEVEL": "info",
        "SYSTEMD_COLORS": "0",
        "SYSTEMD_PAGER": "",
        "SYSTEMD_LOG_COLOR": "0",
    }
    exe = systemd_analyze()
    if exe is None:
        pytest.skip("systemd-analyze >= 252 is not installed (needed for verify and --offline=true)")
    return subprocess.run([exe, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def leakmon_executable() -> Path:
    for candidate in (Path(sys.executable).parent / "leakmon", shutil.which("leakmon")):
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    pytest.skip("the leakmon console script is not installed (pip install -e .)")


@pytest.fixture
def unit_copies(tmp_path: Path) -> Path:
    """The units with ExecStart= pointing at this venv's leakmon: verify wants a real binary."""
    exe = str(leakmon_executable())
    for name in UNITS:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace(INSTALLED_BIN, exe), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("name", UNITS)
def test_systemd_analyze_verify_accepts_the_unit(unit_copies: Path, name: str) -> None:
    # --recursive-errors=no: a nonzero exit for warnings in this unit (by default verify exits 0
    # even on "Unknown key" or "Invalid syntax"), not for the host's own units.
    proc = analyze("verify", "--man=no", "--recursive-errors=no", str(unit_copies / name), cwd=unit_copies)
    ours = [
        line
        for line in proc.stderr.splitlines()
        if line.strip() and ("leakmon" in line or str(unit_copies) in line)
    ]
    assert proc.returncode == 0 and not ours, f"exit {proc.returncode}:\n{proc.stderr}"


@pytest.mark.parametrize("name", SERVICES)
def test_systemd_analyze_security_exposure_is_low(name: str) -> None:
    proc = analyze("security", "--offline=true", "--no-pager", str(DEPLOY / name), cwd=DEPLOY)
    assert proc.returncode == 0, proc.stderr
    assert not [line for line in proc.stderr.splitlines() if line.strip()], proc.stderr
    m = re.search(rf"Overall exposure level for {re.escape(name)}: (\d+\.\d+)", proc.stdout)
    assert m, proc.stdout[-2000:]
    score = float(m.group(1))
    assert score <= MAX_EXPOSURE, f"{name}: exposure {score} > {MAX_EXPOSURE}\n{proc.stdout}"
