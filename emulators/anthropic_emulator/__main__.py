"""CLI: serve the Anthropic emulator on a loopback address until SIGINT/SIGTERM.

Usage:
    python -m anthropic_emulator --port 0 --scenario configs/emulator/anthropic-test.yaml [--host 127.0.0.1] [--quiet]

Once listening it prints exactly one line to stdout, `anthropic-emulator listening on
http://127.0.0.1:PORT` (port 0 picks a free port), so scripts can read the address.
Access logs go to stderr and show method and path only: no header (so no key) reaches a log.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal
import sys

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .scenario import ScenarioError, load_scenario
from .server import make_app

_LOG = logging.getLogger("anthropic_emulator.access")


class _PathOnlyAccessLogger(AbstractAccessLogger):
    """Logs `METHOD /path STATUS seconds`; the query string (which may hold a key) is left out."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %.3fs", request.method, request.path, response.status, time)


def _loopback(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        is_loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_loopback = False
    if not is_loopback:
        raise argparse.ArgumentTypeError(f"{host!r} is not a loopback address; the emulator serves 127.0.0.1 only")
    return host


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="anthropic_emulator", description="Emulate the Anthropic Messages API on a loopback port.")
    parser.add_argument("--scenario", required=True, help="scenario YAML (keys, behaviours, latency)")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one (default)")
    parser.add_argument("--host", type=_loopback, default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--quiet", action="store_true", help="no access log on stderr")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    app = make_app(load_scenario(args.scenario))
    runner = web.AppRunner(
        app,
        access_log_class=_PathOnlyAccessLogger,
        access_log=None if args.quiet else _LOG,
        handler_cancellation=True,
        shutdown_timeout=1.0,
    )
    await runner.setup()
    await web.TCPSite(runner, args.host, args.port).start()
    port = runner.addresses[0][1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"anthropic-emulator listening on http://{host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.quiet:
        logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        asyncio.run(serve(args))
    except ScenarioError as e:
        print(f"anthropic-emulator: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
