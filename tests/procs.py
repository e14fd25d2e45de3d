"""Start the real processes the end-to-end tests drive: the Gemini emulator and mitmdump (or
mitmweb, or the lean runner run.sh starts) with the router's addons. Everything listens on
127.0.0.1 and is stopped by the fixture."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openai
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GUARD = Path(__file__).resolve().parent / "guard_addon.py"  # no connection leaves 127.0.0.0/8
EGRESS_MARKER = "EGRESS-BLOCKED"
# HPN_TEST_WORKERS=2: every router the tests start with start_router (mitmdump or the lean
# runner) runs instead as that many workers of the lean runner, each router with a redis-server
# of its own (HPN_REDIS_URL), so the e2e suite checks that behaviour holds with several workers.
TEST_WORKERS = int(os.environ.get("HPN_TEST_WORKERS") or 0)
# HPN_TEST_RUNNER=runner: every router the tests start in stock mitmdump runs in the lean runner
# instead (its reverse front: edge/reversefront.py), one process, unless marked single_process.
TEST_RUNNER = os.environ.get("HPN_TEST_RUNNER", "")
# Set (to the reason) by tests/e2e/conftest.py for a test marked `single_process`: its routers
# run as they are even under HPN_TEST_WORKERS.
single_process_reason: str | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], object], what: str, seconds: float = 20.0) -> None:
    """Until `check()` is true, polling every 50 ms; AssertionError naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def http_json(method: str, url: str, payload: object | None = None, timeout: float = 5.0) -> object:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@dataclass
class Emulator:
    proc: subprocess.Popen
    url: str

    def stats(self) -> dict:
        return http_json("GET", f"{self.url}/_emulator/stats")  # type: ignore[return-value]

    def reset(self) -> None:
        http_json("POST", f"{self.url}/_emulator/reset", {})

    def set_key(self, index: int, behaviour: str, script: list[str] | None = None) -> None:
        http_json("POST", f"{self.url}/_emulator/scenario", {"key_index": index, "behaviour": behaviour, "script": script or []})

    def stop(self) -> None:
        _stop(self.proc)


def start_emulator(scenario: dict, tmp: Path, module: str = "gemini_emulator") -> Emulator:
    """An emulator (`gemini_emulator`, `anthropic_emulator`, `mistral_emulator`: the same CLI,
    scenario format and admin endpoints) on a free loopback port, with this scenario."""
    path = tmp / f"{module}-scenario-{time.monotonic_ns()}.yaml"
    path.write_text(yaml.safe_dump(scenario))
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", "--scenario", str(path), "--quiet"],
        cwd=REPO / "emulators",  # the emulators are a folder of their own, not installed with the router
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", line)
    if not match:
        _stop(proc)
        raise RuntimeError(f"{module} did not start: {line!r}")
    return Emulator(proc, match.group(0))


def start_anthropic_emulator(scenario: dict, tmp: Path) -> Emulator:
    return start_emulator(scenario, tmp, "anthropic_emulator")


def start_mistral_emulator(scenario: dict, tmp: Path) -> Emulator:
    return start_emulator(scenario, tmp, "mistral_emulator")


# The provider pools the e2e tests give a router beside its Gemini keys (tests/e2e/conftest.py
# starts their emulators: `mistral`, `claude_emu`). Anthropic keys 0 and 1 belong to one
# organization, key 2 to another (the emulator sends each key's anthropic-organization-id).
MISTRAL_KEYS = ["emuMistralKeyOne000000000000001", "emuMistralKeyTwo000000000000002"]
ANTHROPIC_KEYS = [
    "sk-ant-api03-E2eOrgAOne-000000000000000000000000000000000000000000-AAAA",
    "sk-ant-api03-E2eOrgATwo-000000000000000000000000000000000000000001-AAAA",
    "sk-ant-api03-E2eOrgBOne-000000000000000000000000000000000000000002-AAAA",
]
SERVED_BY = "x-hpn-served-by"  # the router's answer header naming the provider/model that served it
WEATHER = {  # a Chat Completions function tool
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def provider_env(provider: str, emulator: Emulator, keys: list[str]) -> dict[str, str]:
    """The environment that gives a router `keys` of `provider` ("mistral", "anthropic"), served by `emulator`."""
    prefix = f"HPN_{provider.upper()}"
    return {f"{prefix}_API_KEYS": ",".join(keys), f"{prefix}_BASE_URL": emulator.url}


@dataclass
class Router:
    proc: subprocess.Popen
    port: int
    log_path: Path
    proxy_port: int | None = None  # the regular-mode (HTTPS_PROXY) listener, when started
    confdir: Path | None = None
    redis: RedisServer | None = None  # the router's own redis-server, under HPN_TEST_WORKERS
    workers: int = 1
    started_with: dict | None = None  # start_router's arguments but the folder: the same router again

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def ca_cert(self) -> Path:
        """mitmproxy's CA certificate for this router (an isolated confdir per test)."""
        assert self.confdir is not None
        return self.confdir / "mitmproxy-ca-cert.pem"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pids(self) -> list[int]:
        """The router's processes that serve requests: the process itself, or its workers."""
        pid = self.proc.pid
        if self.workers == 1:
            return [pid]
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    def stop(self) -> None:
        _stop(self.proc)
        if self.redis is not None:
            self.redis.stop()


STARTED: list[Router] = []  # every router started, so a fixture can check all their logs


def start_router(
    tmp: Path,
    *,
    keys: list[str],
    gemini_url: str,
    config: dict | None = None,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    proxy: bool = False,
    program: str = "mitmdump",
    guard: bool = True,
    scripts_before: list[Path] | None = None,
    reverse_target: str = "https://generativelanguage.googleapis.com",
    ready_seconds: float = 20,
) -> Router:
    """`proxy` adds the regular-mode listener; `program` may be "mitmweb", or "runner" (the lean
    runner, as run.sh starts it: see start_runner); `guard` loads
    tests/guard_addon.py first (refuses and reports any connection outside loopback);
    `scripts_before` are loaded before router.py; `reverse_target` is where mitmproxy would
    forward a request the router let through (the emulator, to see that nothing arrives);
    `ready_seconds` bounds the wait for its first /health answer."""
    started_with = {
        "keys": keys, "gemini_url": gemini_url, "config": config, "extra_args": extra_args, "env": env, "proxy": proxy,
        "program": program, "guard": guard, "scripts_before": scripts_before, "reverse_target": reverse_target,
        "ready_seconds": ready_seconds,
    }  # fmt: skip
    redis = None
    workers = 1
    if TEST_RUNNER == "runner" and program == "mitmdump" and single_process_reason is None:
        program = "runner"
    if _as_workers(program, env):
        # A redis-server per router, not per session: the shared-state channel is server-wide
        # (Redis databases do not separate pub/sub), and each router the tests start is a pool of its own.
        program, workers, redis = "runner", TEST_WORKERS, start_redis(tmp)
        env = {"HPN_WORKERS": str(workers), "HPN_REDIS_URL": redis.url, **(env or {})}
    port = free_port()
    proxy_port = free_port() if proxy else None
    confdir = tmp / f"mitmproxy-conf-{port}"
    config_path = tmp / f"config-{port}.yaml"
    config_path.write_text(yaml.safe_dump(config or {}))
    log_path = tmp / f"router-{port}.log"
    full_env = {
        **os.environ,
        "HPN_API_KEYS": ",".join(keys),
        "HPN_GEMINI_BASE_URL": gemini_url,
        "HPN_CONFIG": str(config_path),
        # The runner as run.sh starts it: with PYTHONOPTIMIZE=1 (mitmproxy's __debug__ checks off).
        **({"PYTHONPATH": str(REPO / "addons"), "PYTHONOPTIMIZE": "1"} if program == "runner" else {}),
        **(env or {}),
    }
    args = [
        *([sys.executable, "-m", "hpn_router", "run"] if program == "runner" else [str(BIN / program)]),
        *(["-s", str(GUARD)] if guard else []),
        *[arg for script in scripts_before or [] for arg in ("-s", str(script))],
        "-s",
        str(REPO / "addons" / "router.py"),
        "--mode",
        f"reverse:{reverse_target}@127.0.0.1:{port}",
        *(["--mode", f"regular@127.0.0.1:{proxy_port}"] if proxy else []),
        "--set",
        f"confdir={confdir}",
        "--set",
        "connection_strategy=lazy",
        "--set",
        "flow_detail=0",
        *(extra_args or []),
    ]
    log = log_path.open("w")
    proc = subprocess.Popen(args, env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    router = Router(proc, port, log_path, proxy_port, confdir, redis, workers, started_with)
    STARTED.append(router)
    deadline = time.monotonic() + ready_seconds * workers
    answered: set[object] = set()  # the workers that answered /health (None: a single process)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            router.stop()
            raise RuntimeError(f"{program} exited with {proc.returncode}:\n{router.log()}")
        try:
            answered.add(http_json("GET", f"{router.url}/health", timeout=1).get("worker"))  # type: ignore[union-attr]
            if None in answered or len(answered) >= workers:  # every worker listens: no test connection waits for one
                return router
        except OSError:
            time.sleep(0.1)
    router.stop()
    raise RuntimeError(f"router did not become ready:\n{router.log()}")


def _as_workers(program: str, env: dict[str, str] | None) -> bool:
    """Whether HPN_TEST_WORKERS turns this router into workers: not for mitmweb (one process by
    design), a test that starts workers itself, or a test marked single_process."""
    return TEST_WORKERS > 1 and single_process_reason is None and program in ("mitmdump", "runner") and "HPN_WORKERS" not in (env or {})


def start_runner(tmp: Path, **kw: object) -> Router:
    """The router in the lean runner (`python -m hpn_router run`, what ./run.sh starts), with
    start_router's arguments."""
    return start_router(tmp, program="runner", **kw)  # type: ignore[arg-type]


def pool_key(i: int) -> str:
    """Realistic 39-character Google-style keys, so redaction is tested on real shapes."""
    return f"AIzaSyE2eKey{i:02d}" + "AbCdEfGhIjKlMnOpQrStUvWxY"


KEYS = [pool_key(i) for i in range(1, 6)]


def scenario(**overrides: object) -> dict:
    keys = [{"key": k, "project": f"proj-{i}", "behaviour": "ok"} for i, k in enumerate(KEYS, start=1)]
    return {"keys": keys, "gemini3_models": ["gemini-3*", "gemini-flash-latest", "gemini-flash-lite-latest"], **overrides}


def client_for(router: Router, **kw: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.base_url, api_key="sk-client-token-not-a-gemini-key", max_retries=0, **kw)  # type: ignore[arg-type]


def raw_exchange(port: int, head: bytes) -> bytes:
    """Send raw request bytes to 127.0.0.1:port; the reply's head and body (by content-length),
    for requests no HTTP client library would send."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(head)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = raw.recv(65536)
            if not chunk:
                break
            data += chunk
        head_bytes, _, body = data.partition(b"\r\n\r\n")
        lines = head_bytes.lower().split(b"\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in lines[1:] if line.startswith(b"content-length:")), 0)
        while len(body) < length:
            chunk = raw.recv(65536)
            if not chunk:
                break
            body += chunk
    return head_bytes + b"\r\n\r\n" + body


def venv_for_run_sh(tmp: Path) -> Path:
    """A venv folder run.sh accepts as set up: this interpreter's, behind symlinks, with the
    stamps run.sh looks for (so it installs and compiles nothing)."""
    prefix = Path(sys.prefix)
    if not (prefix / "pyvenv.cfg").is_file():
        import pytest

        pytest.skip("the tests do not run from a venv")
    venv = tmp / "venv"
    venv.mkdir()
    (venv / "bin").symlink_to(Path(sys.executable).parent, target_is_directory=True)
    (venv / "lib").symlink_to(prefix / "lib", target_is_directory=True)
    shutil.copy(prefix / "pyvenv.cfg", venv / "pyvenv.cfg")
    digest = subprocess.run(["sha1sum", str(REPO / "pyproject.toml")], capture_output=True, text=True, check=True).stdout
    (venv / f".hpn-installed-{digest[:12]}").touch()
    (venv / ".hpn-compiled-O").touch()  # nor compiles into this interpreter's venv
    return venv


@dataclass
class RedisServer:
    """A real redis-server (the Debian package) on a free loopback port, no persistence."""

    proc: subprocess.Popen
    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, *args: str) -> str:
        """One command through redis-cli (the tests' own view of Redis, independent of redis-py)."""
        done = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, timeout=10)
        return done.stdout

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def restart(self) -> None:
        """Stopped, then started again on the same port (empty: it keeps no data)."""
        self.stop()
        self.proc = _spawn_redis(self.port, self.folder)


def _spawn_redis(port: int, folder: Path) -> subprocess.Popen:
    binary = shutil.which("redis-server")
    if binary is None:  # ./run.sh test installs it (ensure_redis); never skip: the tests must run
        raise RuntimeError("redis-server is not installed: apt-get install -y redis-server (./run.sh test does it as root)")
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=folder)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as probe:
                probe.sendall(b"PING\r\n")
                if probe.recv(16).startswith(b"+PONG"):
                    return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


def start_redis(tmp: Path) -> RedisServer:
    folder = tmp / f"redis-{time.monotonic_ns()}"
    folder.mkdir()
    port = free_port()
    return RedisServer(_spawn_redis(port, folder), port, folder)
