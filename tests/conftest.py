"""Shared fixtures: a running Hub simulator, a real webhook receiver, real SQLite files.

The Hub is never reached: HF_ENDPOINT points at a dead loopback port before huggingface_hub is
imported, and a guard refuses every socket connection that is not to loopback.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_ENDPOINT"] = "http://127.0.0.1:9"  # the discard port: nothing answers
os.environ.pop("HF_TOKEN", None)
os.environ.pop("LEAKMON_CONFIG", None)

import pytest
from hypothesis import HealthCheck, settings

# `make stress` sets LEAKMON_STRESS=1: more examples for every property test, more crash runs,
# longer state-machine runs. `make test` runs the bounded versions.
STRESS = os.environ.get("LEAKMON_STRESS", "") not in ("", "0")

# No deadlines: the machine is shared and noisy, and a slow example is not a wrong one.
settings.register_profile(
    "leakmon", deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("leakmon-stress", parent=settings.get_profile("leakmon"), max_examples=2000)
settings.load_profile("leakmon-stress" if STRESS else "leakmon")


def scaled(normal: int, stress: int) -> int:
    """A count for `make test`, or the larger one for `make stress`."""
    return stress if STRESS else normal


BLOCKED: list[Any] = []
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _loopback(address: Any) -> bool:
    try:
        return ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback
    except ValueError:
        return str(address[0]) == "localhost"


def _guarded(real: Callable[..., Any]) -> Callable[..., Any]:
    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
            BLOCKED.append(address)
            raise OSError(f"test network guard: connection to {address!r} refused (tests stay on loopback)")
        return real(self, address)

    return connect


socket.socket.connect = _guarded(_real_connect)  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded(_real_connect_ex)  # type: ignore[method-assign]

SECRET = "whsec_" + base64.b64encode(b"leakmon-test-signing-key-32bytes").decode()


@pytest.fixture
def sim() -> Iterator[Any]:
    from monitor.hubsim import HubSimulator

    with HubSimulator() as simulator:
        yield simulator


@pytest.fixture
def receiver() -> Iterator[Any]:
    from monitor.receiver import WebhookReceiver

    with WebhookReceiver(SECRET) as r:
        yield r


def write_config(
    path: Path,
    *,
    endpoint: str | None,
    hook_url: str | None = None,
    watches: str | None = None,
    extra: str = "",
) -> Path:
    """A realistic config file for tests: one critical `sora` watch and a webhook to `hook_url`."""
    hub = f'endpoint = "{endpoint}"\n' if endpoint else ""
    text = f"""
[hub]
{hub}lookback = 86400
timeout = 5
max_retries = 2

[database]
path = "leakmon.db"
"""
    text += (
        watches
        if watches is not None
        else """
[[watch]]
name = "sora"
terms = ["sora", "sora-turbo"]
ignore_authors = ["openai"]
severity = "critical"
"""
    )
    if hook_url:
        text += f"""
[[notifier]]
name = "security"
type = "webhook"
url = "{hook_url}"
secret = "{SECRET}"
allow_private = true
timeout = 5
"""
    path.write_text(text + extra)
    return path


@pytest.fixture
def config_file(tmp_path: Path, sim: Any, receiver: Any) -> Path:
    return write_config(tmp_path / "leakmon.toml", endpoint=sim.url, hook_url=receiver.url)


@pytest.fixture
def make_scanner() -> Iterator[Callable[..., Any]]:
    """Build a Scanner from a config file with fast retries (the same code path as `leakmon scan`)."""
    from datetime import timedelta

    from monitor import config
    from monitor.dispatch import Relay, build_notifiers
    from monitor.hub import HubSource
    from monitor.scanner import Scanner
    from monitor.store import Store

    made: list[Any] = []

    def make(
        path: Path,
        *,
        schedule: tuple[float, ...] = (0.05, 0.1, 0.2),
        delivery_wait: float = 5.0,
        base_wait: float = 0.01,
        **relay_options: Any,
    ) -> Any:
        cfg = config.load(path)
        store = Store.open(cfg.database.path)
        source = HubSource.from_config(cfg.hub, base_wait=base_wait, max_wait=base_wait * 4)
        relay = Relay(
            store,
            build_notifiers(cfg.notifiers),
            schedule=schedule,
            lease=timedelta(seconds=30),
            **relay_options,
        )
        scanner = Scanner(cfg, store, source, relay, delivery_wait=delivery_wait)
        made.append(scanner)
        return scanner

    yield make
    for scanner in made:
        scanner.close()


@pytest.fixture(autouse=True)
def _fresh_logging() -> None:
    """Each test starts with structlog's defaults (a CLI test may have configured it quietly)."""
    import structlog

    structlog.reset_defaults()


@pytest.fixture(autouse=True)
def _no_escape() -> Iterator[None]:
    """Every test fails if anything tried to leave loopback."""
    BLOCKED.clear()
    yield
    assert not BLOCKED, f"a test tried to reach the network: {BLOCKED}"
