"""Any service Apprise knows (https://github.com/caronc/apprise/wiki), through its URLs.

Needs the optional dependency: `pip install 'leakmon[apprise]'`. The URLs hold credentials, so
`leakmon check` shows only their schemes. There is no private-address guard: Apprise URLs have
dozens of schemes (some not network addresses at all), and Apprise resolves and connects itself;
operators choose these URLs. The message is plain text (Apprise converts it for each service),
clean of controls, bounded, with mentions defused: Apprise's own Discord plugin would otherwise turn
a `@everyone` in the body into a ping. Apprise does not say why a send failed: a failure is
recoverable, and a retry notifies every URL again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from monitor.config import Option, positive
from monitor.errors import DeliveryError
from monitor.notifiers.base import Notifier
from monitor.notifiers.format import Budget, clean, cut, defuse_mentions, shrink, summary_lines, title, view
from monitor.records import Alert

INSTALL = "the apprise notifier needs the optional dependency: pip install 'leakmon[apprise]'"
BODY_MAX = 4000  # characters; Apprise splits or truncates further per service
TITLE_MAX = 250


class MissingDependency(ImportError):
    """Apprise is not installed."""


def _apprise() -> Any:
    try:
        import apprise
    except ImportError:
        raise MissingDependency(INSTALL) from None
    return apprise


def _urls_problem(value: list[str]) -> str | None:
    return None if value and all(u.strip() for u in value) else "must list at least one Apprise URL"


def _quote(text: str, limit: int) -> str:
    return defuse_mentions(cut(text, limit)) if text else "–"


def _scheme(url: str) -> str:
    scheme, sep, _ = str(url).partition("://")
    return f"{clean(scheme, 20)}://***" if sep else "***"


class AppriseNotifier(Notifier):
    type: ClassVar[str] = "apprise"
    options: ClassVar[Mapping[str, Option]] = {
        "urls": Option("list", required=True, check=_urls_problem),  # secrets: use ${VAR} for each
        "timeout": Option("float", default=10.0, check=positive),
    }

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> tuple[str, str] | None:
        try:
            apprise = _apprise()
        except MissingDependency:
            return ("urls", INSTALL)
        for i, url in enumerate(options["urls"]):
            if apprise.Apprise.instantiate(url) is None:
                # Never echo the URL: it holds the credential.
                return (
                    "urls",
                    f"[{i}] ({_scheme(url)}) is not a valid Apprise URL, or its service is unavailable",
                )
        return None

    @classmethod
    def redact(cls, key: str, value: Any) -> Any:
        return [_scheme(u) for u in value] if key == "urls" and value is not None else value

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        super().__init__(name, options)
        apprise = _apprise()
        self._format = apprise.NotifyFormat.TEXT
        asset = apprise.AppriseAsset(async_mode=False, storage_mode="memory")
        self._apprise = apprise.Apprise(asset=asset)
        timeout = float(options["timeout"])
        for i, url in enumerate(options["urls"]):
            plugin = apprise.Apprise.instantiate(url, asset=asset)
            if plugin is None:
                raise ValueError(f"urls[{i}] ({_scheme(url)}) is not a valid Apprise URL")
            # Every HTTP-based plugin reads these for requests' (connect, read) timeout.
            plugin.socket_connect_timeout = timeout
            plugin.socket_read_timeout = timeout
            self._apprise.add(plugin)
        self._count = len(options["urls"])

    @staticmethod
    def render(alert: Alert) -> tuple[str, str]:
        """(title, body): plain text, clean, mentions defused, bounded."""

        def render(budget: Budget) -> tuple[str, str]:
            v = view(alert, budget)
            return title(v, _quote, 100)[:TITLE_MAX], "\n".join(summary_lines(v, _quote, budget.field))

        return shrink(render, lambda out: len(out[1]) <= BODY_MAX)

    def send(self, alert: Alert) -> None:
        head, body = self.render(alert)
        body = body[:BODY_MAX]
        try:
            ok = self._apprise.notify(title=head, body=body, body_format=self._format)
        except Exception as err:  # a plugin bug; its text may hold a URL, so only the type
            raise DeliveryError(f"apprise failed ({type(err).__name__})", recoverable=True) from None
        if not ok:
            raise DeliveryError(
                f"apprise reported a failure for at least one of {self._count} URLs (it does not say why)",
                recoverable=True,
            )


__all__ = ["INSTALL", "AppriseNotifier", "MissingDependency"]
