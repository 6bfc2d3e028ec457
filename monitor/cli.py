"""The command line: parse, call the library, print. Errors become one line and an exit code here only."""

from __future__ import annotations

import functools
import json
import re
import sqlite3
import sys
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import click

from monitor import __version__
from monitor.errors import LeakmonError, UsageError
from monitor.records import HIT_STATUSES
from monitor.text import for_terminal
from monitor.triage import hit_json

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int) -> None:
    click.echo(f"Error: {for_terminal(message, 2000)}", err=True)
    sys.exit(code)


def leakmon_command(*, unexpected_exit: int = 1) -> Callable[[F], F]:
    """Give a command `--config` and `--debug`, and turn errors into one line and an exit code."""

    def decorate(func: F) -> F:
        @click.option(
            "--config",
            "config_path",
            type=click.Path(dir_okay=False),
            default=None,
            help="Config file (default: $LEAKMON_CONFIG, ./leakmon.toml, /etc/leakmon/leakmon.toml).",
        )
        @click.option("--debug", is_flag=True, help="Debug logs, and a traceback on errors.")
        @click.option("-v", "--verbose", is_flag=True, help="Log what happens (to stderr).")
        @click.pass_context
        @functools.wraps(func)
        def wrapper(
            ctx: click.Context, config_path: str | None, debug: bool, verbose: bool, **kwargs: Any
        ) -> Any:
            root = ctx.find_root().params
            config_path = config_path or root.get("config_path")
            debug = debug or bool(root.get("debug"))
            from monitor import logs

            # The command's own output reports outcomes and errors; logs are for -v and --debug.
            logs.configure(level="debug" if debug else "info" if verbose else "critical")
            try:
                return func(config_path=config_path, debug=debug, **kwargs)
            except LeakmonError as err:
                if debug:
                    raise
                _fail(str(err), err.exit_code)
            except sqlite3.Error as err:
                if debug:
                    raise
                _fail(f"database error: {err}", max(unexpected_exit, 2))
            except (click.ClickException, click.exceptions.Exit, KeyboardInterrupt):
                raise
            except Exception as err:
                if debug:
                    raise
                _fail(
                    f"internal error: {type(err).__name__}: {err} (run with --debug for the traceback)",
                    unexpected_exit,
                )

        return wrapper  # type: ignore[return-value]

    return decorate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file (also accepted after any command).",
)
@click.option("--debug", is_flag=True, help="Debug logs, and a traceback on errors.")
@click.version_option(__version__, prog_name="leakmon")
def cli(config_path: str | None, debug: bool) -> None:
    """leakmon: watch the Hugging Face Hub for leaked models, datasets and Spaces."""


def _load(config_path: str | None) -> Any:
    from monitor import config, logs

    cfg = config.load(config_path)
    secrets = [cfg.hub.token.reveal()] if cfg.hub.token else []
    for n in cfg.notifiers:
        for value in n.options.values():
            if isinstance(value, config.Secret):
                secrets.append(value.reveal())
        if isinstance(n.options.get("url"), str):
            secrets.append(n.options["url"])
    logs.register_secrets(secrets)
    return cfg


def _emit_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _parse_since(value: str | None) -> datetime | None:
    if not value:
        return None
    from monitor.store import parse_iso, utcnow

    m = re.fullmatch(r"(\d+)\s*([smhdw])", value.strip())
    if m:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
        return utcnow() - timedelta(**{unit: int(m.group(1))})
    try:
        return parse_iso(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--since: {value!r} is neither a date (2024-11-26T13:00:00Z) nor an age (24h, 7d)"
        ) from None


def _hit_table(hits: Iterable[dict[str, Any]]) -> list[str]:
    lines = []
    for h in hits:
        lines.append(
            f"#{h['id']:<5} {h['severity']:<8} {h['status']:<14} {for_terminal(h['watch'], 24):<12} "
            f"{h['repo_type']:<7} {for_terminal(h['repo_id'], 120)}  first seen {h['first_seen']}"
        )
    return lines


# --- scan ----------------------------------------------------------------------------------------


@cli.command()
@click.option("--fail-on-hit", is_flag=True, help="Exit 1 when the scan found new hits.")
@click.option("--json", "as_json", is_flag=True, help="Print the scan's result as one JSON object.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing unless there are new hits or errors (cron).")
@leakmon_command(unexpected_exit=3)
def scan(config_path: str | None, debug: bool, fail_on_hit: bool, as_json: bool, quiet: bool) -> None:
    """One poll cycle: list what is new on the Hub, match, record, deliver alerts.

    Exit 0 when done, 1 with --fail-on-hit and new hits, 2 for a bad config, 3 when the scan could
    not complete (nothing not fully read is marked as read).
    """
    cfg = _load(config_path)
    from monitor.scanner import open_scanner

    scanner = open_scanner(cfg)
    try:
        result = scanner.run_once()
        hits = scanner.store.list_hits(ids=result.new_hit_ids) if result.new_hit_ids else []
        reopened = scanner.store.list_hits(ids=result.reopened_hit_ids) if result.reopened_hit_ids else []
    finally:
        scanner.close()
    c = result.content
    if as_json:
        _emit_json(
            {
                "scan_id": result.scan_id,
                "outcome": result.outcome,
                "repos_read": result.repos_read,
                "hub_requests": result.hub_requests,
                "new_hits": [hit_json(h) for h in hits],
                "reopened_hits": [hit_json(h) for h in reopened],
                "delivered": result.delivery.delivered,
                "outbox_pending": result.outbox_pending,
                "dead_letters": result.delivery.dead,
                "errors": result.errors,
                "content": None
                if c is None
                else {
                    "probed": c.probed,
                    "deferred": c.deferred,
                    "gone": c.gone,
                    "hub_requests": c.hub_requests,
                    "bytes_read": c.bytes_read,
                    "errors": c.errors,
                },
            }
        )
    elif not (quiet and not hits and not reopened):
        click.echo(
            f"scan #{result.scan_id} {result.outcome}: {result.repos_read:,} repos read with "
            f"{result.hub_requests} Hub requests; {len(hits)} new hit{'s' if len(hits) != 1 else ''}"
            + (f"; {len(reopened)} reopened (re-uploaded)" if reopened else "")
        )
        for line in _hit_table(hits):
            click.echo("  " + line)
        for line in _hit_table(reopened):
            click.echo("  re-uploaded " + line)
        d = result.delivery
        if d.delivered or result.outbox_pending or d.dead:
            click.echo(
                f"alerts: {d.delivered} delivered, {result.outbox_pending} pending, {d.dead} dead-lettered"
            )
        if c is not None and (c.probed or c.deferred) and not quiet:
            click.echo(
                f"content: {c.probed} repos probed with {c.hub_requests} requests ({c.bytes_read:,} bytes)"
                + (f"; {c.deferred} waiting for the next scan's budget" if c.deferred else "")
            )
    for error in result.errors:
        click.echo(f"Error: {for_terminal(error, 500)}", err=True)
    for error in result.delivery.errors:
        click.echo(f"Warning: delivery failed: {for_terminal(error, 500)}", err=True)
    for error in c.errors if c is not None else ():
        click.echo(f"Warning: content tier deferred: {for_terminal(error, 500)}", err=True)
    if not result.ok:
        sys.exit(3)
    if fail_on_hit and (hits or reopened):
        sys.exit(1)


# --- hits ----------------------------------------------------------------------------------------


@cli.group(invoke_without_command=True)
@click.option("--status", type=click.Choice(HIT_STATUSES), help="Only hits in this status.")
@click.option("--watch", help="Only hits of this watch.")
@click.option("--since", help="Only hits first seen since a time (ISO 8601) or an age (24h, 7d).")
@click.option("--json", "as_json", is_flag=True, help="A JSON array on stdout.")
@leakmon_command()
def hits(
    config_path: str | None,
    debug: bool,
    status: str | None,
    watch: str | None,
    since: str | None,
    as_json: bool,
) -> None:
    """List recorded hits, newest last; filter by status, watch or age."""
    ctx = click.get_current_context()
    if ctx.invoked_subcommand is not None:
        return
    from monitor.store import Store

    cfg = _load(config_path)
    with Store.open(cfg.database.path) as store:
        rows = store.list_hits(status=status, watch=watch, since=_parse_since(since))
    if as_json:
        _emit_json([hit_json(h) for h in rows])
        return
    if not rows:
        click.echo("no hits")
    for line in _hit_table(rows):
        click.echo(line)


def _hit_id(value: str) -> int:
    """`17` or `#17`."""
    text = value.strip().removeprefix("#")
    if not text.isdigit():
        raise UsageError(f"{value!r} is not a hit id (a number, as `leakmon hits` lists them)")
    return int(text)


def _write_output(text: str, output: str | None) -> None:
    """To stdout, or to a file (an error names the file)."""
    if output is None or output == "-":
        click.echo(text, nl=False)
        return
    from pathlib import Path

    try:
        Path(output).write_text(text, encoding="utf-8", newline="")
    except OSError as err:
        raise UsageError(f"--output: cannot write {output}: {err.strerror or err}") from None
    click.echo(f"wrote {output}", err=True)


@hits.command("show")
@click.argument("hit_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: the hit, its evidence and history.")
@leakmon_command()
def hits_show(config_path: str | None, debug: bool, hit_id: str, as_json: bool) -> None:
    """One hit with its matches, evidence (or the listing's metadata) and status history."""
    from monitor import report, triage
    from monitor.store import Store

    cfg = _load(config_path)
    with Store.open(cfg.database.path) as store:
        detail = triage.hit_detail(store, _hit_id(hit_id))
    if as_json:
        _emit_json(detail)
        return
    for line in report.show_lines(detail):
        click.echo(line)


@hits.command("set")
@click.argument("hit_id", metavar="ID")
@click.argument("status", metavar="STATUS")
@click.option("--note", help="Why: kept in the hit's history.")
@click.option("--by", "actor", help="Who (default: the OS user).")
@click.option(
    "--suppress",
    metavar="repo|owner|pattern:REGEX",
    help="With false_positive or benign: never alert again on this repo, its owner, or a pattern.",
)
@click.option(
    "--global", "global_", is_flag=True, help="The suppression holds for every watch, not only this one."
)
@leakmon_command()
def hits_set(
    config_path: str | None,
    debug: bool,
    hit_id: str,
    status: str,
    note: str | None,
    actor: str | None,
    suppress: str | None,
    global_: bool,
) -> None:
    """Triage: move a hit to STATUS (acknowledged, reported, removed, false_positive, benign, new).

    Only the moves in the README's transition table are allowed; anything else exits 2 and changes
    nothing. The change, who made it (--by, default the OS user), when, and the note are kept.
    """
    from monitor import triage
    from monitor.store import Store

    cfg = _load(config_path)
    number = _hit_id(hit_id)
    triage.check_status(status)
    if global_ and not suppress:
        raise UsageError("--global goes with --suppress")
    with Store.open(cfg.database.path) as store:
        suppression = None
        if suppress:
            hit = store.get_hit(number)
            if hit is None:
                from monitor.errors import UnknownHit

                raise UnknownHit(f"no hit #{number} (see `leakmon hits`)")
            suppression = triage.suppression_for_hit(
                suppress, hit, global_=global_, watches=[w.name for w in cfg.watches]
            )
        change = triage.set_status(store, number, status, actor=actor, note=note, suppression=suppression)
        sup = next((s for s in store.suppressions() if s["id"] == change.suppression_id), None)
    click.echo(f"hit #{number}: {change.previous} -> {change.status}")
    if sup is not None:
        click.echo(f"suppression #{sup['id']}: {_suppression_text(sup)}")


@hits.command("report")
@click.argument("hit_id", metavar="ID")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file (default: stdout).")
@leakmon_command()
def hits_report(config_path: str | None, debug: bool, hit_id: str, output: str | None) -> None:
    """A takedown request draft in Markdown, with the hit's evidence, for the Hub's abuse channel."""
    from monitor import report, triage
    from monitor.store import Store, utcnow

    cfg = _load(config_path)
    with Store.open(cfg.database.path) as store:
        detail = triage.hit_detail(store, _hit_id(hit_id))
    _write_output(report.takedown_markdown(detail, generated_at=report.now_stamp(utcnow())), output)


@hits.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(("csv", "json", "md")), required=True, help="csv, json or md."
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file (default: stdout).")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(HIT_STATUSES),
    help="Only this status (repeatable).",
)
@click.option("--watch", "watches", multiple=True, help="Only this watch (repeatable).")
@leakmon_command()
def hits_export(
    config_path: str | None,
    debug: bool,
    fmt: str,
    output: str | None,
    statuses: tuple[str, ...],
    watches: tuple[str, ...],
) -> None:
    """Every hit with its key fields and status history, as CSV, JSON or a Markdown table."""
    from monitor import report, triage
    from monitor.store import Store, utcnow

    cfg = _load(config_path)
    with Store.open(cfg.database.path) as store:
        items = triage.export_items(store, statuses=statuses, watches=watches)
    if fmt == "json":
        text = report.export_json(items)
    elif fmt == "csv":
        text = report.export_csv(items)
    else:
        text = report.export_markdown(items, generated_at=report.now_stamp(utcnow()))
    _write_output(text, output)


# --- suppress ------------------------------------------------------------------------------------


def _suppression_text(s: dict[str, Any]) -> str:
    scope = f"for watch {for_terminal(s['watch'], 64)}" if s["watch"] else "for every watch"
    return f"{s['kind']} {for_terminal(s['value'], 200)!r} {scope}"


def _suppression_json(s: dict[str, Any]) -> dict[str, Any]:
    return {
        k: s.get(k) for k in ("id", "kind", "value", "watch", "created_at", "created_by", "note", "hit_id")
    }


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="A JSON array on stdout.")
@leakmon_command()
def suppress(config_path: str | None, debug: bool, as_json: bool) -> None:
    """Suppressions: repos, owners or patterns that never alert (for one watch or all)."""
    if click.get_current_context().invoked_subcommand is not None:
        return
    _list_suppressions(config_path, as_json)


def _list_suppressions(config_path: str | None, as_json: bool) -> None:
    from monitor.store import Store

    cfg = _load(config_path)
    with Store.open(cfg.database.path) as store:
        rows = store.suppressions()
    if as_json:
        _emit_json([_suppression_json(r) for r in rows])
        return
    if not rows:
        click.echo("no suppressions")
    for r in rows:
        by = f" by {for_terminal(r['created_by'], 100)} {r['created_at']}"
        hit = f" (from hit #{r['hit_id']})" if r["hit_id"] else ""
        note = f": {for_terminal(r['note'], 200)}" if r["note"] else ""
        click.echo(f"#{r['id']:<4} {_suppression_text(r)}{by}{hit}{note}")


@suppress.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array on stdout.")
@leakmon_command()
def suppress_list(config_path: str | None, debug: bool, as_json: bool) -> None:
    """List the suppressions stored in the database (the config's [allowlist] is in `leakmon check`)."""
    _list_suppressions(config_path, as_json)


@suppress.command("add")
@click.argument("kind", metavar="KIND")
@click.argument("value", metavar="VALUE")
@click.option("--watch", help="Only for this watch (default: every watch).")
@click.option("--note", help="Why: kept with the suppression.")
@click.option("--by", "actor", help="Who (default: the OS user).")
@leakmon_command()
def suppress_add(
    config_path: str | None,
    debug: bool,
    kind: str,
    value: str,
    watch: str | None,
    note: str | None,
    actor: str | None,
) -> None:
    """Never alert on a repo (KIND repo, VALUE owner/name), an owner (owner) or a regex (pattern).

    The next scan applies it, also in a running daemon. A pattern is searched, case-insensitively,
    in repo ids (owner/name).
    """
    from monitor import triage
    from monitor.store import Store

    cfg = _load(config_path)
    sup = triage.make_suppression(kind, value, watch, [w.name for w in cfg.watches])
    who = (actor if actor is not None else triage.default_actor()).strip() or "unknown"
    with Store.open(cfg.database.path) as store:
        sup_id, created = store.add_suppression(sup, actor=who, note=note)
        row = next(s for s in store.suppressions() if s["id"] == sup_id)
    if created:
        click.echo(f"suppression #{sup_id}: {_suppression_text(row)}")
    else:
        click.echo(f"already suppressed by #{sup_id}: {_suppression_text(row)}")


@suppress.command("rm")
@click.argument("sup_id", metavar="ID")
@leakmon_command()
def suppress_rm(config_path: str | None, debug: bool, sup_id: str) -> None:
    """Remove one suppression: the next scan alerts on what it silenced."""
    from monitor.store import Store

    text = sup_id.strip().removeprefix("#")
    if not text.isdigit():
        raise UsageError(f"{sup_id!r} is not a suppression id (see `leakmon suppress list`)")
    cfg = _load(config_path)
    with Store.open(cfg.database.path) as store:
        row = store.remove_suppression(int(text))
    if row is None:
        raise UsageError(f"no suppression #{text} (see `leakmon suppress list`)")
    click.echo(f"removed suppression #{text}: {_suppression_text(row)}")


# --- browse --------------------------------------------------------------------------------------


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on."
)
@leakmon_command()
def browse(config_path: str | None, debug: bool, host: str, port: int) -> None:
    """Datasette over the database, read-only, with canned queries (needs the `browse` extra).

    Open hits by severity, time to takedown, hits per watch; any table, filter and SQL query.
    Stop it with Ctrl-C.
    """
    from monitor import browse as browsing

    cfg = _load(config_path)
    browsing.serve(cfg.database.path, host=host, port=port, warn=lambda m: click.echo(m, err=True))


# --- match ---------------------------------------------------------------------------------------


@cli.command()
@click.argument("texts", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per TEXT, in order, as an array.")
@click.option(
    "--explain", is_flag=True, help="Show the normalised tokens and why each watch did or did not match."
)
@leakmon_command()
def match(config_path: str | None, debug: bool, texts: tuple[str, ...], as_json: bool, explain: bool) -> None:
    """Dry-run the matcher on repo ids (owner/name) or titles."""
    cfg = _load(config_path)
    from monitor.matcher import Matcher
    from monitor.store import Store

    suppressions: tuple[Any, ...] = ()
    if cfg.database.path.exists():  # a dry run never creates the database
        with Store.open(cfg.database.path) as store:
            suppressions = store.suppression_records()
    matcher = Matcher(cfg.watches, (*cfg.allowlist, *suppressions))
    results = []
    for text in texts:
        found = matcher.match_text(text)
        results.append(
            {
                "text": text,
                "matches": [
                    {
                        "watch": m.watch,
                        "rule": m.rule,
                        "field": m.field,
                        "term": m.term,
                        "text": m.text,
                        "score": round(m.score, 4),
                    }
                    for m in found
                ],
            }
        )
        if explain and as_json:
            results[-1]["explain"] = matcher.explain(text).as_dict()
    if as_json:
        _emit_json(results)
        return
    for text, result in zip(texts, results, strict=True):
        shown = for_terminal(text, 200)
        if not result["matches"]:
            click.echo(f"{shown}: no match")
        for m in result["matches"]:
            click.echo(
                f"{shown}: {m['watch']} ({m['rule']} {for_terminal(m['term'], 80)!r} in {m['field']} "
                f"{for_terminal(m['text'], 120)!r}, score {m['score']:.2f})"
            )
        if explain:
            for line in matcher.explain(text).lines():
                click.echo("    " + for_terminal(line, 500))


# --- check ---------------------------------------------------------------------------------------


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the resolved config as JSON.")
@leakmon_command()
def check(config_path: str | None, debug: bool, as_json: bool) -> None:
    """Validate the config and print what it resolved to (secrets redacted)."""
    from monitor import config

    cfg = _load(config_path)
    resolved = config.redacted(cfg)
    if as_json:
        _emit_json(resolved)
        return
    click.echo(
        f"config OK: {cfg.source} ({len(cfg.watches)} watch{'es' if len(cfg.watches) != 1 else ''}, "
        f"{len(cfg.notifiers)} notifier{'s' if len(cfg.notifiers) != 1 else ''})"
    )
    click.echo(json.dumps(resolved, indent=2, ensure_ascii=False))


# --- status --------------------------------------------------------------------------------------


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print status as one JSON object.")
@leakmon_command()
def status(config_path: str | None, debug: bool, as_json: bool) -> None:
    """Last scans, cursors, outbox backlog, dead letters, sweeps and hits by status."""
    from monitor.store import Store, iso

    cfg = _load(config_path)
    with Store.open(cfg.database.path) as store:
        data = {
            "database": str(cfg.database.path),
            "scans": store.scans(5),
            "cursors": {k: iso(v) for k, v in store.cursors().items()},
            "outbox": store.outbox_counts(),
            "dead_letters": [
                {k: r[k] for k in ("id", "notifier", "hit_id", "repo_id", "attempts", "last_error")}
                for r in store.outbox_rows(("dead",))[-10:]
            ],
            "hits": _by_status(store.hit_counts()),
            "suppressions": len(store.suppressions()),
            "probes": store.probe_counts(),
            "last_successful_scan": store.last_successful_scan(),
            "sweeps": [
                {k: r[k] for k in ("term", "repo_type", "done_at", "repos_read")}
                | {"resumable": bool(r["next_url"])}
                for r in store.sweeps()
            ],
        }
    if as_json:
        _emit_json(data)
        return
    click.echo(f"database: {data['database']}")
    click.echo(f"last successful scan: {data['last_successful_scan'] or 'never'}")
    click.echo("cursors: " + (", ".join(f"{k} {v}" for k, v in data["cursors"].items()) or "none yet"))
    click.echo("hits: " + (", ".join(f"{n} {s}" for s, n in data["hits"].items() if n) or "none"))
    click.echo(f"suppressions: {data['suppressions']} (leakmon suppress list)")
    o = data["outbox"]
    click.echo(f"outbox: {o['pending']} pending, {o['delivered']} delivered, {o['dead']} dead")
    pr = data["probes"]
    click.echo(
        f"content tier: {pr['pending']} repos waiting, {pr['done']} probed, {pr['gone']} gone before"
        f" their probe, {pr['failed']} given up after repeated Hub failures"
    )
    for d in data["dead_letters"]:
        repo = for_terminal(d["repo_id"], 100)
        click.echo(
            f"  dead letter #{d['id']} to {d['notifier']}: hit #{d['hit_id']} {repo} after {d['attempts']}"
            f" attempts: {for_terminal(d['last_error'], 200)} (leakmon outbox retry {d['id']})"
        )
    for w in data["sweeps"]:
        state = (
            "in progress"
            if w["resumable"]
            else f"read to the end {w['done_at']}"
            if w["done_at"]
            else "not run"
        )
        click.echo(
            f"sweep {w['term']!r} in {w['repo_type']}s: {state}, {w['repos_read']:,} repos read in all"
        )
    for s in data["scans"]:
        click.echo(
            f"scan #{s['id']} {s['outcome']:<7} started {s['started_at']}: {s['repos_read']} repos, "
            f"{s['hub_requests']} requests, {s['new_hits']} new hits"
            + (f" ({for_terminal(s['error'], 200)})" if s["error"] else "")
        )


def _by_status(counts: Any) -> dict[str, int]:
    """Hit counts in lifecycle order, every status present (0 when none)."""
    out = {s: int(counts.get(s, 0)) for s in HIT_STATUSES}
    out.update({s: int(n) for s, n in counts.items() if s not in out})
    return out


# --- run and sweep -------------------------------------------------------------------------------


@cli.command()
@leakmon_command()
def run(config_path: str | None, debug: bool) -> None:
    """The daemon: scan every hub.poll_interval, deliver, re-check open hits, sweep, until SIGTERM.

    Logs go to stdout (JSON when it is not a terminal, for journald). Under systemd it reports
    READY, WATCHDOG (while scans succeed) and STATUS. One daemon per database.
    """
    cfg = _load(config_path)
    from monitor import logs
    from monitor.daemon import Daemon

    logs.configure(level="debug" if debug else "info", stream=sys.stdout)
    Daemon(cfg).run()


@cli.command()
@click.option("--restart", is_flag=True, help="Start every search again from the newest repos.")
@click.option(
    "--budget", type=click.IntRange(min=1), help="Stop after this many Hub requests (resume later)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@leakmon_command(unexpected_exit=3)
def sweep(config_path: str | None, debug: bool, restart: bool, budget: int | None, as_json: bool) -> None:
    """Search the Hub's whole history for every watched term, resumably, with progress.

    Finds what is older than the scan cursors (a first install) and repos renamed to a watched
    name. Interrupted or over budget, the next `leakmon sweep` resumes where this one stopped.
    Exit 3 when a search failed (what was read is kept).
    """
    cfg = _load(config_path)
    from monitor import sweep as sweeping
    from monitor.scanner import open_scanner

    scanner = open_scanner(cfg)
    pairs = [(s, t) for s in sweeping.search_strings(cfg.watches) for t in cfg.hub.repo_types]
    show = sys.stderr.isatty() and not as_json
    bar = click.progressbar(length=len(pairs), label="sweeping", file=sys.stderr) if show else None

    def progress(search: str, repo_type: str, read: int, finished: bool) -> None:
        if bar is not None:
            bar.label = f"{search!r} in {repo_type}s: {read:,} repos"
            if finished:
                bar.update(1)
            else:
                bar.render_progress()

    try:
        if bar is not None:
            bar.__enter__()
        result = sweeping.sweep(scanner, budget=budget, restart=restart, progress=progress)
        delivery = scanner.relay.drain(0 if scanner.stop.is_set() else 45.0)
        hits = scanner.store.list_hits(ids=result.new_hit_ids) if result.new_hit_ids else []
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        scanner.close()
    if as_json:
        _emit_json(
            {
                "complete": result.complete,
                "hub_requests": result.hub_requests,
                "repos_read": result.repos_read,
                "new_hits": [hit_json(h) for h in hits],
                "delivered": delivery.delivered,
                "error": result.error,
            }
        )
    else:
        state = "complete" if result.complete else "stopped early; run `leakmon sweep` again to resume"
        click.echo(
            f"sweep {state}: {result.repos_read:,} repos read with {result.hub_requests} Hub requests; "
            f"{len(hits)} new hit{'s' if len(hits) != 1 else ''}"
        )
        for line in _hit_table(hits):
            click.echo("  " + line)
    if result.error:
        click.echo(f"Error: {for_terminal(result.error, 500)}", err=True)
        sys.exit(3)


# --- outbox and notify-test ----------------------------------------------------------------------


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="A JSON array on stdout.")
@click.option("--all", "show_all", is_flag=True, help="Delivered alerts too.")
@leakmon_command()
def outbox(config_path: str | None, debug: bool, as_json: bool, show_all: bool) -> None:
    """Alerts waiting for delivery and dead letters (alerts that could not be delivered)."""
    if click.get_current_context().invoked_subcommand is not None:
        return
    from monitor.store import Store

    cfg = _load(config_path)
    statuses = ("pending", "dead", "delivered") if show_all else ("pending", "dead")
    with Store.open(cfg.database.path) as store:
        rows = store.outbox_rows(statuses)
    keys = (
        "id",
        "hit_id",
        "notifier",
        "event",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "delivered_at",
        "webhook_id",
        "digest_id",
        "watch",
        "repo_type",
        "repo_id",
    )
    if as_json:
        _emit_json([{k: r.get(k) for k in keys} for r in rows])
        return
    if not rows:
        click.echo("outbox empty: every alert was delivered")
    for r in rows:
        when = f"next try {r['next_attempt_at']}" if r["status"] == "pending" else r["status"]
        error = f"  last error: {for_terminal(r['last_error'], 200)}" if r["last_error"] else ""
        click.echo(
            f"#{r['id']:<5} {r['status']:<9} {r['notifier']:<12} hit #{r['hit_id']} "
            f"{for_terminal(r['repo_id'], 100)}  {r['attempts']} attempts, {when}{error}"
        )


@outbox.command("retry")
@click.argument("outbox_id", type=int)
@leakmon_command()
def outbox_retry(config_path: str | None, debug: bool, outbox_id: int) -> None:
    """Requeue one undelivered alert (and the rest of its digest) with a fresh round of retries."""
    from monitor.store import Store

    cfg = _load(config_path)
    with Store.open(cfg.database.path) as store:
        count = store.requeue(outbox_id)
    if not count:
        raise UsageError(f"no pending or dead outbox row #{outbox_id} (see `leakmon outbox`)")
    click.echo(f"requeued {count} alert{'s' if count != 1 else ''}: the next scan or relay run delivers it")


@cli.command("notify-test")
@click.argument("name", required=False)
@leakmon_command()
def notify_test(config_path: str | None, debug: bool, name: str | None) -> None:
    """Send a clearly marked test alert through one notifier, or all; exit 1 if any failed."""
    import time

    from monitor.dispatch import build_notifiers, send_now, test_alert

    cfg = _load(config_path)
    chosen = [n for n in cfg.notifiers if name is None or n.name == name]
    if not chosen:
        known = ", ".join(n.name for n in cfg.notifiers) or "none configured"
        raise UsageError(
            f"no notifier named {name!r} (known: {known})" if name else "no notifiers configured"
        )
    notifiers = build_notifiers(chosen)
    failed = 0
    try:
        for n in chosen:
            started = time.monotonic()
            problem = send_now(notifiers[n.name], test_alert(cfg.hub.endpoint))
            took = time.monotonic() - started
            if problem:
                failed += 1
                click.echo(f"{n.name} ({n.type}): FAILED after {took:.1f} s: {for_terminal(problem, 300)}")
            else:
                click.echo(f"{n.name} ({n.type}): delivered in {took:.1f} s")
    finally:
        for notifier in notifiers.values():
            notifier.close()
    if failed:
        sys.exit(1)


# --- demo ----------------------------------------------------------------------------------------


@cli.command()
@leakmon_command()
def demo(config_path: str | None, debug: bool) -> None:
    """Offline: a bundled Hub simulator replays the Sora leak among realistic noise; scan and alert."""
    from monitor.demo import run_demo

    run_demo(click.echo)


def main() -> None:
    cli(prog_name="leakmon")
