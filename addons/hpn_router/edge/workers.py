"""Several router processes serving the same ports: the supervisor, and each worker's side.

mitmproxy runs on one event loop, so one process uses one core. With `server.workers: N` the
lean runner becomes a supervisor: it creates mitmproxy's CA once, then starts N workers (the
same `python -m hpn_router run` command with HPN_WORKER_INDEX=0..N-1), restarts a worker that
dies, and on SIGTERM or SIGINT passes the signal on and waits while every worker drains (stops
accepting, finishes its in-flight requests, exits).

`/metrics` counts the whole router whichever worker answers: the supervisor makes a private
folder (0700, removed when it exits) and hands it to every worker as PROMETHEUS_MULTIPROC_DIR;
each worker's counters and histograms live in files there, and a scrape sums them
(edge/metrics.py). A dead worker's files stay, so a restart loses no count.

mitmproxy 11 binds its listeners with `asyncio.start_server` and has no reuse_port option. A
worker sets SO_REUSEPORT on every listener with a fixed port before mitmproxy binds
(`share_listening_ports`); the kernel then spreads new connections over the workers. Ports
chosen by the kernel (port 0: the stream relay) stay each worker's own. UDP listeners cannot be
shared that way (mitmproxy binds them in Rust), so workers leave out the HTTP/3 (QUIC) listener
mitmproxy adds beside a `reverse:https://` one: clients reach the router over TCP.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from loguru import logger
from prometheus_client.multiprocess import mark_process_dead

WORKER_ENV = "HPN_WORKER_INDEX"
# prometheus_client's multiprocess folder (read when a worker imports it: hence the environment).
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
POLL_SECONDS = 0.2
# A worker exiting this soon after its start counts as failing to start (a port in use, a bad
# config); after QUICK_FAILURES_IN_A_ROW such starts the supervisor gives up instead of looping.
QUICK_EXIT_SECONDS = 10.0
QUICK_FAILURES_IN_A_ROW = 3
RESTART_DELAY_SECONDS = 1.0
# A worker drains for at most DRAIN_SECONDS (edge/runner.py); then the supervisor kills it.
DRAIN_SECONDS = 30.0
STOP_GRACE_SECONDS = DRAIN_SECONDS + 5.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def worker_index(env: Mapping[str, str] = os.environ) -> int | None:
    """This process's worker number under a supervisor; None when it runs alone."""
    value = env.get(WORKER_ENV, "")
    return int(value) if value.isdigit() else None


def keeps_state_file(index: int | None) -> bool:
    """Only worker 0 (or a router running alone) owns the state file: it is locked for one
    process, and with several workers the pool's shared state lives in Redis."""
    return index in (None, 0)


def share_listening_ports() -> None:
    """SO_REUSEPORT on every listener with a fixed port this process opens from now on, and
    reverse modes on TCP only."""
    original = asyncio.start_server
    if getattr(original, "hpn_reuse_port", False):
        return
    _reverse_mode_on_tcp_only()

    async def start_server(client_connected_cb: Any, host: Any = None, port: Any = None, **kwargs: Any) -> asyncio.Server:
        if port:
            kwargs.setdefault("reuse_port", True)
        return await original(client_connected_cb, host, port, **kwargs)

    start_server.hpn_reuse_port = True  # type: ignore[attr-defined]
    asyncio.start_server = start_server  # type: ignore[assignment]


def _reverse_mode_on_tcp_only() -> None:
    from mitmproxy.proxy import mode_specs

    parse_spec = mode_specs.ReverseMode.__post_init__

    def post_init(self: mode_specs.ReverseMode) -> None:
        parse_spec(self)
        if self.transport_protocol == mode_specs.BOTH:
            self.transport_protocol = mode_specs.TCP

    mode_specs.ReverseMode.__post_init__ = post_init  # type: ignore[method-assign]
    mode_specs.ProxyMode.parse.cache_clear()  # modes parsed before the patch keep their UDP side otherwise


def _drain_when_the_supervisor_dies() -> None:
    """In the worker, before it runs: SIGTERM when the supervisor is gone (killed with SIGKILL,
    say), so no worker keeps serving the ports unsupervised."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Worker:
    index: int
    proc: subprocess.Popen[bytes]
    started: float
    quick_failures: int = 0


class Supervisor:
    """Starts `count` workers of `command`, keeps them running, stops them all on a signal."""

    def __init__(
        self,
        command: Sequence[str],
        count: int,
        *,
        env: Mapping[str, str] = os.environ,
        clock: Callable[[], float] = time.monotonic,
        restart_delay: float = RESTART_DELAY_SECONDS,
    ) -> None:
        self.command = list(command)
        self.count = count
        self.env = dict(env)
        self.clock = clock
        self.restart_delay = restart_delay
        self.workers: dict[int, Worker] = {}
        self.stopping = False
        self.exit_code = 0

    def spawn(self, index: int, quick_failures: int = 0) -> Worker:
        proc = subprocess.Popen(self.command, env={**self.env, WORKER_ENV: str(index)}, preexec_fn=_drain_when_the_supervisor_dies)
        worker = self.workers[index] = Worker(index, proc, self.clock(), quick_failures)
        logger.bind(worker=index, pid=proc.pid).info("Worker {} started (pid {})", index, proc.pid)
        return worker

    def stop(self, *_: object) -> None:
        self.stopping = True

    def run(self) -> int:
        """Until SIGTERM/SIGINT (or workers that keep failing to start); the exit code."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._reload)
        # New and empty for this run (never another run's counts), private to this user.
        metrics_dir = self.env[METRICS_DIR_ENV] = tempfile.mkdtemp(prefix="hpn-metrics-")
        try:
            for index in range(self.count):
                self.spawn(index)
            while not self.stopping:
                self.check_workers()
                time.sleep(POLL_SECONDS)
            self.stop_workers()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            shutil.rmtree(metrics_dir, ignore_errors=True)
        return self.exit_code

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        logger.info("Stopping {} workers ({}): each finishes its in-flight requests", self.count, signal.Signals(signum).name)
        self.stop()

    def _reload(self, _signum: int, _frame: FrameType | None) -> None:
        """SIGHUP (`systemctl reload`): every worker reloads its config."""
        for worker in self.workers.values():
            if worker.proc.poll() is None:
                worker.proc.send_signal(signal.SIGHUP)

    def check_workers(self) -> None:
        """Restart every worker that has exited; give up on one that keeps failing to start."""
        for worker in list(self.workers.values()):
            code = worker.proc.poll()
            if code is None or self.stopping:
                continue
            quick = self.clock() - worker.started < QUICK_EXIT_SECONDS
            failures = worker.quick_failures + 1 if quick else 0
            log = logger.bind(worker=worker.index, pid=worker.proc.pid, exit_code=code)
            if failures >= QUICK_FAILURES_IN_A_ROW:
                log.error("Worker {} failed to start {} times in a row; stopping", worker.index, failures)
                self.exit_code = code or 1
                self.stop()
                return
            log.warning("Worker {} (pid {}) exited with code {}; restarting it", worker.index, worker.proc.pid, code)
            self._forget_live_series(worker.proc.pid)
            time.sleep(self.restart_delay if quick else 0)
            if not self.stopping:
                self.spawn(worker.index, failures)

    def _forget_live_series(self, pid: int) -> None:
        """prometheus_client's bookkeeping for a dead process: its live gauges (none today) go;
        its counters and histograms stay, summed in every scrape."""
        if metrics_dir := self.env.get(METRICS_DIR_ENV):
            mark_process_dead(pid, metrics_dir)

    def stop_workers(self) -> None:
        """SIGTERM to every worker; each drains, then exits. The rest are killed after the grace."""
        for worker in self.workers.values():
            if worker.proc.poll() is None:
                worker.proc.send_signal(signal.SIGTERM)
        deadline = self.clock() + STOP_GRACE_SECONDS
        for worker in self.workers.values():
            try:
                worker.proc.wait(max(0.0, deadline - self.clock()))
            except subprocess.TimeoutExpired:
                logger.bind(worker=worker.index).warning("Worker {} did not drain in time; killed", worker.index)
                worker.proc.kill()
                worker.proc.wait()
        logger.info("All workers stopped")
