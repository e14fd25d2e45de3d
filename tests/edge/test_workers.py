"""edge/workers.py: which worker a process is, who keeps the state file, listeners that share
a port, and the supervisor restarting, giving up on and stopping real worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from hpn_router.edge import workers
from hpn_router.edge.workers import WORKER_ENV, Supervisor, keeps_state_file, worker_index

REPO = Path(__file__).resolve().parents[2]


def test_worker_index_comes_from_the_environment():
    assert worker_index({}) is None
    assert worker_index({WORKER_ENV: "1"}) == 1
    assert worker_index({WORKER_ENV: "x"}) is None


def test_only_worker_0_or_a_lone_router_keeps_the_state_file():
    assert keeps_state_file(None) and keeps_state_file(0)
    assert not keeps_state_file(1)


SHARE = """
import asyncio, socket, sys
from hpn_router.edge.workers import share_listening_ports
from mitmproxy.proxy import mode_specs

async def listen_twice(port):
    async def ignore(reader, writer):
        writer.close()
    first = await asyncio.start_server(ignore, "127.0.0.1", port)
    try:
        second = await asyncio.start_server(ignore, "127.0.0.1", port)
    except OSError:
        return "refused"
    second.close()
    first.close()
    return "shared"

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
if sys.argv[1] == "share":
    share_listening_ports()
mode = mode_specs.ProxyMode.parse("reverse:https://example.com@127.0.0.1:8080")
print(asyncio.run(listen_twice(port)), mode.transport_protocol)
"""


@pytest.mark.parametrize(("how", "expected"), [("alone", "refused both"), ("share", "shared tcp")])
def test_a_worker_shares_its_listening_ports_and_leaves_out_the_udp_listener(how, expected):
    """In a process of its own: the patch is for a worker's whole life."""
    env = {"PYTHONPATH": str(REPO / "addons")}
    done = subprocess.run([sys.executable, "-c", SHARE, how], capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.strip() == expected, done.stderr


def worker_command(tmp_path: Path, body: str) -> list[str]:
    """A stand-in worker: a Python script that records its index, then runs `body`."""
    script = tmp_path / "worker.py"
    script.write_text(
        textwrap.dedent(f"""
        import os, pathlib, signal, sys, time
        index = os.environ["{WORKER_ENV}"]
        with open(pathlib.Path(sys.argv[1]) / f"started-{{index}}", "a") as f:
            f.write(str(os.getpid()) + "\\n")
        """)
        + textwrap.dedent(body)
    )
    return [sys.executable, str(script), str(tmp_path)]


SERVE = """
def drain(*_):
    with open(pathlib.Path(sys.argv[1]) / f"drained-{index}", "w") as f:
        f.write("yes")
    sys.exit(0)
def reload(*_):
    with open(pathlib.Path(sys.argv[1]) / f"reloaded-{index}", "w") as f:
        f.write("yes")
signal.signal(signal.SIGTERM, drain)
signal.signal(signal.SIGHUP, reload)
with open(pathlib.Path(sys.argv[1]) / f"ready-{index}", "a") as f:  # its signal handlers are in place
    f.write(str(os.getpid()) + "\\n")
for _ in range(600):
    time.sleep(0.1)
"""


def wait_for(predicate, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)
    return predicate()


def started(tmp_path: Path, index: int, what: str = "started") -> list[str]:
    """The pids of worker `index` so far that have started (or are `ready`: handlers in place)."""
    path = tmp_path / f"{what}-{index}"
    return path.read_text().split() if path.exists() else []


def test_the_supervisor_starts_each_worker_restarts_one_that_dies_and_drains_all_on_stop(tmp_path):
    clock = [0.0]
    supervisor = Supervisor(worker_command(tmp_path, SERVE), 2, clock=lambda: clock[0], restart_delay=0)
    for index in range(2):
        supervisor.spawn(index)
    assert wait_for(lambda: started(tmp_path, 0, "ready") and started(tmp_path, 1, "ready"))
    clock[0] = 100.0  # long after their start: a crash, not a failure to start
    supervisor.workers[1].proc.send_signal(signal.SIGKILL)
    supervisor.workers[1].proc.wait(10)
    supervisor.check_workers()
    assert wait_for(lambda: len(started(tmp_path, 1, "ready")) == 2)
    assert supervisor.workers[1].proc.poll() is None and supervisor.workers[1].quick_failures == 0
    supervisor.stop_workers()
    assert all(w.proc.returncode == 0 for w in supervisor.workers.values())
    assert (tmp_path / "drained-0").exists() and (tmp_path / "drained-1").exists()  # SIGTERM let each finish
    assert not supervisor.stopping  # stopping is the signal's decision; stop_workers only carries it out


def test_a_worker_that_keeps_failing_to_start_stops_the_supervisor_with_its_exit_code(tmp_path):
    supervisor = Supervisor(worker_command(tmp_path, "sys.exit(3)"), 1, restart_delay=0)
    supervisor.spawn(0)
    for _ in range(workers.QUICK_FAILURES_IN_A_ROW):
        supervisor.workers[0].proc.wait(20)
        supervisor.check_workers()
    assert supervisor.stopping and supervisor.exit_code == 3
    assert len(started(tmp_path, 0)) == workers.QUICK_FAILURES_IN_A_ROW  # tried that often, then gave up


def test_sighup_to_the_supervisor_reloads_every_worker_and_sigterm_stops_them(tmp_path):
    program = f"""
import sys
sys.path.insert(0, {str(REPO / "addons")!r})
from hpn_router.edge.workers import Supervisor
sys.exit(Supervisor({worker_command(tmp_path, SERVE)!r}, 2).run())
"""
    proc = subprocess.Popen([sys.executable, "-c", program], stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: started(tmp_path, 0, "ready") and started(tmp_path, 1, "ready"))
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: (tmp_path / "reloaded-0").exists() and (tmp_path / "reloaded-1").exists())
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (tmp_path / "drained-0").exists() and (tmp_path / "drained-1").exists()
    assert "All workers stopped" in proc.stderr.read()


def test_workers_drain_when_the_supervisor_is_killed(tmp_path):
    program = f"""
import sys
sys.path.insert(0, {str(REPO / "addons")!r})
from hpn_router.edge.workers import Supervisor
sys.exit(Supervisor({worker_command(tmp_path, SERVE)!r}, 2).run())
"""
    proc = subprocess.Popen([sys.executable, "-c", program], stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: started(tmp_path, 0, "ready") and started(tmp_path, 1, "ready"))
        proc.kill()
        proc.wait(10)
        assert wait_for(lambda: (tmp_path / "drained-0").exists() and (tmp_path / "drained-1").exists())
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_worker_that_does_not_drain_in_time_is_killed(tmp_path, monkeypatch):
    monkeypatch.setattr(workers, "STOP_GRACE_SECONDS", 0.5)
    stubborn = """
signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open(pathlib.Path(sys.argv[1]) / f"ready-{index}", "a") as f:
    f.write(str(os.getpid()) + "\\n")
for _ in range(600):
    time.sleep(0.1)
"""
    supervisor = Supervisor(worker_command(tmp_path, stubborn), 1)
    supervisor.spawn(0)
    assert wait_for(lambda: started(tmp_path, 0, "ready"))
    supervisor.stop_workers()
    assert supervisor.workers[0].proc.returncode == -signal.SIGKILL


def test_the_supervisor_runs_in_this_process_until_its_signal(tmp_path):
    """run() itself, in the test process: it starts the workers, passes SIGHUP on, and SIGTERM
    stops it; the thread signals only while run() holds the handlers (it waits for the workers)."""
    supervisor = Supervisor(worker_command(tmp_path, SERVE), 2)

    def drive() -> None:
        if wait_for(lambda: started(tmp_path, 0, "ready") and started(tmp_path, 1, "ready")):
            os.kill(os.getpid(), signal.SIGHUP)
            wait_for(lambda: (tmp_path / "reloaded-0").exists() and (tmp_path / "reloaded-1").exists())
            os.kill(os.getpid(), signal.SIGTERM)
        else:
            supervisor.stop()

    before = signal.getsignal(signal.SIGTERM)
    driver = threading.Thread(target=drive)
    driver.start()
    assert supervisor.run() == 0
    driver.join(30)
    assert (tmp_path / "reloaded-0").exists() and (tmp_path / "reloaded-1").exists()
    assert (tmp_path / "drained-0").exists() and (tmp_path / "drained-1").exists()
    assert signal.getsignal(signal.SIGTERM) is before  # the test process's handlers are back


def test_the_listening_ports_patch_is_applied_once(monkeypatch):
    """In this process, undone afterwards: a second call (a reload) does not wrap the wrapper."""
    import asyncio
    import socket

    from mitmproxy.proxy import mode_specs

    monkeypatch.setattr(asyncio, "start_server", asyncio.start_server)
    monkeypatch.setattr(mode_specs.ReverseMode, "__post_init__", mode_specs.ReverseMode.__post_init__)
    try:
        workers.share_listening_ports()
        patched = asyncio.start_server
        workers.share_listening_ports()
        assert asyncio.start_server is patched and patched.hpn_reuse_port
        mode = mode_specs.ProxyMode.parse("reverse:https://example.com@127.0.0.1:8081")
        assert mode.transport_protocol == mode_specs.TCP

        async def listen_twice() -> None:
            async def ignore(reader, writer):
                writer.close()

            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            first = await asyncio.start_server(ignore, "127.0.0.1", port)
            second = await asyncio.start_server(ignore, "127.0.0.1", port)  # refused without SO_REUSEPORT
            second.close()
            first.close()

        asyncio.run(listen_twice())
    finally:
        mode_specs.ProxyMode.parse.cache_clear()


SHARED_METRICS = f"""
folder = os.environ["{workers.METRICS_DIR_ENV}"]
with open(pathlib.Path(sys.argv[1]) / f"metrics-dir-{{index}}", "a") as f:
    f.write(f"{{folder}} {{os.stat(folder).st_mode & 0o777:o}}\\n")
for kind in ("counter", "histogram", "gauge_livesum"):  # what prometheus_client writes there
    pathlib.Path(folder, f"{{kind}}_{{os.getpid()}}.db").write_bytes(b"")
"""


def test_workers_count_in_one_private_folder_that_keeps_a_dead_workers_counts_until_the_supervisor_exits(tmp_path):
    supervisor = Supervisor(worker_command(tmp_path, SHARED_METRICS + SERVE), 2, restart_delay=0)
    seen: dict[str, list[str]] = {}

    def drive() -> None:
        if wait_for(lambda: started(tmp_path, 0, "ready") and started(tmp_path, 1, "ready")):
            seen["dead"] = started(tmp_path, 1, "ready")
            os.kill(int(seen["dead"][0]), signal.SIGKILL)
            if wait_for(lambda: len(started(tmp_path, 1, "ready")) == 2):
                folder = (tmp_path / "metrics-dir-1").read_text().split()[0]
                seen["files"] = sorted(os.listdir(folder))
        os.kill(os.getpid(), signal.SIGTERM)

    driver = threading.Thread(target=drive)
    driver.start()
    assert supervisor.run() == 0
    driver.join(30)
    folders = {line for index in (0, 1) for line in (tmp_path / f"metrics-dir-{index}").read_text().splitlines()}
    assert len(folders) == 1  # every worker, the restarted one too, in the same folder
    folder, mode = folders.pop().split()
    assert mode == "700" and Path(folder).name.startswith("hpn-metrics-")
    dead = seen["dead"][0]
    assert f"counter_{dead}.db" in seen["files"] and f"histogram_{dead}.db" in seen["files"]  # still summed
    assert f"gauge_livesum_{dead}.db" not in seen["files"]  # mark_process_dead: a live gauge leaves with its process
    assert len([name for name in seen["files"] if name.startswith("counter_")]) == 3
    assert not Path(folder).exists()  # the next run starts from zero
