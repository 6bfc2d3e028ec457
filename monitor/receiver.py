"""A local Standard Webhooks receiver: what `leakmon demo` delivers to, and what tests use.

It verifies each signature, can fail on script (status codes for the next N requests) or answer
slowly (`delay` seconds before each answer), and keeps every request it received. Binds 127.0.0.1
only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered
    verified: bool  # signature valid for the configured secret
    received_at: float = 0.0  # time.time() when it arrived

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks v1 verification."""
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
        signatures = headers["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest())
    return any(s.startswith("v1,") and hmac.compare_digest(s[3:].encode(), expected) for s in signatures)


class WebhookReceiver:
    def __init__(self, secret: str | None = None, *, port: int = 0) -> None:
        self.secret = secret
        self.deliveries: list[Delivery] = []
        self._script: list[int] = []
        self.delay = 0.0  # seconds to wait before answering (a slow receiver; a sender may time out)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._arrived = threading.Condition(self._lock)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def fail_next(self, statuses: Iterable[int]) -> None:
        """Answer the next requests with these status codes (then 204 again)."""
        with self._lock:
            self._script.extend(statuses)

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Block until at least `count` successful deliveries arrived."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.accepted()) >= count, timeout=timeout)

    def accepted(self) -> list[Delivery]:
        return [d for d in self.deliveries if 200 <= d.status < 300]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 10_000_000))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if receiver.delay > 0:
                    time.sleep(receiver.delay)
                with receiver._lock:
                    status = receiver._script.pop(0) if receiver._script else 204
                ok = verify(receiver.secret, headers, body) if receiver.secret else False
                if receiver.secret and not ok and 200 <= status < 300:
                    status = 401
                # Recorded before answering, so a sender that got its answer finds the delivery here.
                with receiver._arrived:
                    receiver.deliveries.append(Delivery(self.path, headers, body, status, ok, time.time()))
                    receiver._arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> WebhookReceiver:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # prompt shutdown
            name="webhook-receiver",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
