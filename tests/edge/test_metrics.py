"""The exporter: the router's own registry, the series' names and labels, key states taken at
scrape time, and no key value in a scrape."""

from __future__ import annotations

import time

import pytest
from hpn_router.config import KeyConfig
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keypool import KeyPool
from hpn_router.core.metrics import KEY_STATES
from hpn_router.edge.metrics import MULTIPROCESS_DIR_ENV, Children, RouterMetrics, multiprocess_dir
from prometheus_client import REGISTRY, CollectorRegistry, Counter, values
from prometheus_client.multiprocess import mark_process_dead
from prometheus_client.parser import text_string_to_metric_families

NOW = 1_700_000_000.0


def scrape(metrics: RouterMetrics) -> dict[str, list]:
    text = metrics.render(metrics.key_states()).decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def test_every_series_is_exported_with_its_labels() -> None:
    metrics = RouterMetrics(lambda: None)
    metrics.requests("chat", "gpt-4o", "200").inc()
    metrics.attempts("gemini", "a", "ok").inc()
    metrics.cache("hit").inc()
    metrics.tokens("gemini", "gemini-2.5-flash", "input").inc(7)
    metrics.saved_usd.inc(0.5)
    metrics.request_duration("chat").observe(0.1)
    metrics.upstream_duration("gemini").observe(0.05)
    metrics.time_to_first_token("chat").observe(0.02)
    metrics.overhead.observe(0.001)
    metrics.webhook_deliveries("given_up").inc()
    families = scrape(metrics)
    assert families["hpn_requests"][0].labels == {"endpoint": "chat", "model": "gpt-4o", "status": "200"}
    assert families["hpn_upstream_attempts"][0].labels == {"provider": "gemini", "key": "a", "outcome": "ok"}
    assert families["hpn_tokens"][0].value == 7
    assert families["hpn_saved_usd"][0].value == 0.5
    assert [(s.name, s.labels, s.value) for s in families["hpn_webhook_deliveries"]] == [
        ("hpn_webhook_deliveries_total", {"outcome": "given_up"}, 1)
    ]
    assert {"hpn_request_duration_seconds", "hpn_upstream_duration_seconds", "hpn_time_to_first_token_seconds"} <= set(families)
    assert {s.name for s in families["hpn_router_overhead_seconds"]} >= {"hpn_router_overhead_seconds_count"}
    assert not any(s.name.endswith("_created") for samples in families.values() for s in samples)  # disabled: half the lines


DURATION = ("0.01", "0.02", "0.04", "0.08", "0.16", "0.32", "0.64", "1.28", "2.56", "5.12", "10.24", "20.48", "40.96", "81.92", "+Inf")
TTFT = ("0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1", "0.25", "0.5", "0.75", "1.0", "2.5", "5.0", "7.5", "10.0", "+Inf")
OVERHEAD = ("0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "+Inf")
# What dashboards and alerts read: (name, type, help, label names in the order the router passes
# their values, histogram buckets). A change here is a breaking change for every scrape's reader.
PUBLISHED = [
    ("hpn_requests", "counter", "client requests answered", ("endpoint", "model", "status"), ()),
    ("hpn_upstream_attempts", "counter", "upstream attempts, by the key that made them", ("provider", "key", "outcome"), ()),
    ("hpn_cache_requests", "counter", "flash cache lookups", ("result",), ()),
    ("hpn_tokens", "counter", "tokens upstream answers counted", ("provider", "model", "direction"), ()),
    ("hpn_webhook_deliveries", "counter", "webhook deliveries, by outcome (edge/webhooks.py)", ("outcome",), ()),
    ("hpn_saved_usd", "counter", "what the answered requests would have cost on OpenAI, USD", (), ()),
    ("hpn_request_duration_seconds", "histogram", "client request, arrival to answer", ("endpoint",), DURATION),
    ("hpn_upstream_duration_seconds", "histogram", "one upstream attempt, until its answer's headers", ("provider",), DURATION),
    ("hpn_time_to_first_token_seconds", "histogram", "streams: arrival to the first chunk sent", ("endpoint",), TTFT),
    ("hpn_router_overhead_seconds", "histogram", "time spent in the router itself, upstream excluded", (), OVERHEAD),
    ("hpn_key_state", "gauge", "1 for the key's current state", (), ()),
    ("hpn_key_cooldown_seconds", "gauge", "seconds until the key serves again", (), ()),
]


def test_the_series_keep_their_published_names_help_labels_and_buckets() -> None:
    metrics = RouterMetrics(lambda: None)
    labelled = {
        "hpn_requests": metrics.requests,
        "hpn_upstream_attempts": metrics.attempts,
        "hpn_cache_requests": metrics.cache,
        "hpn_tokens": metrics.tokens,
        "hpn_webhook_deliveries": metrics.webhook_deliveries,
        "hpn_request_duration_seconds": metrics.request_duration,
        "hpn_upstream_duration_seconds": metrics.upstream_duration,
        "hpn_time_to_first_token_seconds": metrics.time_to_first_token,
    }
    for name, children in labelled.items():
        [labels] = [labels for published, _, _, labels, _ in PUBLISHED if published == name]
        children(*(str(position) for position in range(len(labels))))  # each label's value is its position
    text = metrics.render(metrics.key_states()).decode()
    exposed = []
    for family in text_string_to_metric_families(text):
        labels = {name: value for sample in family.samples for name, value in sample.labels.items() if name != "le"}
        buckets = tuple(sample.labels["le"] for sample in family.samples if sample.name.endswith("_bucket"))
        exposed.append((family.name, family.type, family.documentation, tuple(sorted(labels, key=labels.__getitem__)), buckets))
    assert exposed == PUBLISHED


def test_registries_are_the_routers_own() -> None:
    first, second = RouterMetrics(lambda: None), RouterMetrics(lambda: None)
    first.requests("chat", "m", "200").inc()
    assert scrape(second)["hpn_requests"] == []
    assert REGISTRY.get_sample_value("hpn_requests_total", {"endpoint": "chat", "model": "m", "status": "200"}) is None


def test_a_child_series_is_looked_up_once_per_label_values() -> None:
    counter = Counter("hpn_test", "test", ["endpoint"], registry=CollectorRegistry())
    looked_up = []
    labels = counter.labels
    counter.labels = lambda *values: looked_up.append(values) or labels(*values)  # type: ignore[method-assign]
    children = Children(counter)
    children("chat").inc()
    children("chat").inc()
    children("embeddings").inc()
    assert looked_up == [("chat",), ("embeddings",)]
    assert labels("chat")._value.get() == 2 and labels("embeddings")._value.get() == 1


def test_key_state_is_read_at_scrape_time() -> None:
    keys = [KeyConfig(name="alpha", key="AIzaSySecretValueAlpha0000", project="proj-1"), KeyConfig(name="beta", key="AIzaSySecretBeta")]
    pool = KeyPool(keys, cooldown_seconds=60)
    now = [NOW]
    metrics = RouterMetrics(lambda: pool, clock=lambda: now[0])
    pool.report(0, Outcome(Verdict.RATE_LIMITED, "429", retry_after=30), NOW, "gemini-2.5-flash")
    states = {(s.labels["key"], s.labels["state"]): s.value for s in scrape(metrics)["hpn_key_state"]}
    assert states[("alpha", "cooling")] == 1 and states[("alpha", "active")] == 0 and states[("beta", "active")] == 1
    cooldowns = {s.labels["key"]: s.value for s in scrape(metrics)["hpn_key_cooldown_seconds"]}
    assert cooldowns == {"alpha": 30.0, "beta": 0.0}
    now[0] = NOW + 31  # nobody writes the gauge: the next scrape reads the pool again
    states = {(s.labels["key"], s.labels["state"]): s.value for s in scrape(metrics)["hpn_key_state"]}
    assert states[("alpha", "active")] == 1 and states[("alpha", "cooling")] == 0
    text = metrics.render(metrics.key_states()).decode()
    assert 'project="proj-1"' in text and 'project="key:beta"' in text
    assert "Secret" not in text


def test_redis_up_is_read_at_scrape_time_and_absent_without_redis() -> None:
    assert "hpn_redis_up" not in scrape(RouterMetrics(lambda: None))
    redis: list[str | None] = ["up"]
    metrics = RouterMetrics(lambda: None, redis_source=lambda: redis[0])
    assert [s.value for s in scrape(metrics)["hpn_redis_up"]] == [1.0]
    redis[0] = "down"
    assert [s.value for s in scrape(metrics)["hpn_redis_up"]] == [0.0]


def test_measure_a_scrape_with_100_keys(capsys) -> None:
    """Not a timed assertion: prints what a scrape costs with 100 keys, split as the router
    splits it (the key states read on the event loop; the text rendered in a worker thread),
    with every key's attempts counted under three outcomes and 32 models on four endpoints
    (the figure in the README's Metrics section)."""
    keys = [KeyConfig(name=f"key_{i}", key=f"AIzaSySecret{i:04d}Value", project=f"proj-{i}") for i in range(100)]
    pool = KeyPool(keys, cooldown_seconds=60)
    for i in range(0, 100, 3):
        pool.report(i, Outcome(Verdict.RATE_LIMITED, "429", retry_after=30), NOW, "gemini-2.5-flash")
    metrics = RouterMetrics(lambda: pool, clock=lambda: NOW + 1)
    for i in range(100):
        for outcome in ("ok", "rate_limited", "server_error"):
            metrics.attempts("gemini", f"key_{i}", outcome).inc()
    for endpoint in ("chat", "responses", "messages", "embeddings"):
        for model in range(32):
            metrics.requests(endpoint, f"model-{model}", "200").inc()
        metrics.request_duration(endpoint).observe(0.1)
    runs, on_loop, rendering = 50, 0.0, 0.0
    for _ in range(runs):
        started = time.perf_counter()
        rows = metrics.key_states()
        read = time.perf_counter()
        body = metrics.render(rows)
        on_loop, rendering = on_loop + read - started, rendering + time.perf_counter() - read
    with capsys.disabled():
        print(
            f"\nscrape, 100 keys: {on_loop / runs * 1000:.2f} ms on the event loop (key states), "
            f"{rendering / runs * 1000:.2f} ms rendering off it, {len(body)} bytes"
        )
    families = {family.name: family.samples for family in text_string_to_metric_families(body.decode())}
    assert len(families["hpn_key_state"]) == 400 and len(families["hpn_upstream_attempts"]) == 300
    assert sum(s.value for s in families["hpn_key_state"] if s.labels["state"] == "cooling") == 34


def as_worker(monkeypatch: pytest.MonkeyPatch, folder: str, pid: int, pool: KeyPool | None = None) -> RouterMetrics:
    """The exporter as a worker process `pid` makes it: prometheus_client in multiprocess mode
    (chosen at import from PROMETHEUS_MULTIPROC_DIR; here set for this one exporter's series),
    its files in the supervisor's folder."""
    monkeypatch.setenv(MULTIPROCESS_DIR_ENV, folder)
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue(lambda: pid))
    return RouterMetrics(lambda: pool, shared_dir=multiprocess_dir(), redis_source=lambda: "up")


def count(families: dict[str, list], name: str, **labels: str) -> float:
    return sum(s.value for f in families.values() for s in f if s.name == name and labels.items() <= s.labels.items())


def test_a_router_alone_counts_in_its_own_registry(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    assert multiprocess_dir() is None  # the test process is a router alone
    monkeypatch.setenv(MULTIPROCESS_DIR_ENV, str(tmp_path))  # set too late: prometheus_client chose at import
    assert multiprocess_dir() is None
    RouterMetrics(lambda: None).requests("chat", "m", "200").inc()
    assert list(tmp_path.iterdir()) == []


def test_a_scrape_on_any_worker_sums_every_workers_series(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    pool = KeyPool([KeyConfig(name="alpha", key="AIzaSySecretValueAlpha0000")], cooldown_seconds=60)
    first, second = as_worker(monkeypatch, str(tmp_path), 101, pool), as_worker(monkeypatch, str(tmp_path), 102, pool)
    assert multiprocess_dir() == str(tmp_path)
    for _ in range(3):
        first.requests("chat", "gpt-4o", "200").inc()
    second.requests("chat", "gpt-4o", "200").inc()
    second.requests("embeddings", "e", "200").inc()
    first.saved_usd.inc(0.25)
    second.saved_usd.inc(0.5)
    first.request_duration("chat").observe(0.015)  # the 0.02 bucket
    second.request_duration("chat").observe(3.0)  # the 5.12 bucket
    for metrics in (first, second):  # whichever worker the kernel picks
        families = scrape(metrics)
        assert count(families, "hpn_requests_total", endpoint="chat") == 4 and count(families, "hpn_requests_total") == 5
        assert count(families, "hpn_saved_usd_total") == 0.75
        assert count(families, "hpn_request_duration_seconds_count") == 2 and count(families, "hpn_request_duration_seconds_sum") == 3.015
        assert count(families, "hpn_request_duration_seconds_bucket", le="0.02") == 1
        assert count(families, "hpn_request_duration_seconds_bucket", le="5.12") == 2
        # The pool's collectors read shared state: one series per key, not one per worker.
        assert count(families, "hpn_key_state", key="alpha", state="active") == 1 and len(families["hpn_key_state"]) == len(KEY_STATES)
        assert [s.value for s in families["hpn_redis_up"]] == [1.0]
        assert "Secret" not in metrics.render(metrics.key_states()).decode()


def test_a_dead_workers_counts_stay_in_the_sum(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """The supervisor restarts a worker that died: a counter never goes back."""
    dead = as_worker(monkeypatch, str(tmp_path), 201)
    dead.requests("chat", "gpt-4o", "200").inc(2)
    mark_process_dead(201, str(tmp_path))  # what the supervisor does on the restart
    restarted = as_worker(monkeypatch, str(tmp_path), 202)
    restarted.requests("chat", "gpt-4o", "200").inc()
    assert count(scrape(restarted), "hpn_requests_total") == 3
