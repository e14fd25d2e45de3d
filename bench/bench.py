"""HPN Router benchmark: what the router costs on top of the Gemini emulator and of bare mitmdump.

Everything runs on loopback, one configuration after another (the box has 2 cores: the load
generator in this process, the proxy under test and the emulator share them):

* throughput: direct to the emulator, through bare mitmdump (no addons), through the router
  (log level warn, and once at the default level info, log lines included), at concurrency
  1, 10 and 50: requests/s, p50/p99 latency, errors (every non-200 is one; must be 0);
* streaming: time to the first content chunk, p50 over sequential requests: direct (Gemini SSE),
  the router, and the router when every request first gets one 429 and fails over;
* the lean runner (`python -m hpn_router run`, what ./run.sh starts): the router's rows again
  (throughput, cache hits, first chunk) in a mitmproxy Master with only the built-in addons the
  router needs, against bare mitmdump in the same run;
* several workers (`server.workers: 2`, SO_REUSEPORT, a real redis-server for `state.redis_url`):
  the lean runner with two workers against one, back to back, at concurrency 10 and 50.

Usage (from the repository root):
    .venv/bin/python bench/bench.py              # full run, ~2-3 minutes
    .venv/bin/python bench/bench.py --quick      # ~30-40 s
    .venv/bin/python bench/bench.py --json bench/results/run.json --only direct,bare

The Python running this must have mitmproxy (its `mitmdump` sits next to it), aiohttp, pyyaml.
Adding a scenario is one function decorated with `@scenario(...)`: start what it needs with
`ctx.router(...)` / `ctx.bare_mitmdump()` (stopped for you), measure with `ctx.load(...)` or
`ctx.ttfc(...)`, and return its rows.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import platform
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import wrkload

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import procs  # noqa: E402
from procs import BIN, Emulator, Router, free_port, http_json, start_emulator, start_router  # noqa: E402

GEMINI_MODEL = "gemini-2.5-flash"
GENERATE = f"/v1beta/models/{GEMINI_MODEL}:generateContent"
STREAM = f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent?alt=sse"
CHAT = "/v1/chat/completions"
CLIENT_TOKEN = "sk-bench-client-token"
STREAM_DELAY_MS = 20
# Router keys for the plain rows are emulator keys 0..2; failover keys follow them.
PLAIN_KEYS = 3
CONCURRENCY = (1, 10, 50)
LEAN = "HPN lean runner (log warn)"
LEAN_HIT = "HPN lean runner cache hit (log info)"
LEAN_GOAL = 1.3  # issue 10: the lean runner at >= 1.3x bare mitmdump at every concurrency
ONE_WORKER = "HPN lean runner, 1 worker (log warn)"
TWO_WORKERS = "HPN lean runner, 2 workers (log warn)"
WORKERS_GOAL = 1.5  # issue 14: two workers >= 1.5x one worker's req/s at c=50 on 2 cores
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
# Measurements


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (q in 0..100)."""
    if not values:
        return None
    data = sorted(values)
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def tree_pids(pid: int) -> list[int]:
    """A process and its children (a supervisor's workers)."""
    try:
        return [pid, *(int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    except OSError:
        return [pid]


def tree_cpu_seconds(pid: int) -> float:
    return sum(proc_cpu_seconds(p) for p in tree_pids(pid))


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def system_busy_seconds() -> float:
    """CPU seconds all cores spent busy (not idle/iowait), from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def all_process_cpu() -> dict[int, tuple[str, float]]:
    """pid -> (command name, CPU seconds) for every process: who else used the box during a cell."""
    out: dict[int, tuple[str, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            name = text[text.index("(") + 1 : text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            out[int(stat.parent.name)] = (name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
        except (OSError, ValueError, IndexError):
            continue
    return out


def busiest_others(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], ours: set[int], wall: float) -> list[str]:
    """The processes this bench did not start that used >= 0.05 core, busiest first ("pytest:0.93")."""
    used = [(after[p][1] - before.get(p, (None, 0.0))[1], after[p][0], p) for p in after if p not in ours]
    return [f"{name}[{pid}]:{cpu / wall:.2f}" for cpu, name, pid in sorted(used, reverse=True) if cpu / wall >= 0.05][:3]


def per_request_ms(cpu_seconds: float | None, requests: int) -> float | None:
    """CPU seconds spent over a cell -> CPU milliseconds per request."""
    if cpu_seconds is None or not requests:
        return None
    return round(cpu_seconds * 1000 / requests, 3)


async def run_wrk(args: list[str]) -> tuple[str, float]:
    """Run wrk to its end: (what it printed, its CPU seconds from the kernel's accounting of the
    child). Waited for in a thread so the event loop stays free; killed if the bench is interrupted."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def wait() -> tuple[str, float, int]:
        assert proc.stdout is not None
        output = proc.stdout.read().decode(errors="replace")
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        return output, usage.ru_utime + usage.ru_stime, proc.returncode

    try:
        output, cpu, code = await asyncio.to_thread(wait)
    finally:
        if proc.returncode is None:
            proc.kill()
    if code != 0:
        raise RuntimeError(f"{' '.join(args)} exited with {code}: {output[-800:]}")
    return output, cpu


def proc_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


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


@dataclass
class Target:
    name: str
    value: float | None
    limit: str
    ok: bool | None


# ---------------------------------------------------------------------------------------
# Context: processes and measuring helpers shared by scenarios


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.quick: bool = args.quick
        self.duration: float = args.duration or (2.0 if args.quick else 5.0)
        self.warmup: float = args.warmup if args.warmup is not None else (0.5 if args.quick else 1.0)
        self.stream_requests: int = args.stream_requests or (20 if args.quick else 50)
        self.stream_warmup = 3
        self.emulator: Emulator | None = None
        self.failover_keys = 2 * (self.stream_requests + self.stream_warmup + 2)
        self._procs: list[Any] = []  # objects with .stop()
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

    async def load(self, name: str, url: str, body: bytes, headers: dict[str, str], concurrency: int, proxy: Any | None = None) -> LoadRow:
        """Closed-loop load: `concurrency` keep-alive connections, warm-up not counted; driven by
        wrk or by the aiohttp client (--loadgen). CPU shares are sampled around the measured part."""
        headers = {"content-type": "application/json", **headers}
        pid = proxy.proc.pid if proxy is not None else None
        window: dict[str, Any] = {}

        def cpu_now() -> tuple[float | None, float, float, float]:
            """(proxy tree, emulator, this process, the whole box's busy) CPU seconds."""
            return (tree_cpu_seconds(pid) if pid else None, proc_cpu_seconds(self.emu.proc.pid), time.process_time(), system_busy_seconds())

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

        proxy_s, emulator_s, busy_s = seconds(0), seconds(1), seconds(3)
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
        )
        self.load_rows.append(row)
        _progress(
            f"{name:<28} c={concurrency:<3} {row.rps:>8.1f} req/s  p50 {row.p50_ms} ms  "
            f"p99 {row.p99_ms} ms  CPU ms/req proxy {row.proxy_cpu_ms_per_request} emulator {row.emulator_cpu_ms_per_request} "
            f"client {row.client_cpu_ms_per_request}  errors {row.errors}  other CPU {row.other_cpu} {' '.join(window['others'])}"
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

    async def ttfc(self, name: str, url: str, body: bytes, headers: dict[str, str], *, kind: str, proxy: Any | None = None) -> StreamRow:
        """Sequential streaming requests on one keep-alive connection: time to first content chunk."""
        connector = aiohttp.TCPConnector(limit=1)
        headers = {"content-type": "application/json", **headers}
        firsts: list[float] = []
        totals: list[float] = []
        events: list[int] = []
        errors: list[str] = []
        error_count = 0
        pids = [self.emu.proc.pid] + ([proxy.proc.pid] if proxy is not None else [])

        def ours() -> float:
            return sum(proc_cpu_seconds(p) for p in pids) + time.process_time()

        await self.wait_idle()
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
            for n in range(self.stream_warmup + self.stream_requests):
                if STOP:
                    raise KeyboardInterrupt
                if n == self.stream_warmup:
                    t0, ours0, busy0 = time.perf_counter(), ours(), system_busy_seconds()
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
        )
        self.stream_rows.append(row)
        _progress(
            f"{name:<28} stream x{row.requests}  first chunk p50 {row.ttfc_p50_ms} ms  "
            f"p90 {row.ttfc_p90_ms} ms  events {row.events_p50}  errors {row.errors}  other CPU {row.other_cpu}"
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
    url = b.emu.url + GENERATE
    await b.sanity(url, gemini_body(), _gemini_headers(), b'"candidates"')
    for c in CONCURRENCY:
        await b.load("direct", url, gemini_body(), _gemini_headers(), c)


@scenario("bare")
async def bare(b: Bench) -> None:
    with b.started(b.bare_mitmdump()) as proxy:
        url = proxy.url + GENERATE
        await b.sanity(url, gemini_body(), _gemini_headers(), b'"candidates"')
        for c in CONCURRENCY:
            await b.load("bare mitmdump", url, gemini_body(), _gemini_headers(), c, proxy=proxy)


@scenario("hpn")
async def hpn(b: Bench) -> None:
    with b.started(b.router(_plain_keys())) as router:
        url = router.url + CHAT
        await b.sanity(url, chat_body(), _chat_headers(), b'"chat.completion"')
        for c in CONCURRENCY:
            await b.load("HPN Router (log warn)", url, chat_body(), _chat_headers(), c, proxy=router)


@scenario("metrics-off")
async def metrics_off(b: Bench) -> None:
    """The `hpn` rows with `server.metrics: false`: the difference is what the Prometheus series
    cost per request (`hpn` runs with them on, the default)."""
    with b.started(b.router(_plain_keys(), config={"server": {"metrics": False}})) as router:
        url = router.url + CHAT
        await b.sanity(url, chat_body(), _chat_headers(), b'"chat.completion"')
        for c in CONCURRENCY:
            await b.load("HPN Router, metrics off (log warn)", url, chat_body(), _chat_headers(), c, proxy=router)


@scenario("hpn-info")
async def hpn_info(b: Bench) -> None:
    """The default log level: one JSON line per request goes to the log file."""
    with b.started(b.router(_plain_keys(), log_level="info")) as router:
        url = router.url + CHAT
        await b.sanity(url, chat_body(), _chat_headers(), b'"chat.completion"')
        for c in (10,) if b.quick else CONCURRENCY:
            await b.load("HPN Router (log info)", url, chat_body(), _chat_headers(), c, proxy=router)


@scenario("cache-hit")
async def cache_hit(b: Bench) -> None:
    """Identical requests through HPN with the flash cache on, at the default log level (each
    hit logs its 💸 line and its request line, "⚡ CACHE HIT ..."): answered by the router, never by the emulator."""
    with b.started(b.router(_plain_keys(), log_level="info", config={"cache": {"enabled": True}})) as router:
        url = router.url + CHAT
        await b.sanity(url, chat_body(), _chat_headers(), b'"chat.completion"')  # stores the answer
        for c in CONCURRENCY:
            await b.load("HPN cache hit (log info)", url, chat_body(), _chat_headers(), c, proxy=router)


@scenario("stream")
async def stream(b: Bench) -> None:
    await b.ttfc("direct (emulator SSE)", b.emu.url + STREAM, gemini_body(), _gemini_headers(), kind="gemini")
    with b.started(b.bare_mitmdump(stream=True)) as proxy:
        await b.ttfc("bare mitmdump, streaming", proxy.url + STREAM, gemini_body(), _gemini_headers(), kind="gemini", proxy=proxy)
    with b.started(b.router(_plain_keys())) as router:
        await b.ttfc("HPN Router", router.url + CHAT, chat_body(stream=True), _chat_headers(), kind="openai", proxy=router)


@scenario("lean")
async def lean(b: Bench) -> None:
    """The router in the lean runner: the `hpn`, `cache-hit` and `stream` rows again."""
    with b.started(b.router(_plain_keys(), lean=True)) as router:
        url = router.url + CHAT
        await b.sanity(url, chat_body(), _chat_headers(), b'"chat.completion"')
        for c in CONCURRENCY:
            await b.load(LEAN, url, chat_body(), _chat_headers(), c, proxy=router)
    with b.started(b.router(_plain_keys(), log_level="info", config={"cache": {"enabled": True}}, lean=True)) as router:
        url = router.url + CHAT
        await b.sanity(url, chat_body(), _chat_headers(), b'"chat.completion"')
        for c in CONCURRENCY:
            await b.load(LEAN_HIT, url, chat_body(), _chat_headers(), c, proxy=router)
    with b.started(b.router(_plain_keys(), lean=True)) as router:
        await b.ttfc(LEAN, router.url + CHAT, chat_body(stream=True), _chat_headers(), kind="openai", proxy=router)


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
    """`server.workers: 2` against one worker, both in the lean runner with the same Redis URL,
    back to back (the workers' rows count the CPU of the supervisor and its workers)."""
    from procs import start_redis

    redis = start_redis(b.tmp)
    b._procs.append(redis)
    for name, count in ((ONE_WORKER, 1), (TWO_WORKERS, 2)):
        config = {"server": {"workers": count}, "state": {"redis_url": redis.url}}
        with b.started(b.router(_plain_keys(), config=config, lean=True)) as router:
            url = router.url + CHAT
            await b.sanity(url, chat_body(), _chat_headers(), b'"chat.completion"')
            _wait_for_workers(router, count)  # the second worker may start after the first answers
            for c in (10, 50):
                await b.load(name, url, chat_body(), _chat_headers(), c, proxy=router)


@scenario("baseline")
async def baseline(b: Bench) -> None:
    """With --baseline DIR: another checkout's router (e.g. `git archive main | tar -x -C DIR`),
    measured in the same run, so a change is judged against the same machine load."""
    if b.args.baseline is None:
        _progress("no --baseline DIR: skipped")
        return
    with b.started(b.router(_plain_keys(), checkout=Path(b.args.baseline))) as router:
        url = router.url + CHAT
        await b.sanity(url, chat_body(), _chat_headers(), b'"chat.completion"')
        for c in CONCURRENCY:
            await b.load("baseline router (log warn)", url, chat_body(), _chat_headers(), c, proxy=router)
    config = {"cache": {"enabled": True}}
    with b.started(b.router(_plain_keys(), log_level="info", config=config, checkout=Path(b.args.baseline))) as router:
        url = router.url + CHAT
        await b.sanity(url, chat_body(), _chat_headers(), b'"chat.completion"')
        for c in CONCURRENCY:
            await b.load("baseline cache hit (log info)", url, chat_body(), _chat_headers(), c, proxy=router)
    with b.started(b.router(_plain_keys(), checkout=Path(b.args.baseline))) as router:
        await b.ttfc("baseline router", router.url + CHAT, chat_body(stream=True), _chat_headers(), kind="openai", proxy=router)


@scenario("stream-failover")
async def stream_failover(b: Bench) -> None:
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
        row = await b.ttfc(
            "HPN Router, after one 429", router.url + CHAT, chat_body(stream=True), _chat_headers(), kind="openai", proxy=router
        )
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
# Report


def machine() -> dict[str, Any]:
    try:
        from mitmproxy import version as mitmproxy_version

        mitm = mitmproxy_version.VERSION
    except ImportError:
        mitm = "?"
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "mitmproxy": mitm,
        "aiohttp": aiohttp.__version__,
        "platform": platform.platform(),
        "loadavg_at_start": os.getloadavg(),
    }


def _row(load: list[LoadRow], config: str, c: int) -> LoadRow | None:
    return next((r for r in load if r.config == config and r.concurrency == c), None)


def _stream(rows: list[StreamRow], config: str) -> StreamRow | None:
    return next((r for r in rows if r.config == config), None)


def targets(b: Bench) -> tuple[list[Target], list[Target]]:
    """(targets, reference numbers): ratios against bare mitmdump measured in the same run."""
    out: list[Target] = []
    ref: list[Target] = []
    for c in CONCURRENCY:
        h, bare_row = _row(b.load_rows, "HPN Router (log warn)", c), _row(b.load_rows, "bare mitmdump", c)
        if h and bare_row and bare_row.rps:
            ratio = round(h.rps / bare_row.rps, 3)
            out.append(Target(f"HPN req/s / bare req/s, c={c}", ratio, ">= 0.9", ratio >= 0.9))
        if h and bare_row and h.proxy_cpu_ms_per_request and bare_row.proxy_cpu_ms_per_request:
            ratio = round(bare_row.proxy_cpu_ms_per_request / h.proxy_cpu_ms_per_request, 3)
            ref.append(Target(f"bare CPU/req / HPN CPU/req, c={c} (the req/s ratio a quiet box would show)", ratio, "", None))
        hi = _row(b.load_rows, "HPN Router (log info)", c)
        if hi and bare_row and bare_row.rps:
            ref.append(Target(f"HPN (log info) req/s / bare req/s, c={c}", round(hi.rps / bare_row.rps, 3), "", None))
        for config in ("baseline router (log warn)", "baseline cache hit (log info)"):
            base = _row(b.load_rows, config, c)
            if base and bare_row and bare_row.rps:
                ref.append(Target(f"{config} req/s / bare req/s, c={c}", round(base.rps / bare_row.rps, 3), "", None))
        hit = _row(b.load_rows, "HPN cache hit (log info)", c)
        if hit and bare_row and bare_row.rps:
            ratio = round(hit.rps / bare_row.rps, 3)
            if c in (1, 10):
                out.append(Target(f"cache hit req/s / bare req/s, c={c}", ratio, ">= 1.2", ratio >= 1.2))
            else:
                ref.append(Target(f"cache hit req/s / bare req/s, c={c}", ratio, "", None))
        one, two = _row(b.load_rows, ONE_WORKER, c), _row(b.load_rows, TWO_WORKERS, c)
        if one and two and one.rps:
            ratio = round(two.rps / one.rps, 3)
            if c == 50:
                out.append(Target(f"2 workers req/s / 1 worker req/s, c={c}", ratio, f">= {WORKERS_GOAL}", ratio >= WORKERS_GOAL))
            else:
                ref.append(Target(f"2 workers req/s / 1 worker req/s, c={c}", ratio, "", None))
        lean_goals, lean_refs = _lean_targets(b, c)
        out += lean_goals
        ref += lean_refs
    d1, h1, b1 = (_row(b.load_rows, n, 1) for n in ("direct", "HPN Router (log warn)", "bare mitmdump"))
    if d1 and h1 and d1.p50_ms is not None and h1.p50_ms is not None:
        ref.append(Target("added p50 at c=1: HPN - direct (ms)", round(h1.p50_ms - d1.p50_ms, 2), "", None))
    if d1 and b1 and d1.p50_ms is not None and b1.p50_ms is not None:
        ref.append(Target("added p50 at c=1: bare - direct (ms)", round(b1.p50_ms - d1.p50_ms, 2), "", None))
    sd = _stream(b.stream_rows, "direct (emulator SSE)")
    sb = _stream(b.stream_rows, "bare mitmdump, streaming")
    sh = _stream(b.stream_rows, "HPN Router")
    sf = _stream(b.stream_rows, "HPN Router, after one 429")
    if sb and sh and sb.ttfc_p50_ms is not None and sh.ttfc_p50_ms is not None:
        added = round(sh.ttfc_p50_ms - sb.ttfc_p50_ms, 2)
        out.append(Target("first chunk p50: HPN - streaming bare mitmdump (ms)", added, "<= 1", added <= 1))
    sbase = _stream(b.stream_rows, "baseline router")
    if sb and sbase and sb.ttfc_p50_ms is not None and sbase.ttfc_p50_ms is not None:
        added = round(sbase.ttfc_p50_ms - sb.ttfc_p50_ms, 2)
        ref.append(Target("first chunk p50: baseline - streaming bare mitmdump (ms)", added, "", None))
    slean = _stream(b.stream_rows, LEAN)
    if sb and slean and sb.ttfc_p50_ms is not None and slean.ttfc_p50_ms is not None:
        ref.append(
            Target("first chunk p50: lean runner - streaming bare mitmdump (ms)", round(slean.ttfc_p50_ms - sb.ttfc_p50_ms, 2), "", None)
        )
    if sd and sh and sd.ttfc_p50_ms is not None and sh.ttfc_p50_ms is not None:
        ref.append(Target("first chunk p50: HPN - direct (ms)", round(sh.ttfc_p50_ms - sd.ttfc_p50_ms, 2), "", None))
    if sd and sf and sd.ttfc_p50_ms is not None and sf.ttfc_p50_ms is not None:
        added = round(sf.ttfc_p50_ms - sd.ttfc_p50_ms, 2)
        out.append(Target("first chunk p50: HPN after one 429 - direct (ms)", added, "<= 50", added <= 50))
    return out, ref


def _lean_targets(b: Bench, c: int) -> tuple[list[Target], list[Target]]:
    """The lean runner against bare mitmdump at concurrency c: req/s, and CPU per request (the
    ratio a quiet machine would show as req/s, since both are CPU-bound). (targets, references)"""
    bare_row = _row(b.load_rows, "bare mitmdump", c)
    goals: list[Target] = []
    refs: list[Target] = []
    for config, goal in ((LEAN, LEAN_GOAL), (LEAN_HIT, None)):
        row = _row(b.load_rows, config, c)
        if not (row and bare_row):
            continue
        ratios = []
        if bare_row.rps:
            ratios.append((f"{config} req/s / bare req/s, c={c}", row.rps / bare_row.rps))
        if row.proxy_cpu_ms_per_request and bare_row.proxy_cpu_ms_per_request:
            ratios.append((f"bare CPU/req / {config} CPU/req, c={c}", bare_row.proxy_cpu_ms_per_request / row.proxy_cpu_ms_per_request))
        for name, ratio in ratios:
            if goal is None:
                refs.append(Target(name, round(ratio, 3), "", None))
            else:
                goals.append(Target(name, round(ratio, 3), f">= {goal}", ratio >= goal))
    return goals, refs


def loadgen_description(b: Bench) -> str:
    if b.loadgen == "wrk":
        return f"wrk ({b.wrk_threads} thread{'s' if b.wrk_threads > 1 else ''}, POST from a Lua script, a separate C process)"
    return "aiohttp (one asyncio client in the bench's own process)"


def warmup_seconds(b: Bench) -> float:
    """wrk runs whole seconds only."""
    return wrkload.whole_seconds(b.warmup) if b.loadgen == "wrk" and b.warmup > 0 else b.warmup


def measured_seconds(b: Bench) -> float:
    return wrkload.whole_seconds(b.duration) if b.loadgen == "wrk" else b.duration


def emulator_headroom(b: Bench) -> list[str]:
    """Can the emulator alone answer what two workers would need (WORKERS_GOAL x one worker)?
    If not, the workers' ratio measures the emulator, not the router."""
    notes = []
    for c in CONCURRENCY:
        direct_row, one = _row(b.load_rows, "direct", c), _row(b.load_rows, ONE_WORKER, c)
        if direct_row and one and one.rps:
            needed = WORKERS_GOAL * one.rps
            verdict = "enough" if direct_row.rps >= needed else "TOO LOW: the emulator caps the workers' rows"
            notes.append(
                f"emulator headroom, c={c}: direct {direct_row.rps:.0f} req/s against {needed:.0f} req/s that "
                f"{WORKERS_GOAL:g} x one worker needs ({verdict})"
            )
    return notes


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}".replace(",", " ") if abs(value) >= 100 else f"{value:.2f}"
    return str(value)


def markdown(b: Bench, info: dict[str, Any], failures: dict[str, str]) -> str:
    lines = [
        "## HPN Router benchmark",
        "",
        f"Machine: {info['cores']} cores ({info['cpu'] or 'unknown CPU'}), {info['implementation']} {info['python']}, "
        f"mitmproxy {info['mitmproxy']}, aiohttp {info['aiohttp']}; load average at start "
        f"{' / '.join(f'{x:.2f}' for x in info['loadavg_at_start'])}. Loopback; the load generator, "
        f"the proxy under test and the emulator share the cores.",
        f"Load generator for the req/s cells: **{loadgen_description(b)}**; its CPU is the client column. "
        f"Each cell: {warmup_seconds(b):g} s warm-up (not counted), then {measured_seconds(b):g} s closed loop on "
        f"keep-alive connections (one per unit of concurrency). CPU = CPU seconds / wall seconds (1.00 = one full core); "
        '"other CPU" = the rest of the box (processes this bench did not start): above ~0.1 the row is disturbed.',
        "",
    ]
    if b.load_rows:
        lines += [
            "| config | conc | req/s | p50 ms | p99 ms | errors | proxy CPU | proxy CPU ms/req | emulator CPU | emulator CPU ms/req "
            "| client CPU | client CPU ms/req | other CPU |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in b.load_rows:
            lines.append(
                f"| {r.config} | {r.concurrency} | {_fmt(r.rps)} | {_fmt(r.p50_ms)} | {_fmt(r.p99_ms)} | "
                f"{r.errors} | {_fmt(r.proxy_cpu)} | {_fmt(r.proxy_cpu_ms_per_request)} | {_fmt(r.emulator_cpu)} | "
                f"{_fmt(r.emulator_cpu_ms_per_request)} | {_fmt(r.client_cpu)} | {_fmt(r.client_cpu_ms_per_request)} | "
                f"{_fmt(r.other_cpu)} |"
            )
        lines.append("")
    if b.stream_rows:
        lines += [
            f"Streaming (emulator stream_delay_ms={STREAM_DELAY_MS}), {b.stream_requests} sequential requests "
            f"after {b.stream_warmup} warm-up; first chunk = first `data:` event with non-empty content.",
            "",
            "| config | requests | errors | first chunk p50 ms | p90 ms | max ms | whole stream p50 ms | events | other CPU | check |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for s in b.stream_rows:
            lines.append(
                f"| {s.config} | {s.requests} | {s.errors} | {_fmt(s.ttfc_p50_ms)} | {_fmt(s.ttfc_p90_ms)} | "
                f"{_fmt(s.ttfc_max_ms)} | {_fmt(s.total_p50_ms)} | {_fmt(s.events_p50)} | {_fmt(s.other_cpu)} | {s.check} |"
            )
        lines.append("")
    goals, ref = targets(b)
    if goals or ref:
        lines += ["| target | value | goal | |", "|---|---:|---|---|"]
        for t in goals:
            lines.append(f"| {t.name} | {_fmt(t.value)} | {t.limit} | {'PASS' if t.ok else 'MISS'} |")
        for t in ref:
            lines.append(f"| {t.name} | {_fmt(t.value)} | (reference) | |")
        lines.append("")
    total_errors = sum(r.errors for r in b.load_rows) + sum(s.errors for s in b.stream_rows)
    lines.append(f"Errors (non-200 or failed requests) in all rows: **{total_errors}**.")
    for r in [*b.load_rows, *b.stream_rows]:
        for sample in r.error_samples:
            lines.append(f"- {r.config}: {sample}")
    disturbed = [
        f"{r.config} c={r.concurrency} ({r.other_cpu:.2f}{': ' + ', '.join(r.other_busiest) if r.other_busiest else ''})"
        for r in b.load_rows
        if r.other_cpu is not None and r.other_cpu > 0.1
    ]
    disturbed += [f"{s.config} stream ({s.other_cpu:.2f})" for s in b.stream_rows if s.other_cpu is not None and s.other_cpu > 0.1]
    if disturbed:
        lines.append(f"- Disturbed by other processes (other CPU > 0.1 core): {'; '.join(disturbed)}.")
    for name, problem in failures.items():
        lines.append(f"- scenario `{name}` FAILED: {problem}")
    for note in [*b.notes, *emulator_headroom(b)]:
        lines.append(f"- {note}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2 s cells, 20 stream requests (~30-40 s)")
    p.add_argument("--json", metavar="PATH", help="also save the raw numbers as JSON")
    p.add_argument("--only", metavar="NAMES", help=f"comma-separated scenarios: {','.join(SCENARIOS)}")
    p.add_argument("--duration", type=float, help="measured seconds per cell (default 5, quick 2)")
    p.add_argument("--warmup", type=float, help="warm-up seconds per cell (default 1, quick 0.5)")
    p.add_argument("--stream-requests", type=int, help="measured streaming requests per row (default 50, quick 20)")
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
    p.add_argument("--baseline", metavar="DIR", help="scenario `baseline`: also measure the router of this checkout")
    return p.parse_args(argv)


async def run(b: Bench, names: list[str]) -> dict[str, str]:
    failures: dict[str, str] = {}
    for name in names:
        if STOP:
            raise KeyboardInterrupt
        _progress(f"-- {name}")
        try:
            await SCENARIOS[name](b)
        except Exception as e:  # noqa: BLE001 - report it, run the other scenarios
            failures[name] = f"{type(e).__name__}: {str(e)[:1500]}"
            traceback.print_exc()
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
                "loadgen": b.loadgen,
                "wrk_threads": b.wrk_threads if b.loadgen == "wrk" else None,
                "quick": b.quick,
                "scenarios": names,
            },
            "load": [asdict(r) for r in b.load_rows],
            "stream": [asdict(s) for s in b.stream_rows],
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
