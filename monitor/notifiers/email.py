"""Email through an SMTP server: a text part and an HTML part, one message per alert.

TLS is verified with `ssl.create_default_context()` (or a given CA bundle) for both STARTTLS and
implicit TLS: Python's `starttls()` without a context would not check the certificate. Header values
are built from clean text only (no CR/LF or controls), so a hostile repo id cannot add headers
and cannot make the message fail on every retry. The Message-ID derives from the delivery id, so
every retry of one alert carries the same one. SMTP 4xx replies, timeouts and connection errors are
recoverable; 5xx replies (550 recipient rejected, 535 authentication failed) and certificate
failures are permanent.
"""

from __future__ import annotations

import html
import os
import re
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, ClassVar

from monitor.config import Option, positive
from monitor.errors import DeliveryError
from monitor.notifiers.base import Notifier, check_target, literal_target_problem
from monitor.notifiers.format import (
    clean,
    cut,
    facts,
    hit_line,
    intro,
    match_lines,
    more_line,
    plain,
    summary_lines,
    title,
    view,
)
from monitor.records import Alert

SUBJECT_MAX = 200
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _address_problem(value: str) -> str | None:
    if _UNSAFE.search(value):
        return "must not contain line breaks or control characters"
    if "@" not in parseaddr(value)[1]:
        return f"{value!r} is not an email address (name@example.org or 'Name <name@example.org>')"
    try:
        EmailMessage()["To"] = value
    except (ValueError, TypeError, IndexError) as err:
        return f"{value!r} is not a valid address ({err})"
    return None


def _addresses_problem(value: list[str]) -> str | None:
    if not value:
        return "must list at least one address"
    for address in value:
        problem = _address_problem(address)
        if problem:
            return problem
    return None


def _host_problem(value: str) -> str | None:
    if not value or _UNSAFE.search(value) or not re.fullmatch(r"[A-Za-z0-9.:_-]+|\[[0-9A-Fa-f:.]+\]", value):
        return "must be a host name or IP address"
    return None


def _port_problem(value: int) -> str | None:
    return None if 0 < value < 65536 else "must be between 1 and 65535"


def _netloc(host: str, port: int) -> str:
    host = host.strip("[]")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def message_id(delivery_id: str) -> str:
    """`<delivery_id@leakmon>`, the same for every retry of one alert."""
    local = re.sub(r"[^A-Za-z0-9._-]", "-", delivery_id)[:200] or "alert"
    return f"<{local}@leakmon>"


def _html_quote(text: str, limit: int) -> str:
    return html.escape(cut(text, limit)) if text else "–"


class EmailNotifier(Notifier):
    type: ClassVar[str] = "email"
    options: ClassVar[Mapping[str, Option]] = {
        "host": Option("str", required=True, check=_host_problem),
        "port": Option("int", check=_port_problem),  # default: 587, or 465 with ssl = true
        "starttls": Option("bool", default=True),
        "ssl": Option("bool", default=False),
        "username": Option("str"),
        "password": Option("secret", file_ok=True),
        "from": Option("str", required=True, check=_address_problem),
        "to": Option("list", required=True, check=_addresses_problem),
        "cafile": Option("str"),
        "allow_private": Option("bool", default=False),
        "timeout": Option("float", default=10.0, check=positive),
    }

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> tuple[str, str] | None:
        port = options["port"] or (465 if options["ssl"] else 587)
        problem = literal_target_problem(f"smtp://{_netloc(options['host'], port)}", options["allow_private"])
        if problem:
            return ("host", problem)
        if options["password"] is not None and not options["username"]:
            return ("username", "is required when a password is given")
        if options["username"] and options["password"] is None:
            return ("password", "is required when a username is given (or password_file)")
        if options["username"] and not (options["starttls"] or options["ssl"]):
            return (
                "starttls",
                "must be true (or ssl = true) to send a password: it would cross in clear text",
            )
        cafile = options["cafile"]
        if cafile is not None and not (os.path.isabs(cafile) and os.path.isfile(cafile)):
            return ("cafile", f"must be the absolute path of a PEM file ({cafile!r} is not)")
        return None

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        super().__init__(name, options)
        self.host = options["host"].strip("[]")
        self.port = options["port"] or (465 if options["ssl"] else 587)

    # --- the message ---------------------------------------------------------------------------

    def message(self, alert: Alert) -> EmailMessage:
        v = view(alert)
        msg = EmailMessage()
        # Every header value is clean text: CR/LF and controls were removed by view()/clean().
        msg["Subject"] = clean("[leakmon] " + title(v, plain, 120), SUBJECT_MAX)
        msg["From"] = self.config["from"]
        msg["To"] = ", ".join(self.config["to"])
        msg["Date"] = format_datetime(alert.timestamp)
        msg["Message-ID"] = message_id(alert.delivery_id)
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Leakmon-Event"] = clean(alert.event, 40)
        text = "\n".join(summary_lines(v)).strip() + "\n\n-- \nleakmon\n"
        msg.set_content(text, charset="utf-8")
        msg.add_alternative(self.html(v), subtype="html", charset="utf-8")
        return msg

    @staticmethod
    def html(v: Any) -> str:
        q = _html_quote
        parts = [
            "<!DOCTYPE html><html><body>",
            f"<h2>{q(title(v, plain, 300), 1000)}</h2>",
            f"<p>{html.escape(intro(v))}</p>",
        ]
        if v.digest:
            parts.append("<ul>")
            for h in v.hits:
                link = f' <a href="{html.escape(h.url)}">open</a>' if h.url else ""
                parts.append(f"<li>{hit_line(h, q, 300)}{link}</li>")
            parts.append("</ul>")
            if v.more:
                parts.append(f"<p>{more_line(v)}</p>")
        else:
            h = v.hit
            rows = "".join(f"<tr><th align='left'>{k}</th><td>{val}</td></tr>" for k, val in facts(h, q, 300))
            parts.append(f"<table>{rows}</table>")
            if h.url:
                parts.append(f'<p><a href="{html.escape(h.url)}">Open on the Hub</a></p>')
            matches = match_lines(h, q, 300)
            if matches:
                parts.append("<h3>Matches</h3><ul>" + "".join(f"<li>{m}</li>" for m in matches) + "</ul>")
        parts.append("<p style='color:#888'>leakmon</p></body></html>")
        return "\n".join(parts)

    # --- delivery ------------------------------------------------------------------------------

    def send(self, alert: Alert) -> None:
        check_target(f"smtp://{_netloc(self.host, self.port)}", self.config["allow_private"])
        msg = self.message(alert)
        timeout = self.config["timeout"]
        try:
            context = ssl.create_default_context(cafile=self.config["cafile"])
        except (OSError, ValueError) as err:  # ssl.SSLError is an OSError
            raise DeliveryError(f"cannot load cafile: {clean(err, 200)}", recoverable=False) from None
        smtp: smtplib.SMTP | None = None
        try:
            if self.config["ssl"]:
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=timeout, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=timeout)
                if self.config["starttls"]:
                    smtp.ehlo()
                    smtp.starttls(context=context)
                    smtp.ehlo()
            if self.config["username"]:
                smtp.login(self.config["username"], self.config["password"].reveal())
            refused = smtp.send_message(msg, from_addr=parseaddr(self.config["from"])[1], to_addrs=self.to)
        except Exception as err:
            raise self._error(err) from None
        finally:
            if smtp is not None:
                _quit(smtp)
        if refused:
            raise _refused(refused, len(self.to))

    @property
    def to(self) -> list[str]:
        return [parseaddr(a)[1] for a in self.config["to"]]

    def _error(self, err: Exception) -> DeliveryError:
        where = f"{self.host}:{self.port}"
        if isinstance(err, ssl.SSLCertVerificationError):
            reason = clean(err.verify_message or err.reason or "", 120)
            return DeliveryError(f"TLS certificate of {where} not trusted: {reason}", recoverable=False)
        if isinstance(err, ssl.SSLError):
            return DeliveryError(
                f"TLS with {where} failed: {clean(err.reason or err, 120)}", recoverable=False
            )
        if isinstance(err, smtplib.SMTPRecipientsRefused):
            return _refused(err.recipients, len(err.recipients))
        if isinstance(err, smtplib.SMTPResponseException):
            return _reply_error(err.smtp_code, err.smtp_error, type(err).__name__)
        if isinstance(err, smtplib.SMTPNotSupportedError):
            return DeliveryError(f"{where}: {clean(err, 200)}", recoverable=False)
        if isinstance(err, TimeoutError):
            return DeliveryError(f"{where} timed out after {self.config['timeout']:g} s", recoverable=True)
        if isinstance(err, OSError):  # refused, reset, disconnected, other SMTPException
            return DeliveryError(f"connection to {where} failed ({type(err).__name__})", recoverable=True)
        return DeliveryError(f"sending to {where} failed ({type(err).__name__})", recoverable=True)


def _reply_error(code: int, reply: bytes | str, what: str) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    recoverable = not 500 <= code < 600  # 4xx transient; 5xx permanent; anything odd retried
    return DeliveryError(f"SMTP {code} {clean(text, 200)} ({what})", recoverable=recoverable)


def _refused(recipients: Mapping[str, tuple[int, bytes]], total: int) -> DeliveryError:
    listed = "; ".join(
        f"{clean(addr, 100)}: {code} {clean(reply.decode('utf-8', 'replace'), 100)}"
        for addr, (code, reply) in list(recipients.items())[:5]
    )
    transient = any(400 <= code < 500 for code, _ in recipients.values())
    return DeliveryError(
        f"recipients refused ({len(recipients)} of {total}): {listed}", recoverable=transient
    )


def _quit(smtp: smtplib.SMTP) -> None:
    """End the session; the message is already accepted or failed, so errors here change nothing."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()


__all__ = ["EmailNotifier", "message_id"]
