"""What bench.py measures and report.py reads back: the configuration names, the goals, and the rows
(one cell, one stream batch), the configurations and the targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STREAM_DELAY_MS = 20
CONCURRENCY = (1, 10, 50)
# Row names (configurations). Ratios are taken against BARE (throughput) and STREAM_BARE (first chunk).
BARE = "bare mitmdump"
HPN = "HPN Router (log warn)"
HPN_INFO = "HPN Router (log info)"
HIT = "HPN cache hit (log info)"
BASELINE = "baseline router (log warn)"
BASELINE_HIT = "baseline cache hit (log info)"
STREAM_DIRECT = "direct (emulator SSE)"
STREAM_BARE = "bare mitmdump, streaming"
STREAM_HPN = "HPN Router"
STREAM_BASELINE = "baseline router"
STREAM_FAILOVER = "HPN Router, after one 429"
LEAN = "HPN lean runner (log warn)"
LEAN_HIT = "HPN lean runner cache hit (log info)"
LEAN_GOAL = 1.3  # issue 10: the lean runner at >= 1.3x bare mitmdump at every concurrency
ONE_WORKER = "HPN lean runner, 1 worker (log warn)"
TWO_WORKERS = "HPN lean runner, 2 workers (log warn)"
WORKER_CONCURRENCY = (10, 50)
WORKERS_GOAL = 1.5  # issue 14: two workers >= 1.5x one worker's req/s at c=50 on 2 cores
ONCE = -1  # the round index of rows measured once, after the rounds (the failover stream)


@dataclass
class LoadRow:
    config: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    proxy_cpu: float | None  # CPU seconds / wall seconds of the proxy under test (1.0 = one core)
    proxy_cpu_ms_per_request: float | None  # the proxy's CPU per answered request: steadier than req/s on a busy box
    emulator_cpu: float | None
    client_cpu: float  # the load generator: wrk's CPU (when it drives the load) plus this process
    other_cpu: float | None  # everything else on the box (other users' processes): noise if > ~0.1
    emulator_cpu_ms_per_request: float | None = None
    client_cpu_ms_per_request: float | None = None
    loadgen: str = "aiohttp"  # what drove the load: wrk | aiohttp
    other_busiest: list[str] = field(default_factory=list)  # who that was
    proxy_rss_mb: tuple[float | None, float | None] | None = None
    error_samples: list[str] = field(default_factory=list)
    round: int = 0  # which round of the run measured it (0-based)
    idle_cpu: float | None = None  # the bench's other proxies, idle meanwhile (part of other_cpu): should be ~0


@dataclass
class Counted:
    """What a load generator counted over the measured part of a cell."""

    ok: int  # 200 answers
    errors: int  # other statuses and failed requests
    error_samples: list[str]
    p50_ms: float | None
    p99_ms: float | None
    seconds: float | None = None  # the generator's own measured duration (else the bench's wall clock)
    loadgen_cpu_s: float = 0.0  # CPU of a load generator outside this process (wrk)


@dataclass
class StreamRow:
    config: str
    requests: int
    errors: int
    ttfc_p50_ms: float | None  # time to the first chunk that carries content
    ttfc_p90_ms: float | None
    ttfc_max_ms: float | None
    total_p50_ms: float | None  # time to the end of the stream
    events_p50: float | None  # data: events per answer
    other_cpu: float | None = None  # as in LoadRow
    error_samples: list[str] = field(default_factory=list)
    check: str = ""  # e.g. the emulator-side verification of the failover row
    round: int = 0  # as in LoadRow; ONCE for the rows measured once, after the rounds
    idle_cpu: float | None = None  # as in LoadRow


@dataclass
class LoadConfig:
    """One configuration of the comparison set: measured at each of its concurrencies every round."""

    name: str
    url: str
    body: bytes
    headers: dict[str, str]
    proxy: Any | None  # the process under test (None: straight to the emulator)
    concurrencies: tuple[int, ...] = (1, 10, 50)


@dataclass
class StreamConfig:
    """One streaming configuration: a batch of sequential requests every round."""

    name: str
    url: str
    body: bytes
    headers: dict[str, str]
    kind: str  # gemini | openai: how a content chunk looks
    proxy: Any | None


@dataclass
class Target:
    name: str
    value: float | None  # the median over the rounds of the per-round figure
    limit: str
    ok: bool | None  # judged on the median
    low: float | None = None  # the lowest and highest per-round figure
    high: float | None = None
    rounds: int = 0
