"""hub.py's file reads for the content tier: bounded Range reads, LFS hashes, quota manners.

The simulator for the Hub's behaviour; small hostile servers of our own for what the real Hub would
never do (ignore Range and stream gigabytes) and for the CDN an LFS file redirects to.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from monitor.errors import FileMissing, RepoGone
from monitor.hub import HubSource
from tests.conftest import write_config

NOW = datetime.now(UTC)


def source(url: str, **kw: Any) -> HubSource:
    return HubSource(url, timeout=5, max_retries=1, base_wait=0.01, max_wait=0.02, **kw)


def test_read_file_is_a_bounded_range_read(sim: Any) -> None:
    sim.add_repo("space", "a/b", files={"app.py": "0123456789" * 100, "empty.txt": ""})
    with source(sim.url) as hub:
        assert hub.read_file("space", "a/b", "app.py", max_bytes=25) == b"0123456789012345678901234"
        assert hub.read_file("space", "a/b", "app.py", max_bytes=5, start=13) == b"34567"
        assert hub.read_file("space", "a/b", "empty.txt", max_bytes=100) == b""  # 416: empty
        assert hub.bytes_read == 30
        with pytest.raises(FileMissing):
            hub.read_file("space", "a/b", "nope.py", max_bytes=10)
        with pytest.raises(RepoGone):
            hub.read_file("space", "a/gone", "app.py", max_bytes=10)
    ranges = [r.headers.get("range") for r in sim.requests() if r.path == "/spaces/a/b/resolve/main/app.py"]
    assert ranges == ["bytes=0-24", "bytes=13-17"]


def test_repo_files_give_lfs_sha256_and_sizes(sim: Any) -> None:
    sha = "cd" * 32
    sim.add_repo("model", "a/w", files={"README.md": "hi"})
    sim.add_file("model", "a/w", "w/part.bin", size=10**10, lfs_sha256=sha)
    with source(sim.url) as hub:
        info, files = hub.repo_files("model", "a/w")
        with pytest.raises(RepoGone):
            hub.repo_files("model", "a/missing")
    assert info["id"] == "a/w" and "siblings" not in info
    by_path = {f["path"]: f for f in files}
    assert by_path["w/part.bin"] == {"path": "w/part.bin", "size": 10**10, "sha256": sha}
    assert by_path["README.md"]["sha256"] is None


class _Hostile(BaseHTTPRequestHandler):
    """Ignores Range and streams 64 MB; or redirects to another origin like the Hub's CDN."""

    protocol_version = "HTTP/1.1"
    sent = 0
    seen_auth: ClassVar[list[str | None]] = []
    cdn = ""

    def do_GET(self) -> None:
        type(self).seen_auth.append(self.headers.get("authorization"))
        if "/resolve/" in self.path and type(self).cdn and not self.path.startswith("/cdn"):
            self.send_response(302)
            self.send_header("Location", f"{type(self).cdn}/cdn/blob")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = 64 * 1024 * 1024
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b"x" * 65536
        try:
            for _ in range(size // len(chunk)):
                self.wfile.write(chunk)
                type(self).sent += len(chunk)
        except OSError:
            pass  # the client hung up: what we want

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[tuple[str, type[_Hostile]]]:
    handler = type("H", (_Hostile,), {"sent": 0, "seen_auth": [], "cdn": ""})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_a_server_ignoring_range_is_cut_off(hostile: tuple[str, type[_Hostile]]) -> None:
    url, handler = hostile
    with source(url) as hub:
        data = hub.read_file("model", "a/b", "big.bin", max_bytes=1000)
        offset = hub.read_file("model", "a/b", "big.bin", max_bytes=10, start=100_000)
    assert data == b"x" * 1000 and offset == b"x" * 10 and hub.bytes_read == 1010
    assert handler.sent < 16 * 1024 * 1024  # hung up long before the 64 MB were sent


def test_an_lfs_redirect_to_another_origin_drops_the_token(
    hostile: tuple[str, type[_Hostile]],
) -> None:
    cdn, cdn_handler = hostile
    hub_server = ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Hub", (_Hostile,), {"seen_auth": [], "cdn": cdn})
    )
    threading.Thread(target=hub_server.serve_forever, daemon=True).start()
    try:
        hub_url = f"http://127.0.0.1:{hub_server.server_address[1]}"
        with source(hub_url, token="hf_secret_token") as hub:
            assert hub.read_file("model", "a/b", "model.safetensors", max_bytes=8) == b"x" * 8
        hub_auth = hub_server.RequestHandlerClass.seen_auth  # type: ignore[attr-defined]
    finally:
        hub_server.shutdown()
        hub_server.server_close()
    assert hub_auth == ["Bearer hf_secret_token"]
    assert cdn_handler.seen_auth == [None]  # the CDN never sees the Hub token


def test_the_content_tier_keeps_to_its_share_of_the_resolver_quota(
    sim: Any, receiver: Any, tmp_path: Path, make_scanner: Any
) -> None:
    sim.set_quota(10**6, resolver_quota=8, resolver_window=300)
    for i in range(6):
        sim.add_repo(
            "space",
            f"u{i}/s{i}",
            created_at=NOW - timedelta(minutes=i + 1),
            sdk="gradio",
            files={"app.py": "print('hi')\n"},
        )
    watches = '[[watch]]\nname = "sora"\nterms = ["sora"]\ncontent = ["video.internal.example"]\n'
    path = write_config(tmp_path / "leakmon.toml", endpoint=sim.url, hook_url=receiver.url, watches=watches)
    path.write_text(path.read_text().replace("max_retries = 2", "max_retries = 2\nmax_quota_share = 0.5"))
    scanner = make_scanner(path)
    result = scanner.run_once()
    assert result.ok and result.content is not None
    # Half of 8 resolver requests: 4 Spaces read, 2 wait for the next window, none refused.
    assert result.content.probed == 4 and result.content.deferred == 2
    assert not [r for r in sim.requests() if r.status == 429]
    assert len([r for r in sim.requests() if "/resolve/" in r.path]) == 4
