"""A hypothesis state machine over the whole data path: the Hub simulator (with its faults), the
real huggingface_hub client through leakmon's HubSource, a real SQLite file, two real signed-webhook
receivers (two notifiers), in-process scans and `scan` subprocesses killed with SIGKILL.

Rules: matching and non-matching repos appear (some "late": dated a few minutes back, as the
Hub's eventually consistent listing shows them); repos are deleted between scans, or in the middle
of a scan (between two listing pages); the Hub answers 429 bursts, 5xx, timeouts, malformed JSON
and connection resets; a receiver fails or answers slowly (sometimes slower than the notifier's
timeout); a scan subprocess is killed at a random moment, then the next scan must recover; `drain`
heals the Hub and the receivers and scans until the outbox is empty.

Invariants, after every step: the database is sound and has no half-written rows; no
non-matching repo ever has a hit or an alert; each alert arrives under one stable webhook-id, the
one in its outbox row. After each scan that moves a type's cursor: every matching repo of that type
that was on the Hub during the whole scan and is not newer than the cursor has its hit (a cursor
never passes a repo that was not read). After a drain: every matching repo that is still on the
Hub has exactly one hit, delivered at least once to each notifier.

Deleted repos: a matching repo deleted before any scan read it need not have a hit (no one could
have seen it); if a scan read it first, its hit stays and must be delivered like any other. So the
model keeps deleted repos apart: at most one hit each, and any hit they have must be delivered.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.conftest import SECRET, scaled
from tests.invariants import check_db, check_deliveries

RUNNER = Path(__file__).resolve().parent / "crash_runner.py"
NOTIFIERS = ("security", "ops")
PAGE_SIZE = 3  # small pages: a handful of repos already spans several listing pages
LISTING = {"model": r"^/api/models$", "dataset": r"^/api/datasets$", "space": r"^/api/spaces$"}
TYPES = ("model", "dataset", "space")

# (label, matches the `sora` watch, repo id for a number n, card title or None)
KINDS: list[tuple[str, bool, str, str | None]] = [
    ("name", True, "leaker{n}/sora-{n}", None),
    ("turbo", True, "x{n}/Sora-Turbo-v{n}", None),
    ("camel", True, "lab{n}/OpenSora-{n}", None),
    ("puppet", True, "PR-Puppets{n}/PR-Puppet-Sora-{n}", None),
    ("title", True, "innocent{n}/video-demo-{n}", "Sora Video Generator"),
    ("noise", False, "user{n}/bert-base-finetuned-{n}", None),
    ("soraka", False, "riot{n}/soraka-build-guide-{n}", None),
    ("tessora", False, "tessora{n}/tessora-7b-{n}", None),
    ("owner", False, "openai/sora-preview-{n}", None),  # ignore_authors
    ("title-noise", False, "fan{n}/music-{n}", "Sorabji piano"),
]

CONFIG = """
[hub]
endpoint = "{endpoint}"
lookback = 172800
timeout = 1
max_retries = 2
max_quota_share = 1.0

[database]
path = "leakmon.db"

[[watch]]
name = "sora"
terms = ["sora", "sora-turbo"]
ignore_authors = ["openai"]
severity = "critical"
"""
NOTIFIER = """
[[notifier]]
name = "{name}"
type = "webhook"
url = "{url}"
secret = "{secret}"
allow_private = true
timeout = 1
"""


@dataclass
class HubRepo:
    repo_type: str
    repo_id: str
    created_at: datetime
    matching: bool
    present: bool = True


def note(text: str) -> None:
    """A hypothesis event (shown by --hypothesis-show-statistics); nothing outside a hypothesis run."""
    with contextlib.suppress(InvalidArgument):
        event(text)


def _repo_key(repo: HubRepo) -> tuple[str, str]:
    return repo.repo_type, repo.repo_id


class LeakmonMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        from monitor.hubsim import HubSimulator
        from monitor.receiver import WebhookReceiver

        self.tmp = Path(tempfile.mkdtemp(prefix="leakmon-sm-"))
        self.sim = HubSimulator(quota=10**9).start()
        self.receivers = {name: WebhookReceiver(SECRET).start() for name in NOTIFIERS}
        text = CONFIG.format(endpoint=self.sim.url) + "".join(
            NOTIFIER.format(name=name, url=r.url, secret=SECRET) for name, r in self.receivers.items()
        )
        self.config_path = self.tmp / "leakmon.toml"
        self.config_path.write_text(text)
        self.db_path = self.tmp / "leakmon.db"
        self.repos: dict[tuple[str, str], HubRepo] = {}
        self.counter = 0
        # The model's clock: each new repo is 400 s newer than the last, so one listing page spans
        # more than the scan's 10-minute overlap (which would hide a cursor that moved too far);
        # none is in the future (at most ~340 repos in a `make stress` run: 38 hours of 47).
        self.clock = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=47)
        self.scanner: Any = None
        self.killed_since_drain = False

    # --- plumbing --------------------------------------------------------------------------------

    def _open_scanner(self) -> Any:
        from monitor import config
        from monitor.dispatch import Relay, build_notifiers
        from monitor.hub import HubSource
        from monitor.scanner import Scanner
        from monitor.store import Store

        cfg = config.load(self.config_path)
        store = Store.open(cfg.database.path)
        source = HubSource.from_config(cfg.hub, base_wait=0.01, max_wait=0.04, page_size=PAGE_SIZE)
        relay = Relay(
            store, build_notifiers(cfg.notifiers), schedule=(0.05, 0.1, 0.2), lease=timedelta(seconds=5)
        )
        return Scanner(cfg, store, source, relay, delivery_wait=0.5)

    def teardown(self) -> None:
        try:
            self.drain()
        finally:
            if self.scanner is not None:
                self.scanner.close()
            self.sim.stop()
            for r in self.receivers.values():
                r.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _present_matching(self, repo_type: str | None = None) -> list[HubRepo]:
        return [
            r
            for r in self.repos.values()
            if r.matching and r.present and (repo_type is None or r.repo_type == repo_type)
        ]

    def _snapshot(self) -> tuple[dict[str, str], set[tuple[str, str]]]:
        from monitor.store import Store

        with Store.open(self.db_path) as store:
            cursors = {t: c.isoformat() for t, c in store.cursors().items()}
        return cursors, {_repo_key(r) for r in self._present_matching()}

    def _check_cursors(self, before: tuple[dict[str, str], set[tuple[str, str]]]) -> None:
        """A scan that moved a type's cursor read every repo of that type up to it."""
        from monitor.store import Store

        old_cursors, visible = before
        state = check_db(self.db_path, NOTIFIERS)
        hit_repos = {(h[2], h[3]) for h in state["hits"]}
        with Store.open(self.db_path) as store:
            cursors = store.cursors()
        for repo_type, cursor in cursors.items():
            if old_cursors.get(repo_type) == cursor.isoformat():
                continue
            for key in visible:
                repo = self.repos[key]
                if repo.repo_type == repo_type and repo.present and repo.created_at <= cursor:
                    assert key in hit_repos, f"the {repo_type} cursor moved to {cursor} past unread {key}"

    # --- rules: the Hub --------------------------------------------------------------------------

    @initialize(
        seed=st.lists(st.tuples(st.sampled_from(KINDS), st.sampled_from(TYPES)), min_size=2, max_size=12)
    )
    def start(self, seed: list[tuple[tuple[str, bool, str, str | None], str]]) -> None:
        """Some repos already on the Hub (a few pages of them for some types), then the scanner."""
        for kind, repo_type in seed:
            self.add_repos(kind, repo_type, 1, False)
        self.add_repos(KINDS[0], seed[0][1], 1, False)  # at least one leak
        self.scanner = self._open_scanner()

    @rule(
        kind=st.sampled_from(KINDS),
        repo_type=st.sampled_from(TYPES),
        count=st.integers(1, 8),
        late=st.booleans(),
    )
    def add_repos(
        self, kind: tuple[str, bool, str, str | None], repo_type: str, count: int, late: bool
    ) -> None:
        """New repos; a `late` one is dated a few minutes back (inside the scan's overlap)."""
        _label, matching, pattern, title = kind
        if title is not None and repo_type != "space":
            repo_type = "space"  # titles come from a Space's card here
        for _ in range(count):
            self.counter += 1
            self.clock += timedelta(seconds=400)
            assert self.clock < datetime.now(UTC), "the model's clock ran into the future"
            # Late: older than the newest repo a scan may already have read, inside the overlap.
            created = self.clock - timedelta(seconds=540) if late else self.clock
            repo_id = pattern.format(n=self.counter)
            extra = {"card_data": {"title": title}} if title else {}
            self.sim.add_repo(repo_type, repo_id, created_at=created, **extra)
            self.repos[(repo_type, repo_id)] = HubRepo(repo_type, repo_id, created, matching)

    @precondition(lambda self: any(r.present for r in self.repos.values()))
    @rule(data=st.data())
    def delete_repo(self, data: st.DataObject) -> None:
        present = sorted(_repo_key(r) for r in self.repos.values() if r.present)
        key = data.draw(st.sampled_from(present))
        self.sim.remove_repo(*key)
        self.repos[key].present = False

    @rule(
        fault=st.sampled_from(["429", "5xx", "timeout", "malformed", "reset"]),
        repo_type=st.sampled_from(TYPES),
        times=st.integers(1, 4),
        page=st.sampled_from([None, 1, 2]),
        status=st.sampled_from([500, 502, 503, 504]),
    )
    def hub_fault(self, fault: str, repo_type: str, times: int, page: int | None, status: int) -> None:
        """Faults for the next requests of one listing; more than max_retries + 1 fail the page."""
        path = LISTING[repo_type]
        if fault == "429":
            self.sim.rate_limit_burst(count=min(times, 2), reset=0, path=path, page=page)
        elif fault == "5xx":
            self.sim.fail(status=status, path=path, page=page, times=times)
        elif fault == "timeout":  # slower than hub.timeout = 1
            self.sim.latency(1.3, path=path, times=1, page=page)
        elif fault == "malformed":
            self.sim.malformed_json(path=path, times=times, page=page)
        else:
            self.sim.reset_connection(path=path, times=min(times, 3), page=page)

    @rule(repo_type=st.sampled_from(TYPES), page=st.sampled_from([1, 2, 2, 3]))
    def page_outage(self, repo_type: str, page: int) -> None:
        """One listing page answers 503 on every try until the next drain: scans of that type fail."""
        self.sim.fail(status=503, path=LISTING[repo_type], page=page, times=None)

    # --- rules: the receivers ----------------------------------------------------------------------

    @rule(
        name=st.sampled_from(NOTIFIERS), statuses=st.lists(st.sampled_from([500, 502, 503, 429]), max_size=4)
    )
    def receiver_fails(self, name: str, statuses: list[int]) -> None:
        self.receivers[name].fail_next(statuses)

    @rule(name=st.sampled_from(NOTIFIERS), delay=st.sampled_from([0.0, 0.0, 0.2, 1.2]))
    def receiver_speed(self, name: str, delay: float) -> None:
        """1.2 s is over the notifier's timeout: the receiver gets the alert, leakmon does not know."""
        self.receivers[name].delay = delay

    # --- rules: scans ------------------------------------------------------------------------------

    @rule()
    def scan(self) -> None:
        before = self._snapshot()
        note(f"scan: {self.scanner.run_once().outcome}")
        self._check_cursors(before)

    @precondition(lambda self: any(len(self._present_matching(t)) >= 1 for t in TYPES))
    @rule(data=st.data())
    def scan_while_a_repo_is_deleted(self, data: st.DataObject) -> None:
        """The repo disappears between two listing pages of its type (page 2 is slow to answer)."""
        candidates = sorted(_repo_key(r) for r in self._present_matching())
        repo_type, repo_id = data.draw(st.sampled_from(candidates))
        path = LISTING[repo_type]
        api_path = path.strip("^$")
        self.sim.clear_log()
        self.sim.latency(0.4, path=path, page=2, times=1)
        done = threading.Event()

        def remove_after_page_one() -> None:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not done.is_set():
                if any(r.status == 200 for r in self.sim.requests(path_prefix=api_path)):
                    break
                time.sleep(0.005)
            self.sim.remove_repo(repo_type, repo_id)

        before = self._snapshot()
        remover = threading.Thread(target=remove_after_page_one, daemon=True)
        remover.start()
        try:
            result = self.scanner.run_once()
        finally:
            done.set()
            remover.join(timeout=30)
        read = any(h["repo_id"] == repo_id for h in self.scanner.store.list_hits())
        note(f"deleted mid-scan: {result.outcome}, {'read before' if read else 'gone before'} its page")
        self.repos[(repo_type, repo_id)].present = False
        self._check_cursors(before)

    @rule(delay=st.floats(0.2, 3.0), slow=st.sampled_from([None, *NOTIFIERS]))
    def kill_a_scan(self, delay: float, slow: str | None) -> None:
        """`scan` in a subprocess, SIGKILLed after `delay` seconds (maybe while a receiver is slow)."""
        if slow is not None:
            self.receivers[slow].delay = 0.8
        before = self._snapshot()
        env = {**os.environ, "LEAKMON_TEST_PAGE_SIZE": str(PAGE_SIZE)}
        proc = subprocess.Popen(
            [sys.executable, str(RUNNER), str(self.config_path), "normal"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            self.killed_since_drain = True
            note("kill: SIGKILL while running" + (", receiver slow" if slow else ""))
        else:
            note("kill: the scan finished first")
        self._check_cursors(before)

    @rule()
    def drain(self) -> None:
        """Heal the Hub and the receivers, then scan until nothing waits in the outbox."""
        if self.scanner is None:
            return
        self.sim.clear_faults()
        for r in self.receivers.values():
            r.delay = 0.0
            with r._lock:
                r._script.clear()
        if self.killed_since_drain:
            time.sleep(1.1)  # the killed process's leases (1 s) expire
            self.killed_since_drain = False
        for _ in range(20):
            result = self.scanner.run_once()
            if result.ok and self.scanner.store.outbox_counts()["pending"] == 0:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the outbox did not drain: {self.scanner.store.outbox_counts()}")
        state = check_db(self.db_path, NOTIFIERS)
        assert all(row[5] == "delivered" for row in state["outbox"]), "a dead letter"
        hits = [(h[2], h[3]) for h in state["hits"]]
        for repo in self.repos.values():
            count = hits.count(_repo_key(repo))
            if repo.matching and repo.present:
                assert count == 1, f"{_repo_key(repo)} has {count} hits after a drain"
            else:
                assert count <= 1
        allowed = {r.repo_id for r in self.repos.values() if r.matching}
        for name, receiver in self.receivers.items():
            check_deliveries(receiver, state, name, complete=True, allowed=allowed)
        note(f"drain: {min(len(hits), 10)}{'+' if len(hits) >= 10 else ''} hits delivered")

    # --- invariants after every step ---------------------------------------------------------------

    @invariant()
    def nothing_half_written_and_nothing_false(self) -> None:
        if self.scanner is None or not self.db_path.exists():
            return
        state = check_db(self.db_path, NOTIFIERS)
        for _, _, repo_type, repo_id in state["hits"]:
            repo = self.repos.get((repo_type, repo_id))
            assert repo is not None and repo.matching, f"a hit for a non-matching repo {repo_id}"
        allowed = {r.repo_id for r in self.repos.values() if r.matching}
        for name, receiver in self.receivers.items():
            check_deliveries(receiver, state, name, complete=False, allowed=allowed)


LeakmonMachine.TestCase.settings = settings(
    max_examples=scaled(12, 100), stateful_step_count=scaled(15, 40), deadline=None
)
TestLeakmonMachine = pytest.mark.timeout(scaled(420, 7200))(LeakmonMachine.TestCase)


# --- the same machine, driven through chosen scenarios (deterministic regression tests) -------------

SORA = KINDS[0]
NOISE = KINDS[5]


def run_scenario(steps: Any) -> None:
    machine = LeakmonMachine()
    try:
        steps(machine)
        machine.nothing_half_written_and_nothing_false()
    finally:
        machine.teardown()  # drains, and checks the eventual invariants


@pytest.mark.timeout(120)
def test_scenario_page_outage_then_recovery() -> None:
    """Two pages of new models, page 2 down: the model cursor must not move past page 2."""

    def steps(m: LeakmonMachine) -> None:
        m.start([(SORA, "model"), (NOISE, "model")])
        m.scan()
        m.add_repos(SORA, "model", 4, False)
        m.add_repos(NOISE, "model", 3, False)
        m.page_outage("model", 2)
        m.scan()  # asserts that the cursor did not pass page 2
        m.add_repos(SORA, "space", 1, True)

    run_scenario(steps)


@pytest.mark.timeout(120)
def test_scenario_repo_deleted_between_pages() -> None:
    def steps(m: LeakmonMachine) -> None:
        m.start([(SORA, "dataset")] * 7)  # and one more leak: 8 datasets, pages of 3
        # The oldest leak is on the last page: it is gone before its page is read.
        repo = min(m._present_matching("dataset"), key=lambda r: r.created_at)
        m.scan_while_a_repo_is_deleted(FixedDraw(("dataset", repo.repo_id)))
        hits = {h["repo_id"] for h in m.scanner.store.list_hits()}
        assert repo.repo_id not in hits and len(hits) == 7  # the seed's 7 and the extra leak, less one

    run_scenario(steps)


@pytest.mark.timeout(120)
def test_scenario_kill_while_the_receiver_is_slow() -> None:
    def steps(m: LeakmonMachine) -> None:
        m.start([(SORA, "space"), (KINDS[4], "space"), (NOISE, "model")])
        m.receiver_fails("ops", [503, 503])
        m.kill_a_scan(2.5, "security")
        m.scan()

    run_scenario(steps)


class FixedDraw:
    """Stands in for hypothesis's `data` argument: `draw` returns a chosen value."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def draw(self, strategy: Any) -> Any:
        return self.value
