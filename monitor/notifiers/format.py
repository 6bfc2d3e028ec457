"""What every chat and mail notifier shares: making hostile Hub text safe, and saying what leaked.

Everything in an alert's `data` that came from the Hub (repo ids, authors, match texts, titles) is
hostile. `view()` turns an alert into a bounded `AlertView` whose strings are clean (no C0/C1
controls, no ANSI escapes, no CR/LF, no bidi or zero-width characters) and capped, but not yet
escaped: each notifier escapes them for its service with a `Quote` function and checks the result
against the service's limits, shrinking the budget (`BUDGETS`) until it fits.

"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from monitor.config import SEVERITIES
from monitor.records import Alert

MAX_FIELD = 300  # characters of one Hub value, before escaping
MAX_LISTED = 20  # hits a digest lists by name; the rest are counted
MAX_MATCHES = 3  # matches shown per hit


# ANSI/VT escape sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), and two-byte ESC x.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?|\x9b[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b.?"
)
# Line breaks of every kind become one space.
_BREAKS = re.compile("[\r\n\t\x0b\x0c\x85\u2028\u2029]+")
# What remains of C0/C1 controls, DEL, and format characters that can reorder or hide text.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")
_SPACES = re.compile(r" {2,}")
_SURROGATE = re.compile("[\ud800-\udfff]")
ELLIPSIS = "…"

# Quote(text, limit): render one clean Hub value for a service, escaped, at most `limit` long.
Quote = Callable[[str, int], str]


def clean(value: object, limit: int = MAX_FIELD) -> str:
    """One line of plain text: no escapes or controls, whitespace collapsed, at most `limit` chars."""
    text = "" if value is None else str(value)
    if len(text) > 8 * limit + 1024:  # bound the work on 100 KB inputs; ANSI runs are rarely longer
        text = text[: 8 * limit + 1024]
    text = _ANSI.sub("", text)
    text = _BREAKS.sub(" ", text)
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text).strip()
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates
    return cut(text, limit)


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, marking a cut with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + ELLIPSIS if limit > 0 else ""


def fit(text: str, escape: Callable[[str], str], limit: int) -> str:
    """`escape(text)` in at most `limit` characters, shortening the text, never cutting an escape."""
    out = escape(text)
    if len(out) <= limit:
        return out
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix whose escaped form and an ellipsis fit
        mid = (lo + hi + 1) // 2
        if len(escape(text[:mid])) + 1 <= limit:
            lo = mid
        else:
            hi = mid - 1
    return escape(text[:lo]) + ELLIPSIS if limit > 0 else ""


def plain(text: str, limit: int) -> str:
    """The Quote of plain-text channels (mail text part, subject): clean text, cut to `limit`."""
    return cut(text, limit)


def defuse_mentions(text: str) -> str:
    """A zero-width space after `@` and `<`: no `@everyone`, `@here`, `<@id>`, `<!channel>` survives."""
    return text.replace("@", "@\u200b").replace("<", "<\u200b")


def safe_url(value: object, limit: int = 2000) -> str:
    """An http(s) link fit for any markup, or "" if it is none.

    Characters that could close a Markdown, Slack or HTML link (`|<>()[]"'` `` ` `` spaces, controls)
    are percent-encoded in the path, query and fragment; a host with anything odd is refused.
    """
    text = "" if value is None else str(value).strip()
    if not text or len(text) > limit or _SURROGATE.search(text):
        return ""  # a lone surrogate (JSON "\ud800" decodes to one) has no UTF-8 form to percent-encode
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not host:
        return ""
    if not re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", parts.netloc):  # no userinfo, no odd characters
        return ""
    safe = "/:!$&+,;=%~-._*"  # not `@`: no mention can hide in a link
    link = urlunsplit(
        (
            parts.scheme.lower(),
            parts.netloc,
            quote(parts.path, safe=safe),
            quote(parts.query, safe=safe + "?"),
            quote(parts.fragment, safe=safe + "?"),
        )
    )
    # Percent-encoding can make a link up to 9 times longer: keep the bound on what is sent too
    # (Slack refuses a message whose link or section passes its limits, on every retry).
    return link if len(link) <= limit else ""


# --- the view: one alert, clean and bounded -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatchView:
    rule: str
    field: str
    term: str
    text: str
    where: str  # "app.py:12" for evidence read from a file, else ""


@dataclass(frozen=True, slots=True)
class HitView:
    severity: str  # upper case
    watch: str
    repo_type: str
    repo_id: str
    url: str  # safe_url() or ""
    author: str
    created_at: str
    removed_at: str
    basis: str  # what the severity rests on, in words ("" for a name match)
    matches: tuple[MatchView, ...]
    more_matches: int
    previous_removed_at: str = ""  # hit.reopened: when the repo had been removed
    reupload_of: str = ""  # "#17": the removed hit this one re-uploads (same fingerprint or files)


@dataclass(frozen=True, slots=True)
class AlertView:
    event: str
    test: bool
    removed: bool
    digest: bool
    reopened: bool  # hit.reopened: a removed leak is back (a re-upload)
    hits: tuple[HitView, ...]  # at most `listed`
    count: int  # hits the alert carries (a digest may carry more than it lists)
    severity: str  # the highest, upper case
    watches: tuple[str, ...]  # distinct, in order of appearance

    @property
    def more(self) -> int:
        return max(self.count - len(self.hits), 0)

    @property
    def hit(self) -> HitView:
        """The one hit of a non-digest alert (a placeholder if the data was empty)."""
        return self.hits[0] if self.hits else _EMPTY_HIT


_EMPTY_HIT = HitView("HIGH", "", "", "", "", "", "", "", "", (), 0)


@dataclass(frozen=True, slots=True)
class Budget:
    field: int  # characters per Hub value
    listed: int  # hits listed in a digest


# Tried in order until the rendered message fits the service's limits.
BUDGETS = (Budget(300, 20), Budget(150, 20), Budget(100, 10), Budget(60, 5), Budget(30, 3), Budget(16, 1))


def _severity(value: object) -> str:
    text = clean(value, 20).lower()
    return text.upper() if text in SEVERITIES else (text.upper() or "HIGH")


# Fixed wording for a hit's `basis`: what its severity rests on.
BASIS_WORDS = {
    "sha256": "a known file's sha256 (critical)",
    "fingerprint": "model metadata matching a fingerprint (high)",
    "content": "a watched string in the repo's files (high)",
}


def _where(m: Mapping[str, Any]) -> str:
    path = clean(m.get("file"), 200) if m.get("file") else ""
    line = m.get("line")
    return f"{path}:{line}" if path and isinstance(line, int) and not isinstance(line, bool) else path


def _hit_ref(value: object) -> str:
    """`#17` for a hit id; nothing for anything else (the value is ours, but checked anyway)."""
    return f"#{value}" if isinstance(value, int) and not isinstance(value, bool) and value > 0 else ""


def _hit(data: Mapping[str, Any], limit: int) -> HitView:
    raw_matches = data.get("matches")
    matches = [m for m in raw_matches if isinstance(m, Mapping)] if isinstance(raw_matches, list) else []
    return HitView(
        severity=_severity(data.get("severity")),
        watch=clean(data.get("watch"), limit),
        repo_type=clean(data.get("repo_type"), 20),
        repo_id=clean(data.get("repo_id"), limit),
        url=safe_url(data.get("url")),
        author=clean(data.get("author"), limit),
        created_at=clean(data.get("created_at"), 40),
        removed_at=clean(data.get("removed_at"), 40),
        basis=BASIS_WORDS.get(str(data.get("basis")), ""),
        matches=tuple(
            MatchView(
                rule=clean(m.get("rule"), 20),
                field=clean(m.get("field"), 20),
                term=clean(m.get("term"), limit),
                text=clean(m.get("text"), limit),
                where=_where(m),
            )
            for m in matches[:MAX_MATCHES]
        ),
        more_matches=max(len(matches) - MAX_MATCHES, 0),
        previous_removed_at=clean(data.get("previous_removed_at"), 40),
        reupload_of=_hit_ref(data.get("reupload_of")),
    )


def view(alert: Alert, budget: Budget = BUDGETS[0]) -> AlertView:
    """The alert as clean, bounded text; nothing escaped yet."""
    try:
        raw_hits = [h for h in alert.hits if isinstance(h, Mapping)]
    except (KeyError, TypeError):
        raw_hits = []
    listed = raw_hits[: budget.listed] if alert.event == "hit.digest" else raw_hits[:1]
    hits = tuple(_hit(h, budget.field) for h in listed)
    count = len(raw_hits)
    if alert.event == "hit.digest" and isinstance(alert.data.get("count"), int):
        count = max(count, alert.data["count"])
    rank = {s.upper(): i for i, s in enumerate(SEVERITIES)}
    severities = [_severity(h.get("severity")) for h in raw_hits] or ["HIGH"]
    watches: list[str] = []
    for h in raw_hits:
        name = clean(h.get("watch"), budget.field)
        if name not in watches:
            watches.append(name)
    return AlertView(
        event=alert.event,
        test=alert.event == "test",
        removed=alert.event == "hit.removed",
        digest=alert.event == "hit.digest",
        reopened=alert.event == "hit.reopened",
        hits=hits,
        count=max(count, len(hits)),
        severity=max(severities, key=lambda s: rank.get(s, -1)),
        watches=tuple(watches),
    )


# --- wording, shared by every service; `q` escapes each Hub value for the service ----------------


def title(v: AlertView, q: Quote, limit: int) -> str:
    """`CRITICAL sora: space owner/name`; `REMOVED ...`; `RE-UPLOADED CRITICAL ...`;
    `CRITICAL 12 hits: sora, gpt5`; `TEST ...`."""
    test = "TEST " if v.test else ""
    if v.digest:
        names = ", ".join(q(w, limit) for w in v.watches[:5])
        extra = f" and {len(v.watches) - 5} more" if len(v.watches) > 5 else ""
        return f"{test}{v.severity} {v.count} hits: {names}{extra}"
    h = v.hit
    lead = "REMOVED" if v.removed else f"RE-UPLOADED {h.severity}" if v.reopened else h.severity
    return f"{test}{lead} {q(h.watch, limit)}: {q(h.repo_type, 20)} {q(h.repo_id, limit)}"


def intro(v: AlertView) -> str:
    """One sentence of fixed text (no Hub text) saying what happened."""
    if v.test:
        return "TEST alert sent by leakmon notify-test: nothing leaked, this only checks delivery."
    if v.digest:
        return f"{v.count} Hub repos match leak watches."
    if v.removed:
        return "The repo is gone from the Hub (deleted, renamed or made private)."
    if v.reopened:
        return "A leak that had been removed is back on the Hub: the repo was uploaded again."
    if not v.digest and v.hit.reupload_of:
        return "A leak that had been removed is back on the Hub, under another name."
    return "A new Hub repo matches a leak watch."


def facts(h: HitView, q: Quote, limit: int) -> list[tuple[str, str]]:
    """(label, escaped value) pairs; labels are fixed text."""
    rows = [
        ("Severity", h.severity),
        ("Watch", q(h.watch, limit)),
        ("Repo type", q(h.repo_type, 20)),
        ("Repo", q(h.repo_id, limit)),
    ]
    if h.author:
        rows.append(("Author", q(h.author, limit)))
    if h.created_at:
        rows.append(("Created", q(h.created_at, 40)))
    if h.removed_at:
        rows.append(("Removed", q(h.removed_at, 40)))
    if h.previous_removed_at:
        rows.append(("Removed before", q(h.previous_removed_at, 40)))
    if h.reupload_of:
        rows.append(("Re-upload of", f"hit {h.reupload_of}, whose repo was removed"))
    if h.basis:
        rows.append(("Evidence", h.basis))
    return rows


def _match(m: MatchView, q: Quote, limit: int) -> str:
    where = f" {q(m.where, 200)}" if m.where else ""
    return f"{q(m.rule, 20)} match on {q(m.field, 20)}{where}: {q(m.text, limit)}"


def match_lines(h: HitView, q: Quote, limit: int) -> list[str]:
    lines = [_match(m, q, limit) for m in h.matches]
    if h.more_matches:
        lines.append(f"and {h.more_matches} more matches")
    return lines


def hit_line(h: HitView, q: Quote, limit: int) -> str:
    """One digest line: `CRITICAL sora: model owner/name, term match on repo_id: text`."""
    line = f"{h.severity} {q(h.watch, limit)}: {q(h.repo_type, 20)} {q(h.repo_id, limit)}"
    if h.matches:
        line += ", " + _match(h.matches[0], q, limit)
    return line


def more_line(v: AlertView) -> str:
    return f"and {v.more} more" if v.more else ""


def summary_lines(v: AlertView, q: Quote = plain, limit: int = MAX_FIELD, links: bool = True) -> list[str]:
    """The whole message as lines of text, for plain-text channels (mail, Apprise, fallbacks)."""
    lines = [title(v, q, limit), "", intro(v), ""]
    if v.digest:
        for h in v.hits:
            lines.append("- " + hit_line(h, q, limit))
            if links and h.url:
                lines.append("  " + h.url)
        if v.more:
            lines.append(more_line(v))
        return lines
    h = v.hit
    lines += [f"{label}: {value}" for label, value in facts(h, q, limit)]
    if links and h.url:
        lines.append(f"Link: {h.url}")
    matches = match_lines(h, q, limit)
    if matches:
        lines += ["", "Matches:"] + [f"- {m}" for m in matches]
    return lines


def shrink(render: Callable[[Budget], Any], fits: Callable[[Any], bool]) -> Any:
    """The first rendering, largest budget first, that fits; the smallest budget's otherwise."""
    out = None
    for budget in BUDGETS:
        out = render(budget)
        if fits(out):
            return out
    return out


def chunk(lines: Iterable[str], size: int, sep: str = "\n") -> list[str]:
    """Join lines into blocks of at most `size` characters; a longer line stays whole, alone."""
    blocks: list[str] = []
    current = ""
    for line in lines:
        if current and len(current) + len(sep) + len(line) > size:
            blocks.append(current)
            current = line
        else:
            current = f"{current}{sep}{line}" if current else line
    if current:
        blocks.append(current)
    return blocks


def json_body(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
