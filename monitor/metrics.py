"""Prometheus metrics of `leakmon run` (prometheus-client, its own registry)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from monitor.dispatch import DeliveryStats
from monitor.store import Store


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.scans = Counter("leakmon_scans", "Scans by outcome.", ["outcome"], registry=r)
        self.scan_seconds = Histogram(
            "leakmon_scan_duration_seconds",
            "Duration of scans.",
            registry=r,
            buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
        )
        self.repos = Counter("leakmon_repos_read", "Repos read from Hub listings.", registry=r)
        self.hits = Counter("leakmon_hits", "New hits.", registry=r)
        self.hub_requests = Counter("leakmon_hub_requests", "Requests sent to the Hub.", registry=r)
        self.errors = Counter("leakmon_errors", "Errors by kind (job name or scan).", ["kind"], registry=r)
        self.deliveries = Counter(
            "leakmon_deliveries", "Delivery attempts by result.", ["result"], registry=r
        )
        self.ratelimit_remaining = Gauge(
            "leakmon_hub_ratelimit_remaining",
            "Hub API requests left in the rate-limit window (last seen).",
            registry=r,
        )
        self.outbox = Gauge("leakmon_outbox", "Outbox rows by status.", ["status"], registry=r)
        self.last_success = Gauge(
            "leakmon_last_successful_scan_timestamp_seconds",
            "Unix time of the last successful scan.",
            registry=r,
        )
        self._server: Any = None

    def observe_scan(self, result: Any, seconds: float, source: Any) -> None:
        self.scans.labels(outcome=result.outcome).inc()
        self.scan_seconds.observe(seconds)
        self.repos.inc(result.repos_read)
        self.hits.inc(len(result.new_hit_ids))
        self.hub_requests.inc(result.hub_requests)
        if not result.ok:
            self.errors.labels(kind="scan").inc()
        else:
            self.last_success.set_to_current_time()
        left = source.quota_left()
        if left is not None:
            self.ratelimit_remaining.set(left)
        self.observe_delivery(result.delivery)

    def observe_delivery(self, stats: DeliveryStats) -> None:
        self.deliveries.labels(result="delivered").inc(stats.delivered)
        self.deliveries.labels(result="failed").inc(stats.failed)
        self.deliveries.labels(result="dead").inc(stats.dead)

    def observe_store(self, store: Store) -> None:
        for status, count in store.outbox_counts().items():
            self.outbox.labels(status=status).set(count)

    def serve(self, listen: tuple[str, int] | None) -> None:
        if listen is not None:
            host, port = listen
            self._server = start_http_server(port, addr=host, registry=self.registry)

    def close(self) -> None:
        if self._server is not None:
            server, _thread = self._server
            server.shutdown()
            server.server_close()
            self._server = None
