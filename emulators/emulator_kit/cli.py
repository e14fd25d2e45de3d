"""The command line every emulator shares: serve one emulator on a loopback address until
SIGINT/SIGTERM.

Once listening it prints exactly one line to stdout, `<name> listening on http://HOST:PORT`,
so a test or script can read the port it picked (`--port 0`). Access logs go to stderr and
show method and path only: no query string and no header, so no key, reaches a log.

Usage (an emulator's `__main__.py`):
    def main(argv=None) -> int:
        return run(argv, Emulator("gemini-emulator", "Emulate the Gemini API on a loopback port.",
                                  lambda path: make_app(load_scenario(path)), ScenarioError))
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


@dataclass(frozen=True)
class Emulator:
    name: str  # "gemini-emulator": the banner, the error prefix, the logger
    description: str
    make_app: Callable[[str], web.Application]  # the scenario file's path -> the app
    scenario_error: type[Exception]  # a bad scenario: printed, exit 2


class _PathOnlyAccessLogger(AbstractAccessLogger):
    """Logs `METHOD /path STATUS seconds`; the query string (which may hold a key) is left out."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %.3fs", request.method, request.path, response.status, time)


def loopback(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        is_loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_loopback = False
    if not is_loopback:
        raise argparse.ArgumentTypeError(f"{host!r} is not a loopback address; the emulator serves 127.0.0.1 only")
    return host


def parse_args(emulator: Emulator, argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=emulator.name.replace("-", "_"), description=emulator.description)
    parser.add_argument("--scenario", required=True, help="scenario YAML (keys, behaviours, latency)")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one (default)")
    parser.add_argument("--host", type=loopback, default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--quiet", action="store_true", help="no access log on stderr")
    return parser.parse_args(argv)


async def serve(emulator: Emulator, args: argparse.Namespace) -> None:
    runner = web.AppRunner(
        emulator.make_app(args.scenario),
        access_log_class=_PathOnlyAccessLogger,
        access_log=None if args.quiet else logging.getLogger(f"{emulator.name}.access"),
        handler_cancellation=True,
        shutdown_timeout=1.0,
    )
    await runner.setup()
    await web.TCPSite(runner, args.host, args.port).start()
    port = runner.addresses[0][1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"{emulator.name} listening on http://{host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def run(argv: list[str] | None, emulator: Emulator) -> int:
    args = parse_args(emulator, argv)
    if not args.quiet:
        logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        asyncio.run(serve(emulator, args))
    except emulator.scenario_error as e:
        print(f"{emulator.name}: {e}", file=sys.stderr)
        return 2
    return 0
