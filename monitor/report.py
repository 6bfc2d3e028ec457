"""Rendering hits for people: a terminal view (`hits show`), a takedown request draft in Markdown
(`hits report`), and exports (`hits export`: CSV, JSON, Markdown).

Hub text is hostile (control characters, ANSI escapes, CR/LF, HTML, Markdown, 100 KB cards):
- on a terminal every line is cleaned of escapes and controls, and bounded;
- in Markdown a Hub value is an inline code span (nothing inside one is markup: no links, HTML or
  emphasis; its backtick fence is longer than any run of backticks in the value), multi-line text
  is a fenced code block whose fence is longer than any backtick run inside, and notes are
  backslash-escaped; no Hub text ever starts a line, so it cannot make a heading, list or fence;
- in CSV escapes and control characters (but tab and line breaks) are removed, and a cell that a
  spreadsheet would read as a formula (starting with = + - @, tab or CR) is prefixed with `'`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from monitor import __version__
from monitor.notifiers.format import _ANSI, clean, safe_url
from monitor.text import for_terminal

MAX_VALUE = 300  # characters of one Hub value
MAX_TEXT_LINES = 40  # lines of a card or app file shown
MAX_TEXT_CHARS = 4000  # characters of a card or app file shown
MAX_FILES = 50  # files listed
MAX_FINDINGS = 50
MAX_REPO_FIELDS = 30  # listing / repo-info fields shown when there is no evidence

_LINE_BREAKS = re.compile("\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")
_NOT_TEXT = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)
_BACKTICKS = re.compile("`+")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&:=\"'])")


def duration(seconds: int | None) -> str:
    """`2 h 13 min`, `45 s`; "" for None."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds} s"
    minutes, _ = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def text_lines(value: object, max_lines: int = MAX_TEXT_LINES, max_chars: int = MAX_TEXT_CHARS) -> list[str]:
    """Multi-line Hub text as clean lines: no escapes or controls, tabs as spaces, bounded."""
    text = "" if value is None else str(value)
    more = len(text) > max_chars
    text = _ANSI.sub("", text[: max_chars * 2])
    text = _NOT_TEXT.sub("", text.replace("\t", "    "))
    text = text.encode("utf-8", "replace").decode("utf-8")[:max_chars]
    lines = _LINE_BREAKS.split(text)
    if len(lines) > max_lines:
        lines, more = lines[:max_lines], True
    while lines and not lines[-1].strip():
        lines.pop()
    if more:
        lines.append("…")
    return [line.rstrip() for line in lines]


def _evidence_list(evidence: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = evidence.get(key)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _flat(repo: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Listing or repo-info metadata as (key, value) pairs, one level of nesting, bounded."""
    if not isinstance(repo, Mapping):
        return []
    out: list[tuple[str, str]] = []
    for key, value in repo.items():
        if isinstance(value, Mapping):
            out += [(f"{key}.{k}", v) for k, v in value.items()]
        else:
            out.append((str(key), value))
    rows = []
    for key, value in out[:MAX_REPO_FIELDS]:
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value[:20]) + (" …" if len(value) > 20 else "")
        elif isinstance(value, Mapping):
            value = json.dumps(value, ensure_ascii=False)
        rows.append((str(key), "" if value is None else str(value)))
    if len(out) > MAX_REPO_FIELDS:
        rows.append(("…", f"{len(out) - MAX_REPO_FIELDS} more fields"))
    return rows


def _size(value: object, *, exact: bool = False) -> str:
    """`7.3 GB`, or with `exact` `7.3 GB (7,340,032,000 bytes)`."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return "?"
    if value < 1000:
        return f"{value} B"
    scaled, units = value / 1000, ["KB", "MB", "GB", "TB", "PB"]
    while scaled >= 1000 and len(units) > 1:
        scaled /= 1000
        units.pop(0)
    return f"{scaled:.1f} {units[0]}" + (f" ({value:,} bytes)" if exact else "")


# --- terminal ------------------------------------------------------------------------------------


def _t(value: object, limit: int = MAX_VALUE) -> str:
    """One Hub value for a terminal: clean, one line, bounded."""
    return for_terminal(clean(value, limit), limit + 1) if value not in (None, "") else "–"


def show_lines(detail: Mapping[str, Any]) -> list[str]:
    """`leakmon hits show`: the hit, its matches, evidence and history, safe for a terminal."""
    d = detail
    lines = [
        f"hit #{d['id']}: {_t(d['severity'], 20).upper()} {_t(d['repo_type'], 20)} {_t(d['repo_id'])}",
        f"  status        {_t(d['status'], 20)}",
        f"  watch         {_t(d['watch'])}",
        f"  url           {_t(safe_url(d['url']) or d['url'])}",
        f"  author        {_t(d.get('author'))}",
        f"  created       {_t(d.get('created_at'), 40)} (on the Hub)",
        f"  first seen    {_t(d.get('first_seen'), 40)}",
        f"  last seen     {_t(d.get('last_seen'), 40)}",
    ]
    if d.get("checked_at"):
        lines.append(f"  checked       {_t(d['checked_at'], 40)} (last presence check)")
    if d.get("reopened_at"):
        lines.append(f"  reopened      {_t(d['reopened_at'], 40)} (the repo came back)")
    if d.get("removed_at"):
        lines.append(
            f"  removed       {_t(d['removed_at'], 40)}, {duration(d.get('time_to_removal'))} after detection"
        )
    if d.get("reupload_of"):
        original = d.get("reupload_of_hit") or {}
        what = f" ({_t(original.get('repo_type'), 20)} {_t(original.get('repo_id'))})" if original else ""
        lines.append(f"  re-upload of  hit #{d['reupload_of']}{what}")
    lines += ["", "matches:"]
    for m in d.get("matches") or []:
        if isinstance(m, Mapping):
            score = m.get("score")
            lines.append(
                f"  {_t(m.get('rule'), 20)} {_t(m.get('term'), 80)!s} in {_t(m.get('field'), 20)}: "
                f"{_t(m.get('text'))}" + (f" (score {score:.2f})" if isinstance(score, float | int) else "")
            )
    evidence = d.get("evidence")
    lines.append("")
    if isinstance(evidence, Mapping):
        lines += _evidence_lines(evidence)
    else:
        lines.append("evidence: none captured; the Hub listing recorded:")
        fields = _flat(d.get("repo"))
        lines += [f"  {_t(k, 60)}: {_t(v)}" for k, v in fields] or ["  (nothing)"]
    lines += ["", "history:"]
    history = d.get("history") or []
    if not history:
        lines.append("  (no status changes yet)")
    for e in history:
        move = f"{_t(e.get('from_status'), 20)} -> {_t(e.get('to_status'), 20)}"
        line = f"  {_t(e.get('at'), 40)}  {move} by {_t(e.get('actor'), 100)}"
        if e.get("suppression_id"):
            line += f" (suppression #{e['suppression_id']})"
        lines.append(line)
        if e.get("note"):
            lines += [f"      {for_terminal(n, 300)}" for n in text_lines(e["note"], 10, 2000)]
    return lines


def _evidence_lines(evidence: Mapping[str, Any]) -> list[str]:
    lines = [f"evidence (captured {_t(evidence.get('captured_at'), 40)}):"]
    if evidence.get("truncated"):
        lines.append(f"  shortened to fit: {_t(', '.join(map(str, evidence['truncated'])), 200)}")
    repo = evidence.get("repo")
    if isinstance(repo, Mapping):
        lines.append("  repo:")
        lines += [f"    {_t(k, 60)}: {_t(v)}" for k, v in _flat(repo)]
    files = _evidence_list(evidence, "files")
    if files or "files" in evidence:
        extra = " (not every file listed)" if evidence.get("files_truncated") else ""
        lines.append(f"  files ({len(files)}{extra}):")
        for f in files[:MAX_FILES]:
            sha = f.get("sha256")
            lines.append(
                f"    {_t(f.get('path'))}  {_size(f.get('size'))}"
                + (f"  sha256 {_t(sha, 64)}" if sha else "")
                + ("  (LFS)" if f.get("lfs") is True else "")
            )
        if len(files) > MAX_FILES:
            lines.append(f"    … and {len(files) - MAX_FILES} more")
    for key in ("card", "app"):
        part = evidence.get(key)
        if isinstance(part, Mapping):
            lines.append(f"  {key} {_t(part.get('path'), 100)}, opening text:")
            lines += [f"    | {for_terminal(line, 300)}" for line in text_lines(part.get("text"))]
    findings = _evidence_list(evidence, "findings")
    if findings:
        lines.append(f"  findings ({len(findings)}):")
        for f in findings[:MAX_FINDINGS]:
            lines.append(
                f"    {_t(f.get('rule'), 80)} in {_t(f.get('file'), 200)} line {_t(f.get('line'), 12)}: "
                f"{_t(f.get('text'))}"
            )
    errors = evidence.get("errors")
    if isinstance(errors, list) and errors:
        lines.append("  capture errors:")
        lines += [f"    {_t(e)}" for e in errors[:20]]
    return lines


# --- Markdown ------------------------------------------------------------------------------------


def md_code(value: object, limit: int = MAX_VALUE, *, cell: bool = False) -> str:
    """A Hub value as an inline code span: literal text whatever it holds. In a table `cell`, `|`
    is escaped too (GFM splits cells on it even inside code spans)."""
    text = clean(value, limit)
    if not text:
        return "–"
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    if cell:
        text = text.replace("|", "\\|")
    return f"{fence}{pad}{text}{pad}{fence}"


def md_text(value: object, limit: int = 2000) -> str:
    """Prose (a triager's note) on one line with every Markdown character backslash-escaped."""
    text = clean(value, limit)
    return _MD_SPECIAL.sub(r"\\\1", text) if text else "–"


def md_block(value: object, info: str = "text") -> list[str]:
    """Multi-line Hub text as a fenced code block that nothing inside can close."""
    lines = text_lines(value)
    longest = max((len(run) for line in lines for run in _BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", *lines, fence]


def md_link(url: object) -> str:
    """An autolink to a http(s) URL (percent-encoded so it cannot break out), else a code span."""
    safe = safe_url(url)
    return f"<{safe}>" if safe else md_code(url)


def _md_time(value: object) -> str:
    return md_code(value, 40) if value else "–"


def takedown_markdown(detail: Mapping[str, Any], *, generated_at: str) -> str:
    """A takedown request draft for the Hub's abuse channel, with the hit's evidence."""
    d = detail
    evidence = d.get("evidence") if isinstance(d.get("evidence"), Mapping) else None
    kind = {"model": "model", "dataset": "dataset", "space": "Space"}.get(
        str(d.get("repo_type")), "repository"
    )
    out = [
        f"# Takedown request: {kind} {md_code(d['repo_id'])}",
        "",
        "To: the Hugging Face abuse team",
        "",
        "Hello,",
        "",
        f"we ask you to remove the {kind} below: it distributes, or points to, an unreleased model "
        f"covered by our watch {md_code(d['watch'])} without authorisation. "
        "[Describe here who you are, what the model is and your rights to it.]",
        "",
        "## Repository",
        "",
        f"- URL: {md_link(d['url'])}",
        f"- Type: {md_code(d.get('repo_type'), 20)}",
        f"- Repo id: {md_code(d['repo_id'])}",
        f"- Owner: {md_code(d.get('author'))}",
        f"- Created on the Hub: {_md_time(d.get('created_at'))}",
        f"- First seen by our monitoring: {_md_time(d.get('first_seen'))}",
        f"- Last seen: {_md_time(d.get('last_seen'))}",
    ]
    if d.get("reopened_at"):
        out.append(f"- Uploaded again after a removal; seen again: {_md_time(d['reopened_at'])}")
    if d.get("removed_at"):
        out.append(
            f"- Removed: {_md_time(d['removed_at'])} ({duration(d.get('time_to_removal'))} after detection)"
        )
    else:
        out.append(f"- Removed: not yet (last checked {_md_time(d.get('checked_at'))})")
    original = d.get("reupload_of_hit")
    if d.get("reupload_of"):
        where = (
            f"{md_code(original.get('repo_id'))} ({md_link(original.get('url'))}, status "
            f"{md_code(original.get('status'), 20)})"
            if isinstance(original, Mapping)
            else "an earlier repo"
        )
        out.append(f"- A re-upload of the same files as {where}")
    out += ["", "## Why we believe it is our model", ""]
    matches = [m for m in d.get("matches") or [] if isinstance(m, Mapping)]
    for m in matches[:20]:
        out.append(
            f"- Its {md_code(m.get('field'), 20)} {md_code(m.get('text'))} matches "
            f"{md_code(m.get('term'), 100)} ({md_code(m.get('rule'), 20)} match)"
        )
    if not matches:
        out.append("- (no match evidence recorded)")
    out += ["", "## Evidence", ""]
    if evidence is None:
        out += ["No content was captured for this repo; the Hub listing recorded:", ""]
        fields = _flat(d.get("repo"))
        out += [f"- {md_code(k, 60)}: {md_code(v)}" for k, v in fields] or ["- (nothing)"]
    else:
        out += _evidence_markdown(evidence)
    out += ["", "## Timeline", ""]
    timeline = [
        (d.get("created_at"), "created on the Hub"),
        (d.get("first_seen"), "first seen by our monitoring"),
    ]
    for e in d.get("history") or []:
        what = f"status {md_code(e.get('to_status'), 20)}"
        if e.get("actor") == "leakmon" and e.get(
            "note"
        ):  # leakmon's own findings; people's notes stay internal
            what += f": {md_text(e['note'])}"
        timeline.append((e.get("at"), what))
    out += [f"- {_md_time(at)}: {what}" for at, what in timeline if at]
    out += [
        "",
        "Thank you,",
        "",
        "[Your name, organisation and contact]",
        "",
        "---",
        "",
        f"Draft generated by leakmon {md_code(__version__, 40)} at {md_code(generated_at, 40)} from hit "
        f"\\#{int(d['id'])}. Check every statement before sending.",
        "",
    ]
    return "\n".join(out)


def _evidence_markdown(evidence: Mapping[str, Any]) -> list[str]:
    out = [f"Captured at {_md_time(evidence.get('captured_at'))}."]
    if evidence.get("truncated"):
        out.append("Parts were shortened to keep the record bounded.")
    repo = evidence.get("repo")
    if isinstance(repo, Mapping):
        out += ["", "### Repository metadata", ""]
        out += [f"- {md_code(k, 60)}: {md_code(v)}" for k, v in _flat(repo)]
    files = _evidence_list(evidence, "files")
    if files:
        out += ["", "### Files", ""]
        if evidence.get("files_truncated"):
            out += ["Not every file is listed.", ""]
        out += ["| path | size | sha256 | LFS |", "|---|---|---|---|"]
        for f in files[:MAX_FILES]:
            out.append(
                f"| {md_code(f.get('path'), cell=True)} "
                f"| {md_code(_size(f.get('size'), exact=True), cell=True)} "
                f"| {md_code(f.get('sha256') or '', 64, cell=True)} "
                f"| {'yes' if f.get('lfs') is True else 'no'} |"
            )
        if len(files) > MAX_FILES:
            out += ["", f"And {len(files) - MAX_FILES} more files."]
    for key, title in (("card", "Card"), ("app", "Application code")):
        part = evidence.get(key)
        if isinstance(part, Mapping):
            out += ["", f"### {title} ({md_code(part.get('path'), 100)}), opening text", ""]
            out += md_block(part.get("text"))
    findings = _evidence_list(evidence, "findings")
    if findings:
        out += ["", "### Findings", ""]
        for f in findings[:MAX_FINDINGS]:
            out.append(
                f"- {md_code(f.get('rule'), 80)} in {md_code(f.get('file'), 200)}, line "
                f"{md_code(f.get('line'), 12)}: {md_code(f.get('text'))}"
            )
    errors = evidence.get("errors")
    if isinstance(errors, list) and errors:
        out += ["", "### What could not be captured", ""]
        out += [f"- {md_code(e)}" for e in errors[:20]]
    return out


# --- exports -------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "id",
    "watch",
    "severity",
    "status",
    "repo_type",
    "repo_id",
    "url",
    "author",
    "created_at",
    "first_seen",
    "last_seen",
    "removed_at",
    "reopened_at",
    "time_to_removal",
    "reupload_of",
    "matches",
    "status_changes",
    "last_change_at",
    "last_change_by",
    "last_note",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_CSV_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


def csv_cell(value: object) -> str:
    """A cell a spreadsheet reads as text: escapes and control characters other than tab and line
    breaks removed (a CSV on a terminal must not drive it), and one starting with = + - @ (or tab,
    CR) prefixed with `'` so that no spreadsheet runs it as a formula."""
    text = "" if value is None else str(value)
    text = _CSV_CONTROL.sub("", _ANSI.sub("", text))
    return "'" + text if text.startswith(_FORMULA) else text


def _csv_row(item: Mapping[str, Any]) -> list[str]:
    history = item.get("history") or []
    last = history[-1] if history else {}
    flat = dict(item)
    flat["matches"] = "; ".join(
        f"{m.get('rule')} {m.get('field')}: {m.get('text')}" for m in item.get("matches") or []
    )
    flat["status_changes"] = len(history)
    flat["last_change_at"] = last.get("at")
    flat["last_change_by"] = last.get("actor")
    flat["last_note"] = last.get("note")
    return [csv_cell(flat.get(c)) for c in CSV_COLUMNS]


def export_csv(items: Iterable[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        writer.writerow(_csv_row(item))
    return buffer.getvalue()


def export_json(items: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(list(items), ensure_ascii=False, indent=2, default=str) + "\n"


def export_markdown(items: Sequence[Mapping[str, Any]], *, generated_at: str) -> str:
    out = [
        "# leakmon hits",
        "",
        f"{len(items)} hit{'s' if len(items) != 1 else ''}, exported {md_code(generated_at, 40)}.",
        "",
        "| id | severity | status | watch | type | repo | first seen | removed | time to removal |",
        "|---:|---|---|---|---|---|---|---|---|",
    ]
    for item in items:
        cells = [
            str(int(item["id"])),
            md_code(item.get("severity"), 20, cell=True),
            md_code(item.get("status"), 20, cell=True),
            md_code(item.get("watch"), 100, cell=True),
            md_code(item.get("repo_type"), 20, cell=True),
            md_code(item.get("repo_id"), cell=True),
            md_code(item.get("first_seen"), 40, cell=True),
            md_code(item.get("removed_at"), 40, cell=True) if item.get("removed_at") else "",
            duration(item.get("time_to_removal")),
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def now_stamp(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")
