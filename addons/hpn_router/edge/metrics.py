"""The router's Prometheus series: one CollectorRegistry of its own (never the process-wide
default one, so tests and reloads start clean), the counters and histograms the Metrics addon
feeds per request, and a collector that reads each key's state from the pool at scrape time.

Label values come from core/metrics.py (names only; models bounded). Histograms carry no key
label: a per-key histogram multiplies a scrape's size by the pool's size.

Under a supervisor (`server.workers`), every worker starts with PROMETHEUS_MULTIPROC_DIR set to
the supervisor's private folder (edge/workers.py), so prometheus_client (which decides when it
is imported) keeps each counter and histogram in a file per process there. A scrape, whichever
worker answers it, then sums every worker's files (a worker that died and was restarted
included: a counter never goes back) through a MultiProcessCollector, beside the key-state and
Redis collectors: those read the pool's shared state, the same on every worker.

Usage:
    metrics = RouterMetrics(pool_source=lambda: state.pool, shared_dir=multiprocess_dir())
    metrics.requests("chat", "gpt-4o", "200").inc()    # the child series for these label values
    rows = metrics.key_states()    # on the event loop
    body = await asyncio.to_thread(metrics.render, rows)   # Prometheus' text format, off the loop
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from hpn_router.core.keypool import KeyPool
from hpn_router.core.metrics import KEY_STATES, KeyStatus, key_states

# The classic text format, which generate_latest writes and every Prometheus version reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# OpenTelemetry's GenAI bucket boundaries (operation duration; time to first token): shared
# by the dashboards built for them.
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
OVERHEAD_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

# `_created` series double every counter's lines and cost a scrape a third of its time; no
# dashboard of ours reads them. (A process-wide switch of prometheus_client.)
prometheus_client.disable_created_metrics()


MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The folder where every worker's series are, when prometheus_client counts in files (it
    chose so at import, from the variable the supervisor set); None for a router alone."""
    counts_in_files = getattr(values.ValueClass, "_multiprocess", False)
    return os.environ.get(MULTIPROCESS_DIR_ENV) if counts_in_files else None


@dataclass(frozen=True, slots=True)
class Declared:
    """One series as scrapes show it: name, help, label names (in the order the router passes
    their values) and, for a histogram, its buckets. Dashboards read these: keep them as they are."""

    name: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    def counter(self, registry: CollectorRegistry) -> Counter:
        return Counter(self.name, self.help, self.labels, registry=registry)

    def histogram(self, registry: CollectorRegistry) -> Histogram:
        return Histogram(self.name, self.help, self.labels, buckets=self.buckets, registry=registry)


# The counters and histograms RouterMetrics feeds (the key-state and Redis gauges are read at scrape time).
REQUESTS = Declared("hpn_requests", "client requests answered", ("endpoint", "model", "status"))
ATTEMPTS = Declared("hpn_upstream_attempts", "upstream attempts, by the key that made them", ("provider", "key", "outcome"))
CACHE = Declared("hpn_cache_requests", "flash cache lookups", ("result",))
TOKENS = Declared("hpn_tokens", "tokens upstream answers counted", ("provider", "model", "direction"))
WEBHOOK_DELIVERIES = Declared("hpn_webhook_deliveries", "webhook deliveries, by outcome (edge/webhooks.py)", ("outcome",))
SAVED_USD = Declared("hpn_saved_usd", "what the answered requests would have cost on OpenAI, USD")
REQUEST_DURATION = Declared("hpn_request_duration_seconds", "client request, arrival to answer", ("endpoint",), DURATION_BUCKETS)
UPSTREAM_DURATION = Declared(
    "hpn_upstream_duration_seconds", "one upstream attempt, until its answer's headers", ("provider",), DURATION_BUCKETS
)
TIME_TO_FIRST_TOKEN = Declared("hpn_time_to_first_token_seconds", "streams: arrival to the first chunk sent", ("endpoint",), TTFT_BUCKETS)
OVERHEAD = Declared("hpn_router_overhead_seconds", "time spent in the router itself, upstream excluded", buckets=OVERHEAD_BUCKETS)


Series = TypeVar("Series", Counter, Histogram)


class Children(Generic[Series]):
    """A labelled metric's child series, by label values (positional, in the metric's label
    order). prometheus_client's `.labels()` validates the values, takes a lock and builds a key
    on every call, several times per request; a child, once made, is the same object for good,
    so each is looked up once. Bounded as the series are: the label values are (core/metrics.py)."""

    def __init__(self, metric: Series) -> None:
        self.metric = metric
        self._children: dict[tuple[str, ...], Series] = {}

    def __call__(self, *values: str) -> Series:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.metric.labels(*values)
        return child


class KeyStateCollector(Collector):
    """hpn_key_state and hpn_key_cooldown_seconds from the key states of this scrape (never
    last-write-wins: a key that recovered shows active without anyone writing it). The states
    are read from the pool on the event loop (`RouterMetrics.key_states`), which alone writes
    the pool; the text is then rendered off the loop from these plain rows."""

    def __init__(self) -> None:
        self.rows: list[KeyStatus] = []

    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily("hpn_key_state", "1 for the key's current state", labels=["provider", "key", "project", "state"])
        cooldown = GaugeMetricFamily("hpn_key_cooldown_seconds", "seconds until the key serves again", labels=["provider", "key"])
        for row in self.rows:
            for name in KEY_STATES:
                state.add_metric([row.provider, row.key, row.project, name], 1.0 if name == row.state else 0.0)
            cooldown.add_metric([row.provider, row.key], round(row.cooldown_seconds, 3))
        yield state
        yield cooldown


class RedisCollector(Collector):
    """hpn_redis_up: 1 while the shared state's Redis answers, 0 while the router serves from
    its own state; no series at all for a router without Redis (state.redis_url unset)."""

    def __init__(self, source: Callable[[], str | None]) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        redis = self.source()
        if redis is not None:
            yield GaugeMetricFamily("hpn_redis_up", "1 while the shared state's Redis answers", value=1.0 if redis == "up" else 0.0)


class RouterMetrics:
    def __init__(
        self,
        pool_source: Callable[[], KeyPool | None],
        *,
        clock: Callable[[], float] = time.time,
        redis_source: Callable[[], str | None] = lambda: None,
        shared_dir: str | None = None,
    ) -> None:
        """`shared_dir`: every worker's files (multiprocess_dir()); None: this process alone."""
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.requests = Children(REQUESTS.counter(registry))
        self.attempts = Children(ATTEMPTS.counter(registry))
        self.cache = Children(CACHE.counter(registry))
        self.tokens = Children(TOKENS.counter(registry))
        self.webhook_deliveries = Children(WEBHOOK_DELIVERIES.counter(registry))
        self.saved_usd = SAVED_USD.counter(registry)
        self.request_duration = Children(REQUEST_DURATION.histogram(registry))
        self.upstream_duration = Children(UPSTREAM_DURATION.histogram(registry))
        self.time_to_first_token = Children(TIME_TO_FIRST_TOKEN.histogram(registry))
        self.overhead = OVERHEAD.histogram(registry)
        self.pool_source = pool_source
        self.clock = clock
        self._keys = KeyStateCollector()
        # What a scrape renders: this process's registry alone, or (workers) every worker's
        # files summed; the pool's collectors either way, once.
        self.scraped = registry if shared_dir is None else CollectorRegistry()
        if shared_dir is not None:
            MultiProcessCollector(self.scraped, path=shared_dir)
        self.scraped.register(self._keys)
        self.scraped.register(RedisCollector(redis_source))

    def key_states(self) -> list[KeyStatus]:
        """Each key's state now; on the event loop (the pool is not thread-safe)."""
        pool = self.pool_source()
        return key_states(pool, self.clock()) if pool is not None else []

    def render(self, keys: list[KeyStatus]) -> bytes:
        """The text exposition with these key states. Thread-safe (the counters are), so a
        scrape can run off the event loop: with a large pool it takes milliseconds."""
        self._keys.rows = keys
        return prometheus_client.generate_latest(self.scraped)
