"""Local test servers for the notifiers: a scriptable HTTP receiver and an SMTP server (aiosmtpd).

Both bind 127.0.0.1 only, record what arrived, and answer from a script, so tests exercise real
sockets, real HTTP and real SMTP (STARTTLS and implicit TLS with a certificate made per test).
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

# --- HTTP --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, dict | list):
            return json.dumps(self.body).encode(), "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return self.body, "text/plain"


class HttpReceiver:
    """Records every request; answers the next ones from `script(...)`, then `default`."""

    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply(200, "ok")
        self.requests: list[Request] = []
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    @property
    def last(self) -> Request:
        assert self.requests, "nothing arrived"
        return self.requests[-1]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 10_000_000))
                parts = urlsplit(self.path)
                with receiver._lock:
                    receiver.requests.append(
                        Request(
                            "POST",
                            parts.path,
                            parse_qs(parts.query, keep_blank_values=True),
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                    reply = receiver._script.pop(0) if receiver._script else receiver.default
                data, content_type = reply.encoded()
                self.send_response(reply.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> HttpReceiver:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)


# --- TLS -----------------------------------------------------------------------------------------


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost and its key, made with the openssl CLI.

    Raises RuntimeError when openssl is missing (the caller skips).
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl is not installed")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=20,
    )
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


# --- SMTP ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool  # the session was encrypted (STARTTLS or implicit)
    login: str | None  # the user that authenticated, if any

    @property
    def message(self) -> EmailMessage:
        msg = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


class SmtpReceiver:
    """An aiosmtpd server on 127.0.0.1 that records mail and refuses on script.

    `rcpt_replies` maps an address to the reply its RCPT gets (e.g. "550 5.1.1 no such user");
    `data_replies` answers the next DATA commands (e.g. "451 4.3.0 try later"), then 250.
    `users` enables AUTH (PLAIN/LOGIN) with these user -> password pairs.
    """

    def __init__(
        self,
        *,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.mails: list[Mail] = []
        self.rcpt_replies: dict[str, str] = {}
        self.data_replies: list[str] = []
        receiver = self

        class Handler:
            async def handle_RCPT(
                self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
            ) -> str:
                reply = receiver.rcpt_replies.get(address)
                if reply:
                    return reply
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                if receiver.data_replies:
                    return receiver.data_replies.pop(0)
                login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else None
                receiver.mails.append(
                    Mail(
                        envelope.mail_from,
                        list(envelope.rcpt_tos),
                        bytes(envelope.original_content or envelope.content),
                        server.transport.get_extra_info("ssl_object") is not None,
                        login,
                    )
                )
                return "250 Message accepted"

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
            ok = isinstance(data, LoginPassword) and (users or {}).get(data.login.decode()) == (
                data.password.decode()
            )
            return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)

        class PortZeroController(Controller):
            """aiosmtpd probes its own port once started: learn the port the OS chose first."""

            def _trigger_server(self) -> None:
                assert self.server is not None
                self.port = self.server.sockets[0].getsockname()[1]
                super()._trigger_server()

        kwargs: dict[str, Any] = {"ready_timeout": 5.0}
        if starttls is not None:
            kwargs.update(tls_context=starttls, require_starttls=False)
        if implicit_tls is not None:
            kwargs["ssl_context"] = implicit_tls
        if users is not None:
            kwargs.update(authenticator=authenticator, auth_require_tls=False)
        self._controller = PortZeroController(Handler(), hostname="127.0.0.1", port=0, **kwargs)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def __enter__(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
