"""Slack incoming webhooks, as Block Kit with a plain `text` fallback.

Hub text is escaped (`&`, `<`, `>` as entities, so `<!channel>`, `<@U123>` and `<http://x|y>` stay
text) and shown in code spans, where mrkdwn `*_~` has no effect (a backtick becomes `ˋ`). Slack
answers 200 `ok`; 404/410 (`channel_not_found`, `no_service`, `invalid_token`...) are permanent,
429 (with Retry-After) and 5xx recoverable. At most one message a second per notifier.
"""

from __future__ import annotations

from typing import Any, ClassVar

import requests

from monitor.notifiers.chat import ChatNotifier, error_code
from monitor.notifiers.format import (
    chunk,
    cut,
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

SECTION_MAX = 3000  # characters of a section's text
FIELD_MAX = 2000  # characters of one section field
FIELDS_MAX = 10
BLOCKS_MAX = 50
TEXT_MAX = 3000  # our cap for the notification fallback (Slack truncates at 40,000)
BODY_MAX = 40_000  # bytes of the whole payload, ours

EMOJI = {"CRITICAL": ":rotating_light:", "HIGH": ":warning:", "MEDIUM": ":large_orange_diamond:"}


def escape(text: str) -> str:
    """Slack's three entities; `@` defused; backticks replaced so a code span cannot be closed."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "ˋ")
    return text.replace("@", "@\u200b")


def quote(text: str, limit: int) -> str:
    """A Hub value as an inline code span: no mrkdwn, no mentions, no links."""
    return f"`{fit(text, escape, limit)}`" if text else "–"


def link(url: str, label: str) -> str:
    """`<url|label>` with a fixed label; `safe_url` already percent-encoded `|<>` in the URL."""
    return f"<{url.replace('&', '&amp;')}|{label}>"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


class SlackNotifier(ChatNotifier):
    type: ClassVar[str] = "slack"
    service: ClassVar[str] = "Slack"
    min_interval: ClassVar[float] = 1.0  # Slack allows about one message a second per webhook

    def payload(self, alert: Alert) -> dict[str, Any]:
        return shrink(lambda budget: self.render(alert, budget), fits)

    def render(self, alert: Alert, budget: Any) -> dict[str, Any]:
        v = view(alert, budget)
        limit = budget.field
        head = title(v, quote, limit)
        blocks: list[dict[str, Any]] = [
            _section(f"{EMOJI.get(v.severity, ':information_source:')} *{head}*"),
            _context(intro(v)),
        ]
        if v.digest:
            lines = []
            for h in v.hits:
                line = "• " + hit_line(h, quote, limit)
                lines.append(line + (" " + link(h.url, "open") if h.url else ""))
            blocks += [_section(text) for text in chunk(lines, SECTION_MAX)]
            if v.more:
                blocks.append(_context(more_line(v)))
        else:
            h = v.hit
            fields = [
                {"type": "mrkdwn", "text": f"*{label}*\n{value}"} for label, value in facts(h, quote, limit)
            ]
            blocks.append({"type": "section", "fields": fields[:FIELDS_MAX]})
            matches = match_lines(h, quote, limit)
            if matches:
                blocks.append(_section("*Matches*\n" + "\n".join(f"• {m}" for m in matches)))
            if h.url:
                button = {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open on the Hub"},
                    "url": h.url,
                }
                blocks.append({"type": "actions", "elements": [button]})
        text = cut(f"{head}: {intro(v)}", TEXT_MAX)
        return {"text": text, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}

    def detail(self, response: requests.Response) -> str:
        return error_code(response.text[:100])


def fits(payload: dict[str, Any]) -> bool:
    """Slack's documented limits for blocks, sections and fields, and our overall caps."""
    blocks = payload["blocks"]
    if len(blocks) > BLOCKS_MAX or len(payload["text"]) > TEXT_MAX:
        return False
    for block in blocks:
        if "text" in block and len(block["text"]["text"]) > SECTION_MAX:
            return False
        fields = block.get("fields", [])
        if len(fields) > FIELDS_MAX or any(len(f["text"]) > FIELD_MAX for f in fields):
            return False
        texts = [e["text"] for e in block.get("elements", []) if e.get("type") == "mrkdwn"]
        if any(len(t) > SECTION_MAX for t in texts):
            return False
    return len(json_body(payload)) <= BODY_MAX


__all__ = ["SlackNotifier", "escape", "quote"]
