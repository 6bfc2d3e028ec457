"""Microsoft Teams through a Power Automate "Workflows" webhook, as an Adaptive Card (1.4).

The Office 365 connector webhooks are retired; a Workflow ("Post to a channel when a webhook
request is received") accepts `{"type": "message", "attachments": [<Adaptive Card>]}` and answers
202. TextBlocks and FactSet values render Markdown, so Hub text has its Markdown escaped with
backslashes and mentions defused. The whole payload stays under Teams' 28 KB message limit.
429 (Retry-After) and 5xx are recoverable, other 4xx permanent.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import requests

from monitor.notifiers.chat import ChatNotifier, error_code
from monitor.notifiers.format import (
    clean,
    defuse_mentions,
    facts,
    fit,
    hit_line,
    intro,
    json_body,
    match_lines,
    more_line,
    shrink,
    title,
    view,
)
from monitor.records import Alert

BODY_MAX = 27_000  # bytes; Teams refuses messages over about 28 KB
ACTIONS_MAX = 3

COLOR = {"CRITICAL": "Attention", "HIGH": "Attention", "MEDIUM": "Warning"}

_INLINE = re.compile(r"([\\*_~`|\[\]()<>{}#!])")
_LEADING = re.compile(r"^([>+-]|\d+\.)")


def escape(text: str) -> str:
    """Backslash before Markdown syntax; mentions defused."""
    text = _INLINE.sub(r"\\\1", text)
    text = _LEADING.sub(r"\\\1", text)
    return defuse_mentions(text)


def quote(text: str, limit: int) -> str:
    return fit(text, escape, limit) if text else "–"


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _open(url: str, label: str) -> dict[str, Any]:
    return {"type": "Action.OpenUrl", "title": label, "url": url}


class TeamsNotifier(ChatNotifier):
    type: ClassVar[str] = "teams"
    service: ClassVar[str] = "Teams"

    def payload(self, alert: Alert) -> dict[str, Any]:
        return shrink(lambda budget: self.render(alert, budget), fits)

    def render(self, alert: Alert, budget: Any) -> dict[str, Any]:
        v = view(alert, budget)
        limit = budget.field
        color = COLOR.get(v.severity, "Default")
        body: list[dict[str, Any]] = [
            _text(title(v, quote, limit), weight="Bolder", size="Medium", color=color),
            _text(intro(v), isSubtle=True, spacing="None"),
        ]
        actions: list[dict[str, Any]] = []
        if v.digest:
            summary = [
                {"title": "Hits", "value": str(v.count)},
                {"title": "Highest severity", "value": v.severity},
                {"title": "Watches", "value": ", ".join(quote(w, limit) for w in v.watches[:10])},
            ]
            body.append({"type": "FactSet", "facts": summary})
            for h in v.hits:
                line = "• " + hit_line(h, quote, limit) + (f" [open]({h.url})" if h.url else "")
                body.append(_text(line, spacing="Small"))
                if h.url and len(actions) < ACTIONS_MAX:
                    actions.append(_open(h.url, "Open " + defuse_mentions(clean(h.repo_id, 40))))
            if v.more:
                body.append(_text(more_line(v), isSubtle=True))
        else:
            h = v.hit
            body.append(
                {
                    "type": "FactSet",
                    "facts": [{"title": k, "value": val} for k, val in facts(h, quote, limit)],
                }
            )
            matches = match_lines(h, quote, limit)
            if matches:
                body.append(_text("Matches", weight="Bolder"))
                body += [_text(f"• {m}", spacing="None") for m in matches]
            if h.url:
                actions.append(_open(h.url, "Open on the Hub"))
        card: dict[str, Any] = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "msteams": {"width": "Full"},
            "body": body,
        }
        if actions:
            card["actions"] = actions
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": card,
                }
            ],
        }

    def detail(self, response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return ""
        error = body.get("error") if isinstance(body, dict) else None
        return error_code(str(error.get("code", ""))) if isinstance(error, dict) else ""


def fits(payload: dict[str, Any]) -> bool:
    return len(json_body(payload)) <= BODY_MAX


__all__ = ["TeamsNotifier", "escape", "quote"]
