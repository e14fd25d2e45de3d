"""HPN Router benchmark: what the router costs on top of the Gemini emulator and of bare mitmdump.

Everything runs on loopback. Every configuration of the comparison set is started once and kept
running side by side, each its own process on its own port: bare mitmdump (no addons), the router
in `mitmdump -s` (log warn; also at log info, with metrics off, with the cache on for cache hits),
the lean runner (`python -m hpn_router run`, what ./run.sh starts) plain and cache hit, one and two
workers (`server.workers`, each supervisor with a redis-server of its own), and with --baseline
another checkout's router. Then, round after round (--rounds, default 3), for each concurrency
(1, 10, 50) each configuration's cell runs in turn, the order rotated every round so none always
goes first; then each streaming configuration runs a batch of sequential requests (time to the
first content chunk), in rotated order too. While one cell runs the others sit idle: their CPU is
reported (idle CPU) and counted in "other CPU", never as the measured proxy's.

Ratios against bare mitmdump are taken per round (a cell over the bare cell of the same round and
concurrency) and reported as the median over rounds with min-max; the targets are judged on that
median. The first streamed chunk's "router - streaming bare mitmdump" is the median of the
per-round p50 differences. The failover stream (every request first gets one 429) runs once,
after the rounds.

Usage (from the repository root):
    .venv/bin/python bench/bench.py              # full run: 3 rounds, ~8-9 minutes
    .venv/bin/python bench/bench.py --quick      # 1 round, ~2 minutes
    .venv/bin/python bench/bench.py --json bench/results/run.json --only direct,bare,hpn --rounds 5

The Python running this must have mitmproxy (its `mitmdump` sits next to it), aiohttp, pyyaml.
Adding a configuration is one function decorated with `@scenario(...)`: start what it needs with
`b.shared(...)` / `b.router(...)` / `b.bare_mitmdump()` (stopped for you) and add its cells with
`b.add_load(...)` / `b.add_stream(...)`; the rounds measure them.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import aiohttp
import rounds
import wrkload
from processes import (
    all_process_cpu,
    busiest_others,
    per_request_ms,
    percentile,
    proc_cpu_seconds,
    proc_rss_mb,
    run_wrk,
    system_busy_seconds,
    tree_cpu_seconds,
    tree_pids,
)
from report import (
    machine,
    markdown,
    summarize_load,
    summarize_stream,
    targets,
)
from rows import (
    BARE,
    BASELINE,
    BASELINE_HIT,
    CONCURRENCY,
    HIT,
    HPN,
    HPN_INFO,
    LEAN,
    LEAN_HIT,
    ONCE,
    ONE_WORKER,
    STREAM_BARE,
    STREAM_BASELINE,
    STREAM_DELAY_MS,
    STREAM_DIRECT,
    STREAM_FAILOVER,
    STREAM_HPN,
    TWO_WORKERS,
    WORKER_CONCURRENCY,
    Counted,
    LoadConfig,
    LoadRow,
    StreamConfig,
    StreamRow,
)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import procs  # noqa: E402
from procs import BIN, Emulator, Router, free_port, http_json, start_emulator, start_router  # noqa: E402

GEMINI_MODEL = "gemini-2.5-flash"
GENERATE = f"/v1beta/models/{GEMINI_MODEL}:generateContent"
STREAM = f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent?alt=sse"
CHAT = "/v1/chat/completions"
CLIENT_TOKEN = "sk-bench-client-token"
# Router keys for the plain rows are emulator keys 0..2; failover keys follow them.
PLAIN_KEYS = 3
STOP = False  # set by SIGINT/SIGTERM: loops end even if a library swallows the cancellation


def bench_key(i: int) -> str:
    """A 39-character Google-shaped key."""
    return (f"AIzaSyBench{i:04d}" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123")[:39]


def gemini_body(text: str = "Hello") -> bytes:
    return json.dumps({"contents": [{"role": "user", "parts": [{"text": text}]}]}).encode()


def chat_body(stream: bool = False, text: str = "Hello") -> bytes:
    body: dict[str, Any] = {"model": "gpt-4", "messages": [{"role": "user", "content": text}]}
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


# ---------------------------------------------------------------------------------------
# Context: processes and measuring helpers shared by scenarios


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.quick: bool = args.quick
        self.rounds: int = args.rounds or (1 if args.quick else 3)
        self.duration: float = args.duration or (2.0 if args.quick else 4.0)
        self.warmup: float = args.warmup if args.warmup is not None else (0.5 if args.quick else 1.0)
        self.stream_requests: int = args.stream_requests or (20 if args.quick else 30)
        self.stream_warmup = 3
        self.emulator: Emulator | None = None
        self.failover_keys = 2 * (self.stream_requests + self.stream_warmup + 2)
        self._procs: list[Any] = []  # objects with .stop()
        self._shared: dict[str, Any] = {}  # processes several configurations measure (see shared)
        self.load_configs: list[LoadConfig] = []
        self.stream_configs: list[StreamConfig] = []
        self.once: list[Callable[[Bench], Awaitable[None]]] = []  # measured once, after the rounds
        self.load_rows: list[LoadRow] = []
        self.stream_rows: list[StreamRow] = []
        self.notes: list[str] = []
        self.wrk_threads: int = args.wrk_threads
        self.wrk = shutil.which("wrk") or ""
        self.loadgen: str = args.loadgen
        if self.loadgen == "wrk" and not self.wrk:
            self.loadgen = "aiohttp"
            self.notes.append(
                f"wrk was not found on PATH, so the aiohttp client in this process drove the load (it takes CPU "
                f"the proxy could use: ratios are compressed): {wrkload.INSTALL_HINT}."
            )
            _progress(f"wrk not found: {wrkload.INSTALL_HINT}; using the aiohttp client instead")

    # -- processes --------------------------------------------------------------------

    def start_emulator(self) -> Emulator:
        keys = [{"key": bench_key(i), "project": f"bench-p{i}", "behaviour": "ok"} for i in range(PLAIN_KEYS)]
        for j in range(self.failover_keys):
            i = PLAIN_KEYS + j
            spec: dict[str, Any] = {"key": bench_key(i), "project": f"bench-p{i}", "behaviour": "ok", "retry_delay": "3600s"}
            if j % 2 == 0:
                spec["script"] = ["rate_limit"]
            keys.append(spec)
        scenario = {"latency_ms": 0, "stream_delay_ms": STREAM_DELAY_MS, "keys": keys}
        self.emulator = start_emulator(scenario, self.tmp)
        self._procs.append(self.emulator)
        return self.emulator

    @property
    def emu(self) -> Emulator:
        assert self.emulator is not None
        return self.emulator

    def router(
        self,
        keys: list[str],
        *,
        log_level: str = "warn",
        config: dict[str, Any] | None = None,
        checkout: Path | None = None,
        lean: bool = False,
    ) -> Router:
        """The router of this checkout, or of `checkout` (another tree's addons/router.py: --baseline);
        in mitmdump, or with `lean` in the lean runner ./run.sh starts."""
        cfg: dict[str, Any] = {
            "logging": {"level": log_level},
            "models": {"gpt-4": GEMINI_MODEL},  # the same Gemini model as the direct rows
            "cache": {"enabled": False},  # cache hits are their own scenario
        }
        cfg.update(config or {})
        # confdir in tmp: no CA generated under ~/.mitmproxy. The tests' egress guard addon
        # (wraps socket.connect, one more addon in every hook) is not part of the router: leave it out.
        extra: dict[str, Any] = {"guard": False} if "guard" in inspect.signature(start_router).parameters else {}
        if lean:
            extra["program"] = "runner"
        # No pool state: routers of one run share a folder, and one router owns one state file.
        procs.REPO = checkout or REPO  # start_router runs procs.REPO/addons/router.py
        try:
            router = start_router(self.tmp, keys=keys, gemini_url=self.emu.url, config=cfg, env={"HPN_STATE_FILE": ""}, **extra)
        finally:
            procs.REPO = REPO
        self._procs.append(router)
        return router

    def bare_mitmdump(self, *, stream: bool = False) -> Router:
        """mitmdump with no addon in reverse mode; `stream` passes bodies through as they come
        (stream_large_bodies=1), as the router does with a streamed answer."""
        port = free_port()
        emu_port = self.emu.url.rsplit(":", 1)[1]
        log_path = self.tmp / f"bare-{port}.log"
        args = [
            str(BIN / "mitmdump"),
            "--mode",
            f"reverse:http://127.0.0.1:{emu_port}@127.0.0.1:{port}",
            "--set",
            f"confdir={self.tmp / 'mitmproxy-conf'}",
            "--set",
            "flow_detail=0",
            "--set",
            "connection_strategy=lazy",
            *(["--set", "stream_large_bodies=1"] if stream else []),
        ]
        with log_path.open("w") as log:
            proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp)
        bare = Router(proc, port, log_path)
        self._procs.append(bare)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"bare mitmdump exited with {proc.returncode}:\n{bare.log()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return bare
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"bare mitmdump did not listen:\n{bare.log()}")

    def shared(self, name: str, start: Callable[[], Any]) -> Any:
        """One process for every configuration that names it (the router's throughput and stream
        cells measure the same process), started on first use and kept for the run."""
        if name not in self._shared:
            self._shared[name] = start()
        return self._shared[name]

    def idle_pids(self, measured: Any | None) -> list[int]:
        """The processes this bench started that are not under test now (nor the emulator): idle."""
        skip = {id(measured), id(self.emulator)}
        return [pid for proc in self._procs if id(proc) not in skip and hasattr(proc, "proc") for pid in tree_pids(proc.proc.pid)]

    async def add_load(
        self,
        name: str,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        expect: bytes,
        proxy: Any | None = None,
        concurrencies: tuple[int, ...] = CONCURRENCY,
    ) -> None:
        """A configuration of the comparison set, after one request that must answer `expect`."""
        await self.sanity(url, body, headers, expect)
        self.load_configs.append(LoadConfig(name, url, body, headers, proxy, concurrencies))

    def add_stream(self, name: str, url: str, body: bytes, headers: dict[str, str], *, kind: str, proxy: Any | None = None) -> None:
        self.stream_configs.append(StreamConfig(name, url, body, headers, kind, proxy))

    def stop(self, proc: Any) -> None:
        if proc in self._procs:
            self._procs.remove(proc)
        proc.stop()

    def stop_all(self) -> None:
        while self._procs:
            proc = self._procs.pop()
            try:
                proc.stop()
            except Exception as e:  # keep stopping the others
                print(f"bench: could not stop {proc!r}: {e}", file=sys.stderr)

    @contextmanager
    def started(self, proc: Any) -> Iterator[Any]:
        try:
            yield proc
        finally:
            self.stop(proc)

    # -- load -------------------------------------------------------------------------

    async def load(
        self, name: str, url: str, body: bytes, headers: dict[str, str], concurrency: int, proxy: Any | None = None, round_index: int = 0
    ) -> LoadRow:
        """Closed-loop load: `concurrency` keep-alive connections, warm-up not counted; driven by
        wrk or by the aiohttp client (--loadgen). CPU shares are sampled around the measured part."""
        headers = {"content-type": "application/json", **headers}
        pid = proxy.proc.pid if proxy is not None else None
        idle = self.idle_pids(proxy)
        window: dict[str, Any] = {}

        def cpu_now() -> tuple[float | None, float, float, float, float]:
            """(proxy tree, emulator, this process, the whole box's busy, the idle proxies) CPU seconds."""
            return (
                tree_cpu_seconds(pid) if pid else None,
                proc_cpu_seconds(self.emu.proc.pid),
                time.process_time(),
                system_busy_seconds(),
                sum(proc_cpu_seconds(p) for p in idle),
            )

        def begin() -> None:
            window["rss0"] = proc_rss_mb(pid) if pid else None
            window["cpu0"] = cpu_now()
            window["procs0"] = all_process_cpu()
            window["t0"] = time.perf_counter()

        def end() -> None:
            window["wall"] = time.perf_counter() - window["t0"]
            window["cpu1"] = cpu_now()
            window["rss1"] = proc_rss_mb(pid) if pid else None
            ours = {os.getpid(), self.emu.proc.pid, *(tree_pids(pid) if pid else [])}
            window["others"] = busiest_others(window["procs0"], all_process_cpu(), ours, window["wall"])

        await self.wait_idle()
        measure = self._wrk_load if self.loadgen == "wrk" else self._aiohttp_load
        counted = await measure(url, body, headers, concurrency, begin, end)
        wall, cpu0, cpu1 = window["wall"], window["cpu0"], window["cpu1"]

        def seconds(i: int) -> float | None:
            a, b = cpu0[i], cpu1[i]
            return None if a is None or b is None else b - a

        proxy_s, emulator_s, busy_s, idle_s = seconds(0), seconds(1), seconds(3), seconds(4)
        client_s = (seconds(2) or 0.0) + counted.loadgen_cpu_s  # this process, plus wrk's own CPU

        def share(cpu: float | None) -> float | None:
            return None if cpu is None else round(cpu / wall, 2)

        ours = sum(x for x in (proxy_s, emulator_s, client_s) if x is not None)
        done = counted.ok + counted.errors
        row = LoadRow(
            config=name,
            concurrency=concurrency,
            requests=done,
            errors=counted.errors,
            seconds=round(wall, 3),
            rps=round(counted.ok / (counted.seconds or wall), 1),
            p50_ms=counted.p50_ms,
            p99_ms=counted.p99_ms,
            proxy_cpu=share(proxy_s),
            proxy_cpu_ms_per_request=per_request_ms(proxy_s, done),
            emulator_cpu=share(emulator_s),
            client_cpu=share(client_s) or 0.0,
            other_cpu=None if busy_s is None else round(max((busy_s - ours) / wall, 0.0), 2),
            emulator_cpu_ms_per_request=per_request_ms(emulator_s, done),
            client_cpu_ms_per_request=per_request_ms(client_s, done),
            loadgen=self.loadgen,
            proxy_rss_mb=(window["rss0"], window["rss1"]) if pid else None,
            other_busiest=window["others"],
            error_samples=counted.error_samples,
            round=round_index,
            idle_cpu=share(idle_s),
        )
        self.load_rows.append(row)
        _progress(
            f"r{round_index + 1} {name:<28} c={concurrency:<3} {row.rps:>8.1f} req/s  p50 {row.p50_ms} ms  "
            f"p99 {row.p99_ms} ms  CPU ms/req proxy {row.proxy_cpu_ms_per_request} emulator {row.emulator_cpu_ms_per_request} "
            f"client {row.client_cpu_ms_per_request}  errors {row.errors}  idle CPU {row.idle_cpu}  other CPU {row.other_cpu} "
            f"{' '.join(window['others'])}"
        )
        return row

    async def _aiohttp_load(
        self, url: str, body: bytes, headers: dict[str, str], concurrency: int, begin: Callable[[], None], end: Callable[[], None]
    ) -> Counted:
        """`concurrency` asyncio workers in this process, one aiohttp session, connector limit = concurrency."""
        connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
        timeout = aiohttp.ClientTimeout(total=30)
        latencies: list[float] = []
        errors: list[str] = []
        error_count = 0
        counting = False

        async def worker(stop_at: float) -> None:
            nonlocal error_count
            while time.perf_counter() < stop_at and not STOP:
                start = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        payload = await response.read()
                        ok = response.status == 200
                        problem = "" if ok else f"HTTP {response.status}: {payload[:200]!r}"
                except Exception as e:  # noqa: BLE001 - every failure is an error row
                    ok, problem = False, f"{type(e).__name__}: {e}"
                elapsed = time.perf_counter() - start
                if not counting:
                    continue
                if ok:
                    latencies.append(elapsed)
                else:
                    error_count += 1
                    if len(errors) < 3:
                        errors.append(problem)

        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            if self.warmup > 0:
                stop_at = time.perf_counter() + self.warmup
                await asyncio.gather(*(worker(stop_at) for _ in range(concurrency)))
            counting = True
            begin()
            await asyncio.gather(*(worker(time.perf_counter() + self.duration) for _ in range(concurrency)))
            end()
        return Counted(
            ok=len(latencies),
            errors=error_count,
            error_samples=errors,
            p50_ms=_ms(percentile(latencies, 50)),
            p99_ms=_ms(percentile(latencies, 99)),
        )

    async def _wrk_load(
        self, url: str, body: bytes, headers: dict[str, str], concurrency: int, begin: Callable[[], None], end: Callable[[], None]
    ) -> Counted:
        """wrk with `concurrency` connections: one run for the warm-up, one measured (both in
        whole seconds); the request comes from a Lua script in the run's temp folder."""
        script = self.tmp / "wrk-request.lua"
        script.write_text(wrkload.wrk_script(body, headers))

        def command(seconds: float) -> list[str]:
            return wrkload.wrk_command(self.wrk, url, str(script), connections=concurrency, threads=self.wrk_threads, seconds=seconds)

        if self.warmup > 0:
            await run_wrk(command(self.warmup))
        begin()
        output, cpu_s = await run_wrk(command(self.duration))
        end()
        result = wrkload.parse_wrk(output)
        sockets = [f"{kind} {n}" for kind, n in result.socket_errors.items() if n]
        samples = result.samples + ([f"socket errors: {', '.join(sockets)}"] if sockets else [])
        return Counted(
            ok=result.ok,
            errors=result.errors,
            error_samples=samples,
            p50_ms=result.p50_ms,
            p99_ms=result.p99_ms,
            seconds=result.seconds,
            loadgen_cpu_s=cpu_s,
        )

    async def wait_idle(self) -> None:
        """With --wait-idle N: wait up to N s until the rest of the box uses < 0.1 core (shared machines)."""
        deadline = time.monotonic() + self.args.wait_idle
        while time.monotonic() < deadline:
            before, t = system_busy_seconds() - time.process_time(), time.perf_counter()
            await asyncio.sleep(0.5)
            if (system_busy_seconds() - time.process_time() - before) / (time.perf_counter() - t) < 0.1:
                return
        if self.args.wait_idle:
            _progress(f"box still busy after waiting {self.args.wait_idle:g} s; measuring anyway")

    async def sanity(self, url: str, body: bytes, headers: dict[str, str], expect: bytes) -> None:
        """One request before measuring: a broken path fails loudly instead of giving 0 req/s."""
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=body, headers={"content-type": "application/json", **headers}) as r:
                payload = await r.read()
                if r.status != 200 or expect not in payload:
                    raise RuntimeError(f"sanity request to {url} failed: HTTP {r.status} {payload[:300]!r}")

    async def ttfc(
        self, name: str, url: str, body: bytes, headers: dict[str, str], *, kind: str, proxy: Any | None = None, round_index: int = 0
    ) -> StreamRow:
        """Sequential streaming requests on one keep-alive connection: time to first content chunk."""
        connector = aiohttp.TCPConnector(limit=1)
        headers = {"content-type": "application/json", **headers}
        firsts: list[float] = []
        totals: list[float] = []
        events: list[int] = []
        errors: list[str] = []
        error_count = 0
        pids = [self.emu.proc.pid] + ([proxy.proc.pid] if proxy is not None else [])
        idle = self.idle_pids(proxy)

        def ours() -> float:
            return sum(proc_cpu_seconds(p) for p in pids) + time.process_time()

        def idle_now() -> float:
            return sum(proc_cpu_seconds(p) for p in idle)

        await self.wait_idle()
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
            for n in range(self.stream_warmup + self.stream_requests):
                if STOP:
                    raise KeyboardInterrupt
                if n == self.stream_warmup:
                    t0, ours0, busy0, idle0 = time.perf_counter(), ours(), system_busy_seconds(), idle_now()
                first, count, problem = None, 0, ""
                start = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        if response.status != 200:
                            problem = f"HTTP {response.status}: {(await response.read())[:200]!r}"
                        else:
                            async for line in response.content:
                                if not line.startswith(b"data:"):
                                    continue
                                count += 1
                                if first is None and _has_content(line[5:].strip(), kind):
                                    first = time.perf_counter() - start
                    total = time.perf_counter() - start
                except Exception as e:  # noqa: BLE001
                    problem = f"{type(e).__name__}: {e}"
                if not problem and first is None:
                    problem = f"no content chunk in {count} events"
                if n < self.stream_warmup:
                    continue
                if problem:
                    error_count += 1
                    if len(errors) < 3:
                        errors.append(problem)
                else:
                    firsts.append(first)  # type: ignore[arg-type]
                    totals.append(total)
                    events.append(count)
        wall = time.perf_counter() - t0
        other = ((system_busy_seconds() - busy0) - (ours() - ours0)) / wall
        idle_share = (idle_now() - idle0) / wall
        row = StreamRow(
            config=name,
            requests=self.stream_requests,
            errors=error_count,
            other_cpu=round(max(other, 0.0), 2),
            ttfc_p50_ms=_ms(percentile(firsts, 50)),
            ttfc_p90_ms=_ms(percentile(firsts, 90)),
            ttfc_max_ms=_ms(max(firsts) if firsts else None),
            total_p50_ms=_ms(percentile(totals, 50)),
            events_p50=percentile([float(e) for e in events], 50),
            error_samples=errors,
            round=round_index,
            idle_cpu=round(idle_share, 2),
        )
        self.stream_rows.append(row)
        _progress(
            f"{_round_label(round_index)} {name:<28} stream x{row.requests}  first chunk p50 {row.ttfc_p50_ms} ms  "
            f"p90 {row.ttfc_p90_ms} ms  events {row.events_p50}  errors {row.errors}  idle CPU {row.idle_cpu}  other CPU {row.other_cpu}"
        )
        return row


def _has_content(data: bytes, kind: str) -> bool:
    """Does this SSE `data:` payload carry answer text? kind: gemini | openai."""
    if data == b"[DONE]":
        return False
    try:
        event = json.loads(data)
    except ValueError:
        return False
    if kind == "openai":
        return any((c.get("delta") or {}).get("content") for c in event.get("choices") or [])
    for candidate in event.get("candidates") or []:
        for part in (candidate.get("content") or {}).get("parts") or []:
            if part.get("text") and not part.get("thought"):
                return True
    return False


def _round_label(round_index: int) -> str:
    return "once" if round_index == ONCE else f"r{round_index + 1}"


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def _progress(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Scenarios: each is one function; they run in this order (filter with --only).

Scenario = Callable[[Bench], Awaitable[None]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        SCENARIOS[name] = fn
        return fn

    return register


def _gemini_headers() -> dict[str, str]:
    return {"x-goog-api-key": bench_key(0)}


def _chat_headers() -> dict[str, str]:
    return {"authorization": f"Bearer {CLIENT_TOKEN}"}


def _plain_keys() -> list[str]:
    return [bench_key(i) for i in range(PLAIN_KEYS)]


@scenario("direct")
async def direct(b: Bench) -> None:
    await b.add_load("direct", b.emu.url + GENERATE, gemini_body(), _gemini_headers(), expect=b'"candidates"')


@scenario("bare")
async def bare(b: Bench) -> None:
    proxy = b.shared("bare", b.bare_mitmdump)
    await b.add_load(BARE, proxy.url + GENERATE, gemini_body(), _gemini_headers(), expect=b'"candidates"', proxy=proxy)


def _hpn_router(b: Bench) -> Router:
    return b.shared("hpn", lambda: b.router(_plain_keys()))


@scenario("hpn")
async def hpn(b: Bench) -> None:
    router = _hpn_router(b)
    await b.add_load(HPN, router.url + CHAT, chat_body(), _chat_headers(), expect=b'"chat.completion"', proxy=router)


@scenario("metrics-off")
async def metrics_off(b: Bench) -> None:
    """The `hpn` rows with `server.metrics: false`: the difference is what the Prometheus series
    cost per request (`hpn` runs with them on, the default)."""
    router = b.router(_plain_keys(), config={"server": {"metrics": False}})
    name = "HPN Router, metrics off (log warn)"
    await b.add_load(name, router.url + CHAT, chat_body(), _chat_headers(), expect=b'"chat.completion"', proxy=router)


@scenario("hpn-info")
async def hpn_info(b: Bench) -> None:
    """The default log level: one JSON line per request goes to the log file."""
    router = b.router(_plain_keys(), log_level="info")
    concurrencies = (10,) if b.quick else CONCURRENCY
    await b.add_load(
        HPN_INFO, router.url + CHAT, chat_body(), _chat_headers(), expect=b'"chat.completion"', proxy=router, concurrencies=concurrencies
    )


@scenario("cache-hit")
async def cache_hit(b: Bench) -> None:
    """Identical requests through HPN with the flash cache on, at the default log level (each
    hit logs its 💸 line and its request line, "⚡ CACHE HIT ..."): answered by the router, never by the emulator."""
    router = b.router(_plain_keys(), log_level="info", config={"cache": {"enabled": True}})
    await b.add_load(HIT, router.url + CHAT, chat_body(), _chat_headers(), expect=b'"chat.completion"', proxy=router)  # stores it


@scenario("stream")
async def stream(b: Bench) -> None:
    b.add_stream(STREAM_DIRECT, b.emu.url + STREAM, gemini_body(), _gemini_headers(), kind="gemini")
    proxy = b.shared("bare-stream", lambda: b.bare_mitmdump(stream=True))
    b.add_stream(STREAM_BARE, proxy.url + STREAM, gemini_body(), _gemini_headers(), kind="gemini", proxy=proxy)
    router = _hpn_router(b)
    b.add_stream(STREAM_HPN, router.url + CHAT, chat_body(stream=True), _chat_headers(), kind="openai", proxy=router)


@scenario("lean")
async def lean(b: Bench) -> None:
    """The router in the lean runner: the `hpn`, `cache-hit` and `stream` configurations again."""
    router = b.router(_plain_keys(), lean=True)
    await b.add_load(LEAN, router.url + CHAT, chat_body(), _chat_headers(), expect=b'"chat.completion"', proxy=router)
    b.add_stream(LEAN, router.url + CHAT, chat_body(stream=True), _chat_headers(), kind="openai", proxy=router)
    hit = b.router(_plain_keys(), log_level="info", config={"cache": {"enabled": True}}, lean=True)
    await b.add_load(LEAN_HIT, hit.url + CHAT, chat_body(), _chat_headers(), expect=b'"chat.completion"', proxy=hit)


def _wait_for_workers(router: Router, count: int, seconds: float = 30) -> None:
    """Until /health on new connections has come from every worker (bounded)."""
    seen: set[object] = set()
    deadline = time.monotonic() + seconds
    while count > 1 and len(seen) < count and time.monotonic() < deadline:
        seen.add(http_json("GET", router.url + "/health").get("worker"))  # type: ignore[union-attr]
    if count > 1 and len(seen) < count:
        raise RuntimeError(f"only workers {sorted(map(str, seen))} answered within {seconds:g} s")


@scenario("workers")
async def several_workers(b: Bench) -> None:
    """`server.workers: 2` against one worker, both in the lean runner, side by side and measured
    in turn like the others (the workers' rows count the CPU of the supervisor and its workers).
    Each supervisor has a redis-server of its own: Redis databases do not separate the shared
    state's pub/sub channel, and its keys carry no per-router prefix, so one server would make
    them one pool."""
    from procs import start_redis

    for name, count in ((ONE_WORKER, 1), (TWO_WORKERS, 2)):
        redis = start_redis(b.tmp)
        b._procs.append(redis)
        config = {"server": {"workers": count}, "state": {"redis_url": redis.url}}
        router = b.router(_plain_keys(), config=config, lean=True)
        _wait_for_workers(router, count)  # the second worker may start after the first answers
        await b.add_load(
            name,
            router.url + CHAT,
            chat_body(),
            _chat_headers(),
            expect=b'"chat.completion"',
            proxy=router,
            concurrencies=WORKER_CONCURRENCY,
        )


@scenario("baseline")
async def baseline(b: Bench) -> None:
    """With --baseline DIR: another checkout's router (e.g. `git archive main | tar -x -C DIR`),
    measured in the same rounds as this one, so a change is judged against the same machine load."""
    if b.args.baseline is None:
        _progress("no --baseline DIR: skipped")
        return
    checkout = Path(b.args.baseline)
    router = b.router(_plain_keys(), checkout=checkout)
    await b.add_load(BASELINE, router.url + CHAT, chat_body(), _chat_headers(), expect=b'"chat.completion"', proxy=router)
    b.add_stream(STREAM_BASELINE, router.url + CHAT, chat_body(stream=True), _chat_headers(), kind="openai", proxy=router)
    hit = b.router(_plain_keys(), log_level="info", config={"cache": {"enabled": True}}, checkout=checkout)
    await b.add_load(BASELINE_HIT, hit.url + CHAT, chat_body(), _chat_headers(), expect=b'"chat.completion"', proxy=hit)


@scenario("stream-failover")
async def stream_failover(b: Bench) -> None:
    """Measured once, after the rounds: its keys are spent as it goes."""
    b.once.append(_measure_stream_failover)


async def _measure_stream_failover(b: Bench) -> None:
    """Every request first meets a 429, then succeeds on the next key.

    Router keys = emulator keys PLAIN_KEYS.. in pairs (A0, B0, A1, B1, ...): every A key's script
    is [rate_limit] (once), every B key is plain ok, and a 429 carries retryDelay 3600s. The pool
    is round-robin with its cursor past the key it returned, so request n tries A_n (429, cooled
    for the rest of the run), fails over to B_n (200), and request n+1 starts at A_{n+1}. The pool
    has more pairs than requests, so it never wraps. Checked with the emulator's request log.
    """
    indices = list(range(PLAIN_KEYS, PLAIN_KEYS + b.failover_keys))
    b.emu.reset()
    for j, i in enumerate(indices):  # (re)arm the scripts: reset may or may not restore the file's
        b.emu.set_key(i, "ok", ["rate_limit"] if j % 2 == 0 else [])
    seen_before = len(b.emu.stats().get("requests", []))
    with b.started(b.router([bench_key(i) for i in indices])) as router:
        url, body = router.url + CHAT, chat_body(stream=True)
        row = await b.ttfc(STREAM_FAILOVER, url, body, _chat_headers(), kind="openai", proxy=router, round_index=ONCE)
    sent = b.stream_warmup + b.stream_requests
    log = [r for r in b.emu.stats().get("requests", [])[seen_before:] if "streamGenerateContent" in r.get("path", "")]
    n429 = sum(1 for r in log if r.get("status") == 429)
    n200 = sum(1 for r in log if r.get("status") == 200)
    pattern_ok = all(
        log[2 * n].get("status") == 429
        and log[2 * n + 1].get("status") == 200
        and log[2 * n]["key_index"] == indices[2 * n]
        and log[2 * n + 1]["key_index"] == indices[2 * n + 1]
        for n in range(min(sent, len(log) // 2))
    )
    ok = n429 == sent and n200 == sent and len(log) == 2 * sent and pattern_ok
    row.check = f"emulator saw {n429} x 429 + {n200} x 200 for {sent} requests" + ("" if ok else " (MISMATCH)")
    if not ok:
        b.notes.append(f"stream-failover: expected exactly one 429 then one 200 per request; {row.check}")


# ---------------------------------------------------------------------------------------
# Rounds: every configuration's cells in turn, the order rotated every round


async def measure_rounds(b: Bench, failures: dict[str, str]) -> None:
    for round_index in range(b.rounds):
        _progress(f"-- round {round_index + 1} of {b.rounds}")
        for c in CONCURRENCY:
            here = [config for config in b.load_configs if c in config.concurrencies]
            for config in rounds.rotated(here, round_index):
                await _cell(
                    failures,
                    f"{config.name} c={c} round {round_index + 1}",
                    b.load(config.name, config.url, config.body, config.headers, c, proxy=config.proxy, round_index=round_index),
                )
        for s in rounds.rotated(b.stream_configs, round_index):
            await _cell(
                failures,
                f"{s.name} stream round {round_index + 1}",
                b.ttfc(s.name, s.url, s.body, s.headers, kind=s.kind, proxy=s.proxy, round_index=round_index),
            )


async def _cell(failures: dict[str, str], name: str, measuring: Awaitable[Any]) -> None:
    """One cell; a failure is reported and the rounds go on."""
    if STOP:
        raise KeyboardInterrupt
    try:
        await measuring
    except Exception as e:  # noqa: BLE001 - report it, measure the others
        failures[name] = f"{type(e).__name__}: {str(e)[:1500]}"
        traceback.print_exc()


# ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1 round, 2 s cells, 20 stream requests (~2 minutes)")
    p.add_argument("--rounds", type=int, metavar="N", help="rounds over every cell, order rotated each round (default 3, quick 1)")
    p.add_argument("--json", metavar="PATH", help="also save the raw numbers as JSON")
    p.add_argument("--only", metavar="NAMES", help=f"comma-separated scenarios: {','.join(SCENARIOS)}")
    p.add_argument("--duration", type=float, help="measured seconds per cell (default 4, quick 2)")
    p.add_argument("--warmup", type=float, help="warm-up seconds per cell (default 1, quick 0.5)")
    p.add_argument("--stream-requests", type=int, help="measured streaming requests per configuration and round (default 30, quick 20)")
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each cell wait up to S s for the rest of the box to go idle (shared machines)",
    )
    p.add_argument(
        "--loadgen",
        choices=("wrk", "aiohttp"),
        default="wrk",
        help="what drives the req/s cells: wrk (default; falls back to aiohttp when missing) or the aiohttp client in this process",
    )
    p.add_argument("--wrk-threads", type=int, default=1, choices=(1, 2), help="wrk threads (-t, default 1)")
    p.add_argument("--keep-tmp", action="store_true", help="keep the temporary dir (logs, configs)")
    p.add_argument("--baseline", metavar="DIR", help="scenario `baseline`: also measure the router of this checkout, in the same rounds")
    args = p.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        p.error(f"--rounds: expected 1 or more, got {args.rounds}")
    return args


async def run(b: Bench, names: list[str]) -> dict[str, str]:
    """Start every configuration (a scenario that fails to start is reported, the others run),
    measure the rounds, then what runs once."""
    failures: dict[str, str] = {}
    for name in names:
        if STOP:
            raise KeyboardInterrupt
        _progress(f"-- start {name}")
        try:
            await SCENARIOS[name](b)
        except Exception as e:  # noqa: BLE001 - report it, run the other scenarios
            failures[f"scenario {name}"] = f"{type(e).__name__}: {str(e)[:1500]}"
            traceback.print_exc()
    await measure_rounds(b, failures)
    for measure in b.once:
        await _cell(failures, measure.__name__.removeprefix("_measure_").replace("_", "-"), measure(b))
    return failures


def _interrupt(signum: int, frame: Any) -> None:
    """Ctrl-C / SIGTERM: stop at once, also out of a blocking wait; main's finally stops the processes.
    (Installed instead of asyncio.run's own SIGINT handler, which only cancels the main task.)"""
    global STOP
    STOP = True
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [n.strip() for n in args.only.split(",")] if args.only else list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s) {unknown}; choose from {list(SCENARIOS)}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    info = machine()
    tmp = Path(tempfile.mkdtemp(prefix="hpn-bench-"))
    b = Bench(args, tmp)
    failures: dict[str, str] = {}
    started = time.monotonic()
    try:
        b.start_emulator()
        failures = asyncio.run(run(b, names))
    except KeyboardInterrupt:
        print("bench: interrupted; stopping processes", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        b.stop_all()
        if args.keep_tmp:
            print(f"bench: logs and configs kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    info["wall_seconds"] = round(time.monotonic() - started, 1)
    print(markdown(b, info, failures))
    if args.json:
        goals, ref = targets(b)
        result = {
            "machine": info,
            "settings": {
                "duration_s": b.duration,
                "warmup_s": b.warmup,
                "stream_requests": b.stream_requests,
                "stream_warmup": b.stream_warmup,
                "stream_delay_ms": STREAM_DELAY_MS,
                "rounds": b.rounds,
                "loadgen": b.loadgen,
                "wrk_threads": b.wrk_threads if b.loadgen == "wrk" else None,
                "quick": b.quick,
                "scenarios": names,
            },
            "load": [asdict(r) for r in b.load_rows],  # every round's cells (field `round`, 0-based)
            "stream": [asdict(s) for s in b.stream_rows],  # round -1: measured once, after the rounds
            "load_summary": [asdict(r) for r in summarize_load(b.load_rows, [config.name for config in b.load_configs])],
            "stream_summary": [asdict(s) for s in summarize_stream(b.stream_rows)],
            "targets": [asdict(t) for t in goals],
            "reference": [asdict(t) for t in ref],
            "failures": failures,
            "notes": b.notes,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
    total_errors = sum(r.errors for r in b.load_rows) + sum(s.errors for s in b.stream_rows)
    return 1 if failures or total_errors else 0


if __name__ == "__main__":
    sys.exit(main())
