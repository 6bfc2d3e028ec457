"""Logs never show secrets: redaction on our lines and huggingface_hub's, no locals in tracebacks."""

from __future__ import annotations

import io
import json
import logging

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
