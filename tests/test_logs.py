"""Logs never show secrets: redaction on our lines and huggingface_hub's, no locals in tracebacks."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import structlog

from monitor import logs

SECRET_URL = "https://hooks.slack.example/services/T000/B000/XXXXsecretXXXX"


def test_secrets_are_redacted_everywhere() -> None:
    stream = io.StringIO()
    logs.configure(level="info", json=True, stream=stream)
    logs.register_secrets([SECRET_URL, "hf_tokenvalue123"])
    logs.adopt("huggingface_hub")
    log = structlog.get_logger("test")
    log.info("delivery.retry", url=SECRET_URL, nested={"token": ["hf_tokenvalue123"]})
    try:
        webhook_url = SECRET_URL  # a local that show_locals would print
        raise RuntimeError(f"failed posting to {webhook_url}")
    except RuntimeError:
        log.exception("delivery.crash")
    logging.getLogger("huggingface_hub.utils._http").warning("retrying %s with hf_tokenvalue123", SECRET_URL)
    logging.getLogger("huggingface_hub").debug("too detailed")  # below the level

    text = stream.getvalue()
    assert "XXXXsecretXXXX" not in text and "hf_tokenvalue123" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["event"] for line in lines][:2] == ["delivery.retry", "delivery.crash"]
    assert lines[2]["logger"] == "huggingface_hub.utils._http" and lines[2]["level"] == "warning"
    assert "locals" not in json.dumps(lines[1])
    assert len(lines) == 3


def test_quiet_level_drops_warnings() -> None:
    stream = io.StringIO()
    logs.configure(level="critical", json=True, stream=stream)
    logs.adopt("huggingface_hub")
    structlog.get_logger("test").warning("noise")
    logging.getLogger("huggingface_hub").warning("retrying")
    assert stream.getvalue() == ""


def test_no_secret_in_logs_when_everything_fails(sim: Any, receiver: Any, tmp_path: Path) -> None:
    """A scan with -v and --debug, a failing Hub page and a failing webhook: secrets stay hidden."""
    import subprocess
    import sys
    from datetime import UTC, datetime, timedelta

    from tests.conftest import SECRET, write_config

    token = "hf_supersecrettoken0123456789"
    hook = receiver.url + "/T000/B000/supersecretwebhookpath"
    path = write_config(tmp_path / "leakmon.toml", endpoint=sim.url, hook_url=hook)
    path.write_text(path.read_text().replace("lookback = 86400", f'lookback = 86400\ntoken = "{token}"'))
    sim.add_repo("space", "PR-Puppets/PR-Puppet-Sora", created_at=datetime.now(UTC) - timedelta(hours=1))
    sim.fail(status=500, path=r"^/api/models$", times=None)
    receiver.fail_next([500])  # logged, then retried 2 s later
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "scan", "-v", "--debug", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3, proc.stderr
    everything = proc.stdout + proc.stderr
    assert "delivery.retry" in everything and "scan.type_failed" in everything  # the errors were logged
    for secret in (token, "supersecretwebhookpath", SECRET, SECRET.removeprefix("whsec_")):
        assert secret not in everything
    assert any(r.headers.get("authorization") == f"Bearer {token}" for r in sim.requests())
