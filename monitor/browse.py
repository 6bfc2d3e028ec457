"""`leakmon browse`: Datasette over the database, read-only, with the canned queries shipped in
`browse.json` (open hits by severity, time to takedown, hits per watch).

Datasette is an optional extra (`pip install 'leakmon[browse]'`). It opens a file database for
reading with `mode=ro` and writes only through plugins or canned queries marked `write`, which
leakmon ships none of; the daemon keeps writing beside it (WAL).
"""

from __future__ import annotations

import ipaddress
import json
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from monitor.errors import UsageError

INSTALL = "leakmon browse needs the optional dependency: pip install 'leakmon[browse]'"


def metadata(database: Path) -> dict[str, Any]:
    """The shipped metadata, keyed by the name Datasette gives this database (its file's stem)."""
    data = json.loads(resources.files("monitor").joinpath("browse.json").read_text(encoding="utf-8"))
    data["databases"] = {database.stem: data["databases"]["leakmon"]}
    return data


def _datasette_cli() -> Any:
    try:
        from datasette.cli import cli
    except ImportError:
        raise UsageError(INSTALL) from None
    return cli


def serve(database: Path, *, host: str, port: int, warn: Callable[[str], None] = print) -> None:
    """Run Datasette on `host:port` until interrupted."""
    datasette = _datasette_cli()
    if not database.is_file():
        raise UsageError(f"no database at {database} yet: run `leakmon scan` first")
    try:
        public = not ipaddress.ip_address(host).is_loopback
    except ValueError:
        public = host != "localhost"
    if public:
        warn(f"Warning: listening on {host}: anyone who reaches it can read every hit (no login)")
    with tempfile.TemporaryDirectory(prefix="leakmon-browse-") as tmp:
        meta = Path(tmp) / "metadata.json"
        meta.write_text(json.dumps(metadata(database)), encoding="utf-8")
        args = ["serve", str(database), "--metadata", str(meta), "--host", host, "--port", str(port)]
        datasette.main(args=args, prog_name="leakmon browse", standalone_mode=False)
