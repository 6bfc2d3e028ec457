"""Notifier registry. Built-ins register through the `leakmon.notifiers` entry-point group, like plugins."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from monitor.notifiers.base import Notifier

GROUP = "leakmon.notifiers"

# Used when the distribution's entry points are not installed (running from a bare source tree).
_BUILTIN = {
    "webhook": "monitor.notifiers.webhook:WebhookNotifier",
    "stdout": "monitor.notifiers.stdout:StdoutNotifier",
    "slack": "monitor.notifiers.slack:SlackNotifier",
    "discord": "monitor.notifiers.discord:DiscordNotifier",
    "teams": "monitor.notifiers.teams:TeamsNotifier",
    "email": "monitor.notifiers.email:EmailNotifier",
    "apprise": "monitor.notifiers.apprise_notifier:AppriseNotifier",
}


@cache
def available() -> dict[str, str]:
    """type -> "module:Class" for every notifier type this installation knows."""
    found = dict(_BUILTIN)
    for ep in entry_points(group=GROUP):
        found[ep.name] = ep.value
    return found


def notifier_class(type_name: str) -> type[Notifier]:
    """The class for a notifier `type`; LookupError names the known types."""
    import importlib

    target = available().get(type_name)
    if target is None:
        known = ", ".join(sorted(available()))
        raise LookupError(f"unknown notifier type {type_name!r} (known: {known})")
    module_name, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise LookupError(f"notifier type {type_name!r} cannot be loaded from {target}: {err}") from None
    if not (isinstance(cls, type) and issubclass(cls, Notifier)):
        raise LookupError(f"notifier type {type_name!r} ({target}) is not a leakmon Notifier")
    return cls


__all__ = ["GROUP", "Notifier", "available", "notifier_class"]
