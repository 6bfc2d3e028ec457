"""`hits show`, `hits report` and `hits export` on real databases: the evidence in the takedown
draft, exports that parse back to what was stored, and hostile Hub text that stays text (a
CommonMark + GFM-table + linkify renderer checks the Markdown)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt
from markdown_it.token import Token

from monitor.cli import cli
from monitor.records import Match, Repo
from monitor.report import CSV_COLUMNS
from monitor.store import NewHit, Store
from tests.conftest import write_config
from tests.test_store import realistic_evidence

SORA = "PR-Puppets/PR-Puppet-Sora"
SORA_URL = f"https://huggingface.co/spaces/{SORA}"

# Everything a hostile card, repo or file name could try in Markdown, HTML, a terminal or a sheet.
EVIL = (
    "x\n# Injected heading\r\n## another\n[click](http://evil.example/a) <http://evil.example/b> "
    "http://evil.example/c ![img](http://evil.example/i.png) <img src=x onerror=alert(1)> "
    "<script>alert(1)</script> ```\n~~~\n`code` **bold** | cell | &lt; &amp; "
    "\x1b[2J\x1b]8;;http://evil.example/osc\x07osc\x1b]8;;\x07 \u202edir\u202c \x00\x07\x85\u2028 "
    '=HYPERLINK("http://evil.example") - > quote\n1. list\n    indented code\n'
)
CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")  # \n is ours
MARKDOWN = MarkdownIt("commonmark", {"linkify": True}).enable(["linkify", "table"])
T0 = datetime(2024, 11, 26, 13, 9, 54, tzinfo=UTC)


def run(config: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, [*args, "--config", str(config)])


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "leakmon.toml", endpoint="http://127.0.0.1:9")


def record(
    store: Store,
    repo_id: str,
    *,
    repo_type: str = "space",
    author: str = "",
    raw: Any = None,
    text: str | None = None,
    severity: str = "critical",
    url: str | None = None,
) -> int:
    repo = Repo(
        repo_type,  # type: ignore[arg-type]
        repo_id,
        T0,
        author=author or repo_id.split("/")[0],
        raw=raw if raw is not None else {"id": repo_id, "createdAt": "2024-11-26T13:09:54.000Z"},
    )
    match = Match("sora", "term", "repo_id", "sora", text if text is not None else repo.name, 1.0)
    hit = NewHit("sora", severity, repo, url or f"https://huggingface.co/spaces/{repo_id}", [match], ())
    (hit_id,) = store.record_hits(None, [hit], now=T0 + timedelta(hours=1))
    return hit_id


def all_tokens(tokens: list[Token]) -> list[Token]:
    out = []
    for token in tokens:
        out.append(token)
        out += all_tokens(token.children or [])
    return out


def check_markdown(text: str, *, headings: set[str], links: set[str], fences: int) -> list[Token]:
    """Render with a real CommonMark parser: only our headings, links and fences; no HTML at all."""
    tokens = all_tokens(MARKDOWN.parse(text))
    found_headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    for heading in found_headings:
        assert any(heading.startswith(h) for h in headings), f"unexpected heading {heading!r}"
    assert [t.type for t in tokens if t.type in ("html_block", "html_inline")] == []
    assert [t.type for t in tokens if t.type == "image"] == []
    assert {t.attrs["href"] for t in tokens if t.type == "link_open"} <= links
    assert len([t for t in tokens if t.type in ("fence", "code_block")]) == fences
    html = MARKDOWN.render(text)
    assert "<script" not in html and "<img" not in html and 'evil.example/a"' not in html
    assert not CONTROLS.search(text), repr(CONTROLS.search(text))
    return tokens


# --- the takedown draft ------------------------------------------------------------------------------


def test_report_holds_the_evidence(config: Path, tmp_path: Path) -> None:
    with Store.open(tmp_path / "leakmon.db") as store:
        hit_id = record(store, SORA)
        store.set_evidence(hit_id, realistic_evidence())
        bare_id = record(
            store,
            "miqudev/miqu-1-70b",
            repo_type="model",
            url="https://huggingface.co/miqudev/miqu-1-70b",
            raw={"id": "miqudev/miqu-1-70b", "tags": ["gguf", "llama"], "cardData": {"license": "other"}},
        )
        store.set_reupload_of(bare_id, hit_id)
    assert (
        run(config, "hits", "set", str(hit_id), "reported", "--note", "internal: sent by Alice").exit_code
        == 0
    )
    assert run(config, "hits", "set", str(hit_id), "removed").exit_code == 0

    result = run(config, "hits", "report", str(hit_id))
    assert result.exit_code == 0, result.output
    draft = result.stdout
    check_markdown(
        draft,
        headings={
            "Takedown request",
            "Repository",
            "Why we believe",
            "Evidence",
            "Files",
            "Card",
            "Application",
            "Findings",
            "Timeline",
        },
        links={SORA_URL},
        fences=2,
    )
    assert draft.startswith(f"# Takedown request: Space `{SORA}`\n")
    assert f"- URL: <{SORA_URL}>" in draft
    assert "- Created on the Hub: `2024-11-26T13:09:54.000Z`" in draft
    assert "- First seen by our monitoring: `2024-11-26T14:09:54.000Z`" in draft
    assert re.search(r"- Removed: `\d{4}-\d\d-\d\dT[\d:.]+Z` \(\d+ d \d+ h after detection\)", draft)
    assert "- Its `repo_id` `PR-Puppet-Sora` matches `sora` (`term` match)" in draft
    assert "Captured at `2024-11-26T13:10:02Z`." in draft
    assert (
        "| `sora-weights.safetensors` | `7.3 GB (7,340,032,000 bytes)` | `" + "ab" * 32 + "` | yes |"
    ) in draft
    assert "```text\n---\ntitle: PR Puppet Sora\n---\n# Sora API access\n```" in draft
    assert "API = 'https://video.internal.example'" in draft
    assert "- `content` in `app.py`, line `2`:" in draft
    assert "internal: sent by Alice" not in draft and "status `reported`" in draft  # notes stay internal

    # Without evidence: the listing's metadata and the matches, and the re-upload link.
    bare = run(config, "hits", "report", str(bare_id))
    assert bare.exit_code == 0
    check_markdown(
        bare.stdout,
        headings={"Takedown request", "Repository", "Why we believe", "Evidence", "Timeline"},
        links={"https://huggingface.co/miqudev/miqu-1-70b", SORA_URL},
        fences=0,
    )
    assert "No content was captured for this repo; the Hub listing recorded:" in bare.stdout
    assert "- `tags`: `gguf, llama`" in bare.stdout and "- `cardData.license`: `other`" in bare.stdout
    assert f"- A re-upload of the same files as `{SORA}` (<{SORA_URL}>, status `removed`)" in bare.stdout
    assert "- Removed: not yet" in bare.stdout

    # To a file.
    out = tmp_path / "takedown.md"
    written = run(config, "hits", "report", str(hit_id), "--output", str(out))
    assert (
        written.exit_code == 0 and written.stdout == "" and out.read_text().startswith("# Takedown request")
    )
    missing = run(config, "hits", "report", "99")
    assert missing.exit_code == 2 and missing.stderr.startswith("Error: no hit #99")
    unwritable = run(config, "hits", "report", str(hit_id), "--output", str(tmp_path / "no" / "dir.md"))
    assert unwritable.exit_code == 2 and unwritable.stderr.startswith("Error: --output: cannot write")


def test_show_json_and_text_carry_the_evidence_and_history(config: Path, tmp_path: Path) -> None:
    with Store.open(tmp_path / "leakmon.db") as store:
        hit_id = record(store, SORA)
        store.set_evidence(hit_id, realistic_evidence())
        bare_id = record(store, "x/sora-copy")
        store.set_reupload_of(bare_id, hit_id)
    run(config, "hits", "set", str(hit_id), "acknowledged", "--note", "looking", "--by", "alice")
    detail = json.loads(run(config, "hits", "show", str(hit_id), "--json").stdout)
    assert detail["evidence"] == realistic_evidence()
    assert detail["history"] == [
        {
            "at": detail["history"][0]["at"],
            "actor": "alice",
            "from_status": "new",
            "to_status": "acknowledged",
            "note": "looking",
            "suppression_id": None,
        }
    ]
    assert {
        "id",
        "watch",
        "repo_type",
        "repo_id",
        "url",
        "status",
        "severity",
        "first_seen",
        "time_to_removal",
        "reupload_of",
        "repo",
        "matches",
    } <= set(detail)
    bare = json.loads(run(config, "hits", "show", str(bare_id), "--json").stdout)
    assert bare["evidence"] is None and bare["reupload_of"] == hit_id
    assert bare["reupload_of_hit"]["repo_id"] == SORA and bare["repo"]["id"] == "x/sora-copy"
    assert json.loads(run(config, "hits", "--json").stdout)[1]["reupload_of"] == hit_id

    text = run(config, "hits", "show", str(hit_id)).stdout
    assert "sora-weights.safetensors  7.3 GB  sha256 " + "ab" * 32 + "  (LFS)" in text
    assert (
        "    | # Sora API access" in text
        and "new -> acknowledged by alice" in text
        and "      looking" in text
    )
    bare_text = run(config, "hits", "show", str(bare_id)).stdout
    assert (
        "evidence: none captured; the Hub listing recorded:" in bare_text and "  id: x/sora-copy" in bare_text
    )
    assert f"re-upload of  hit #{hit_id} (space {SORA})" in bare_text


# --- hostile text ------------------------------------------------------------------------------------


def hostile_store(path: Path) -> int:
    with Store.open(path) as store:
        hit_id = record(
            store,
            "evil/" + EVIL,
            author='=cmd|" /C calc"!A0',
            raw={"id": "evil/" + EVIL, EVIL: EVIL, "cardData": {"title": EVIL}},
            text=EVIL + "A" * 100_000,
            url="javascript:alert(1)",
        )
        evidence = {
            "captured_at": EVIL,
            "repo": {"id": EVIL, EVIL: [EVIL] * 3},
            "files": [{"path": EVIL, "size": 12, "sha256": EVIL, "lfs": True}] * 3,
            "card": {"path": EVIL, "text": ("# Heading\n```\n" + EVIL) * 3 + "B" * 100_000},
            "app": {"path": "app.py", "text": "~~~~\n" + EVIL},
            "findings": [{"rule": EVIL, "file": EVIL, "line": EVIL, "text": EVIL}],
            "errors": [EVIL],
        }
        store.set_evidence(hit_id, evidence)
        store.change_status(hit_id, "acknowledged", allowed_from=("new",), actor=EVIL, note=EVIL)
        record(store, "plain/sora-model")
    return hit_id


def test_hostile_text_in_show_stays_on_its_lines(config: Path, tmp_path: Path) -> None:
    hit_id = hostile_store(tmp_path / "leakmon.db")
    for args in (("hits", "show", str(hit_id)), ("hits",)):
        result = run(config, *args)
        assert result.exit_code == 0, result.output
        assert not CONTROLS.search(result.stdout), repr(CONTROLS.search(result.stdout))
        assert "[2J" not in result.stdout and "8;;" not in result.stdout
        assert all(len(line) < 1000 for line in result.stdout.splitlines())  # a few bounded values each
        assert "A" * 400 not in result.stdout and "B" * 4001 not in result.stdout
    shown = run(config, "hits", "show", str(hit_id)).stdout
    assert "javascript" in shown and "<script>alert(1)</script>" in shown  # shown as text, harmlessly
    # JSON keeps everything, escaped by the JSON encoder.
    detail = json.loads(run(config, "hits", "show", str(hit_id), "--json").stdout)
    assert detail["repo_id"] == "evil/" + EVIL and detail["history"][0]["note"] == EVIL


def test_hostile_text_in_the_report_cannot_inject_markdown(config: Path, tmp_path: Path) -> None:
    hit_id = hostile_store(tmp_path / "leakmon.db")
    draft = run(config, "hits", "report", str(hit_id)).stdout
    tokens = check_markdown(
        draft,
        headings={
            "Takedown request",
            "Repository",
            "Why we believe",
            "Evidence",
            "Files",
            "Card",
            "Application",
            "Findings",
            "What could not be captured",
            "Timeline",
        },
        links=set(),  # javascript: is no link
        fences=2,
    )
    # The hostile card stays inside its fence, whole lines intact for a reader.
    card = next(t for t in tokens if t.type == "fence")
    assert (
        "# Heading" in card.content and "<script>alert(1)</script>" in card.content and "```" in card.content
    )
    assert len(draft) < 60_000  # bounded, whatever the Hub sent
    assert "A" * 400 not in draft


def test_hostile_text_in_md_and_csv_exports(config: Path, tmp_path: Path) -> None:
    hostile_store(tmp_path / "leakmon.db")
    md = run(config, "hits", "export", "--format", "md").stdout
    tokens = check_markdown(md, headings={"leakmon hits"}, links=set(), fences=0)
    rows = [t for t in tokens if t.type == "tr_open"]
    assert len(rows) == 3  # header + two hits: no row injected, none split
    cells = [t for t in tokens if t.type == "td_open"]
    assert len(cells) == 2 * 9  # no cell injected by a `|`

    text = run(config, "hits", "export", "--format", "csv").stdout_bytes.decode()  # CR LF kept
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == list(CSV_COLUMNS) and len(parsed) == 3
    evil_row = dict(zip(CSV_COLUMNS, parsed[1], strict=True))
    assert evil_row["author"] == '\'=cmd|" /C calc"!A0'  # a formula no more
    for row in parsed[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert "\x1b" not in text and "[2J" not in text and "\x00" not in text and "\u202e" not in text
    assert evil_row["repo_id"].startswith("evil/x\n# Injected heading\r\n## another\n[click](http")


# --- exports round-trip ----------------------------------------------------------------------------------


def unformula(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:2] in ("=", "+", "-", "@", "\t", "\r") else cell


def test_exports_round_trip(
    sim: Any, receiver: Any, config_file: Path, make_scanner: Any, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    for repo_id in ("PR-Puppets/PR-Puppet-Sora", "-leaker/sora-turbo", "fan/sora-movie", "x/sora-4"):
        sim.add_repo("model", repo_id, created_at=now - timedelta(hours=1))
    scanner = make_scanner(config_file)
    scanner.run_once()
    by_repo = {h["repo_id"]: h["id"] for h in scanner.store.list_hits()}
    assert len(by_repo) == 4
    sora, leaker = by_repo["PR-Puppets/PR-Puppet-Sora"], by_repo["-leaker/sora-turbo"]
    run(config_file, "hits", "set", str(sora), "reported", "--note", 'line one\nline "two", =1+1')
    run(config_file, "hits", "set", str(sora), "removed", "--by", "bob")
    run(config_file, "hits", "set", str(leaker), "false_positive", "--note", "-not ours")

    listed = json.loads(run(config_file, "hits", "--json").stdout)
    exported = json.loads(run(config_file, "hits", "export", "--format", "json").stdout)
    assert [{k: v for k, v in e.items() if k != "history"} for e in exported] == listed
    changes = {e["repo_id"]: len(e["history"]) for e in exported}
    assert changes == {
        "PR-Puppets/PR-Puppet-Sora": 2,
        "-leaker/sora-turbo": 1,
        "fan/sora-movie": 0,
        "x/sora-4": 0,
    }
    removed = next(e for e in exported if e["id"] == sora)
    assert removed["time_to_removal"] is not None and removed["history"][1]["actor"] == "bob"

    out = tmp_path / "hits.csv"
    assert run(config_file, "hits", "export", "--format", "csv", "-o", str(out)).exit_code == 0
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(exported)
    for row, item in zip(rows, exported, strict=True):
        row = {k: unformula(v) for k, v in row.items()}
        for key in (
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
        ):
            assert row[key] == ("" if item[key] is None else str(item[key])), key
        history = item["history"]
        assert row["status_changes"] == str(len(history))
        assert row["last_note"] == ((history[-1]["note"] or "") if history else "")
        assert row["matches"] == "; ".join(f"{m['rule']} {m['field']}: {m['text']}" for m in item["matches"])
    leaker_row = next(r for r in rows if r["repo_id"] == "'-leaker/sora-turbo")
    assert leaker_row["last_note"] == "'-not ours" and leaker_row["status"] == "false_positive"

    # Filters, and Markdown.
    only = json.loads(
        run(
            config_file,
            "hits",
            "export",
            "--format",
            "json",
            "--status",
            "removed",
            "--status",
            "false_positive",
        ).stdout
    )
    assert [e["id"] for e in only] == sorted([sora, leaker])
    assert json.loads(run(config_file, "hits", "export", "--format", "json", "--watch", "nope").stdout) == []
    md = run(config_file, "hits", "export", "--format", "md").stdout
    tokens = check_markdown(md, headings={"leakmon hits"}, links=set(), fences=0)
    assert len([t for t in tokens if t.type == "tr_open"]) == 5
    assert "4 hits, exported" in md and "| `removed` |" in md
    bad = run(config_file, "hits", "export", "--format", "json", "--status", "gone")
    assert bad.exit_code == 2
