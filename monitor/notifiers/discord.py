"""Discord webhooks: a short `content` line and one embed, `?wait=true` so Discord confirms delivery.

Mentions never ping: `allowed_mentions` parses nothing, and Hub text is defused besides (a
zero-width space after `@` and `<`) and its Markdown escaped with backslashes. 429 carries its
wait in the JSON body (`retry_after`, seconds) or the Retry-After header: recoverable with that
wait; 404 (webhook deleted) and other 4xx are permanent; 5xx recoverable.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from monitor.notifiers.base import parse_retry_after
from monitor.notifiers.chat import ChatNotifier
from monitor.notifiers.format import (
    clean,
    cut,
    defuse_mentions,
    facts,
    fit,
    hit_line,
    intro,
    match_lines,
    more_line,
    shrink,
    title,
    view,
)
from monitor.records import Alert

CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
EMBED_TOTAL_MAX = 6000

COLOR = {"CRITICAL": 0xD32F2F, "HIGH": 0xF57C00, "MEDIUM": 0xFBC02D, "LOW": 0x1976D2}
EMOJI = {"CRITICAL": "\N{POLICE CARS REVOLVING LIGHT}", "HIGH": "\N{WARNING SIGN}\N{VARIATION SELECTOR-16}"}

_INLINE = re.compile(r"([\\*_~`|\[\]()<>:])")  # Markdown and masked-link syntax, `<...>` tokens, :emoji:
_LEADING = re.compile(r"^([#>+-]|\d+\.)")  # headings, quotes, lists, when a value starts a line


def escape(text: str) -> str:
    """Backslash before Discord Markdown; mentions defused."""
    text = _INLINE.sub(r"\\\1", text)
    text = _LEADING.sub(r"\\\1", text)
    return defuse_mentions(text)


def quote(text: str, limit: int) -> str:
    return fit(text, escape, limit) if text else "–"


def units(text: str) -> int:
    """Length as Discord counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def with_wait(url: str) -> str:
    """The URL with `wait=true` in its query, keeping the rest (e.g. `thread_id`)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "wait"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("wait", "true")])))


class DiscordNotifier(ChatNotifier):
    type: ClassVar[str] = "discord"
    service: ClassVar[str] = "Discord"

    def target(self) -> str:
        return with_wait(super().target())

    def payload(self, alert: Alert) -> dict[str, Any]:
        out = shrink(lambda budget: self.render(alert, budget), fits)
        # Last resort for any limit still exceeded: cut (escapes only ever add characters).
        embed = out["embeds"][0]
        out["content"] = cut(out["content"], CONTENT_MAX)
        embed["title"] = cut(embed["title"], TITLE_MAX)
        embed["description"] = cut(embed["description"], DESCRIPTION_MAX)
        return out

    def render(self, alert: Alert, budget: Any) -> dict[str, Any]:
        v = view(alert, budget)
        limit = budget.field
        emoji = EMOJI.get(v.severity, "\N{INFORMATION SOURCE}\N{VARIATION SELECTOR-16}")
        embed: dict[str, Any] = {
            "title": title(v, quote, min(limit, 100)),
            "color": COLOR.get(v.severity, 0x607D8B),
            "footer": {"text": "leakmon"},
            "timestamp": alert.timestamp.isoformat(),
        }
        lines = [intro(v), ""]
        if v.digest:
            for h in v.hits:
                line = "- " + hit_line(h, quote, limit)
                lines.append(line + (f" [open]({h.url})" if h.url else ""))
            if v.more:
                lines.append(more_line(v))
        else:
            h = v.hit
            if h.url:
                embed["url"] = h.url
            embed["fields"] = [
                {"name": label, "value": value, "inline": True} for label, value in facts(h, quote, limit)
            ]
            matches = match_lines(h, quote, limit)
            if matches:
                lines += ["**Matches**", *(f"- {m}" for m in matches)]
        embed["description"] = "\n".join(lines).strip()
        return {
            "content": f"{emoji} **{title(v, quote, limit)}**",
            "embeds": [embed],
            "allowed_mentions": {"parse": []},
        }

    def retry_after(self, response: requests.Response) -> float | None:
        try:
            value = response.json().get("retry_after")
        except (ValueError, AttributeError):
            value = None
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
        return parse_retry_after(response.headers.get("Retry-After")) or parse_retry_after(
            response.headers.get("X-RateLimit-Reset-After")
        )

    def detail(self, response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return ""
        if not isinstance(body, dict):
            return ""
        message = clean(body.get("message", ""), 100)
        code = body.get("code")
        return message + (f" (code {code})" if isinstance(code, int) else "")


def fits(payload: dict[str, Any]) -> bool:
    embed = payload["embeds"][0]
    fields = embed.get("fields", [])
    total = units(embed["title"]) + units(embed["description"]) + units(embed["footer"]["text"])
    total += sum(units(f["name"]) + units(f["value"]) for f in fields)
    return (
        units(payload["content"]) <= CONTENT_MAX
        and units(embed["title"]) <= TITLE_MAX
        and units(embed["description"]) <= DESCRIPTION_MAX
        and len(fields) <= FIELDS_MAX
        and all(units(f["name"]) <= FIELD_NAME_MAX and units(f["value"]) <= FIELD_VALUE_MAX for f in fields)
        and total <= EMBED_TOTAL_MAX
    )


__all__ = ["DiscordNotifier", "escape", "quote", "with_wait"]
