"""What one abusive client costs the router: memory, event-loop stalls, held connections.

Three bounded scenarios against a real mitmdump + the router, on loopback, each printing its
figures (peak RSS is the router's VmHWM from /proc, so Linux only):

* chunked: a 200 MiB chunked upload (no content-length) with the default 32 MiB body limit;
* tiny-json: a 30 MB body of 3.5 million tiny JSON objects, while another client polls
  /health (the slowest /health answer is the event-loop stall every other client sees);
* slowloris: a client sending one header byte every 0.5 s, for at most 15 s.

Usage (from the repository root):
    .venv/bin/python bench/abuse.py                      # this checkout's router, ~1 minute
    .venv/bin/python bench/abuse.py --addons /tmp/old/addons   # another checkout's router
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from procs import BIN, KEYS, _stop, free_port, scenario, start_emulator  # noqa: E402

MIB = 1024 * 1024
CHUNKED_BYTES = 200 * MIB
TINY_OBJECTS = 3_500_000
SLOWLORIS_SECONDS = 15.0


class Router:
    def __init__(self, addons: Path, emulator_url: str, tmp: Path, config: dict) -> None:
        self.port = free_port()
        config_path = tmp / f"config-{self.port}.yaml"
        config_path.write_text(yaml.safe_dump(config))
        env = {**os.environ, "HPN_API_KEYS": ",".join(KEYS[:2]), "HPN_GEMINI_BASE_URL": emulator_url, "HPN_CONFIG": str(config_path)}
        args = [
            str(BIN / "mitmdump"),
            "-s",
            str(addons / "router.py"),
            "--mode",
            f"reverse:https://generativelanguage.googleapis.com@127.0.0.1:{self.port}",
        ]
        args += ["--set", f"confdir={tmp / 'conf'}", "--set", "connection_strategy=lazy", "--set", "flow_detail=0"]
        self.log = tmp / f"router-{self.port}.log"
        self.proc = subprocess.Popen(args, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT, cwd=tmp)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                httpx.get(f"{self.url}/health", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"router did not start:\n{self.log.read_text()[-2000:]}")

    def peak_rss_mib(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024

    def stop(self) -> None:
        _stop(self.proc)


def warm_up(router: Router) -> None:
    body = {"model": "gpt-4", "messages": [{"role": "user", "content": "warm up"}]}
    httpx.post(f"{router.url}/v1/chat/completions", json=body, timeout=10)


def chunked(router: Router) -> dict:
    warm_up(router)
    before = router.peak_rss_mib()
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(CHUNKED_BYTES // MIB):
            sent += MIB
            yield b"x" * MIB

    started = time.monotonic()
    try:
        response = httpx.post(f"{router.url}/v1/chat/completions", content=chunks(), timeout=120)
        answer = f"{response.status_code} {response.headers.get('content-type', '')}"
    except httpx.HTTPError as e:
        answer = f"{type(e).__name__}"
    return {
        "answer": answer,
        "seconds": round(time.monotonic() - started, 2),
        "client_sent_mib": sent // MIB,
        "peak_rss_mib": f"{before:.0f} -> {router.peak_rss_mib():.0f}",
    }


def tiny_json(router: Router) -> dict:
    warm_up(router)
    items = b",".join([b'{"a":1}'] * TINY_OBJECTS)
    body = b'{"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}], "x": [' + items + b"]}"
    before = router.peak_rss_mib()
    done = threading.Event()
    health: list[float] = []

    def poll() -> None:
        with httpx.Client(timeout=60) as client:
            while not done.is_set() and len(health) < 10_000:
                t = time.monotonic()
                client.get(f"{router.url}/health")
                health.append(time.monotonic() - t)

    poller = threading.Thread(target=poll)
    poller.start()
    started = time.monotonic()
    response = httpx.post(f"{router.url}/v1/chat/completions", content=body, headers={"content-type": "application/json"}, timeout=120)
    seconds = time.monotonic() - started
    done.set()
    poller.join(60)
    message = response.json().get("error", {}).get("message", "") if response.status_code >= 400 else ""
    return {
        "body_mib": round(len(body) / MIB, 1),
        "answer": f"{response.status_code} {message[:80]}",
        "seconds": round(seconds, 2),
        "peak_rss_mib": f"{before:.0f} -> {router.peak_rss_mib():.0f}",
        "health_calls": len(health),
        "slowest_health_ms": round(max(health, default=0) * 1000, 1),
    }


def slowloris(router: Router) -> dict:
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 200
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", router.port)) as sock:
        for i in range(len(head)):
            if time.monotonic() - started > SLOWLORIS_SECONDS:
                return {"closed_by_router": False, "held_seconds": f">= {SLOWLORIS_SECONDS:.0f}", "bytes_sent": i}
            try:
                sock.sendall(head[i : i + 1])
                readable, _, _ = select.select([sock], [], [], 0.5)
                if readable and sock.recv(4096) == b"":
                    break
            except OSError:
                break
    return {"closed_by_router": True, "held_seconds": round(time.monotonic() - started, 1), "bytes_sent": i + 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--addons", type=Path, default=REPO / "addons", help="the addons folder holding router.py")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        emulator = start_emulator(scenario(), tmp)
        try:
            for name, measure, config in [
                ("chunked", chunked, {}),
                ("tiny-json", tiny_json, {}),
                ("slowloris", slowloris, {"server": {"header_timeout_seconds": 2}}),
            ]:
                try:
                    router = Router(args.addons, emulator.url, tmp, config)
                except RuntimeError:  # a router without the field: measure it with its defaults
                    router = Router(args.addons, emulator.url, tmp, {})
                try:
                    print(name, json.dumps(measure(router)), flush=True)
                finally:
                    router.stop()
        finally:
            emulator.stop()


if __name__ == "__main__":
    main()
