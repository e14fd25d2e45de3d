"""The lean runner: the router in a mitmproxy Master with only the built-in addons it uses.

mitmdump loads about 36 built-in addons and calls every hook on each of them for every event
of every flow; most (replay, map local/remote, sticky cookies, anticache, the flow printer, ...)
are idle for the router, yet their dispatch is a large share of its CPU per request. This
runner starts the same master loop (mitmproxy's own `tools.main.run`: signals, option files,
the start-up error check) with the built-in addons that matter to a router in reverse and
regular mode, in mitmdump's relative order, and loads `-s` scripts like mitmdump does. Its
HookTable (edge/hooktable.py) calls each event only on the addons that handle it.

It takes the arguments ./run.sh passes (`--mode`, `--set`, `-s`, `-w`, `-q`). For any other
argument, or a `--set` of an option only a missing built-in addon knows (`anticache`,
`map_local`, `flow_detail=1`, ...), it replaces itself with mitmdump and the same arguments, so
nothing a user asks for is silently ignored.

Usage (from run.sh):
    python -m hpn_router run -s addons/router.py --mode reverse:https://...@127.0.0.1:8080 \
        --mode regular@127.0.0.1:8888 --set confdir=...
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from mitmproxy import master, options
from mitmproxy.addons import (
    block,
    core,
    disable_h2c,
    dns_resolver,
    errorcheck,
    next_layer,
    onboarding,
    proxyserver,
    save,
    script,
    termlog,
    tlsconfig,
    update_alt_svc,
    upstream_auth,
)
from mitmproxy.tools import main as mitmproxy_main

from hpn_router.edge import workers
from hpn_router.edge.hooktable import HookTable
from hpn_router.edge.reversefront import FrontedProxyserver, ReverseFront, front_wanted

# The runner never prints flows: that is mitmdump's `flow_detail=0`, which run.sh passes.
QUIET_FLOWS = ("flow_detail", "0")


class UnsupportedArguments(Exception):
    """Arguments the lean runner does not handle; mitmdump does."""


def _parser() -> argparse.ArgumentParser:
    # No abbreviations: `--mo` must not pass for `--mode` here when mitmdump would read it otherwise.
    parser = argparse.ArgumentParser(prog="hpn-router run", add_help=False, allow_abbrev=False)
    parser.add_argument("-m", "--mode", action="append", dest="mode")
    parser.add_argument("--set", action="append", dest="setoptions", default=[])
    parser.add_argument("-s", "--scripts", action="append", dest="scripts")
    parser.add_argument("-w", "--save-stream-file", dest="save_stream_file")
    parser.add_argument("-q", "--quiet", action="store_true", dest="quiet")
    # What mitmproxy's option processing reads from every tool's arguments.
    parser.set_defaults(version=False, options=False, commands=False, verbose=False)
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The arguments, or UnsupportedArguments naming the ones this runner does not take."""
    parser = _parser()
    try:
        args, unknown = parser.parse_known_args(list(argv))
    except SystemExit:  # a supported flag without its value: mitmdump reports it in its words
        raise UnsupportedArguments("incomplete arguments") from None
    if unknown:
        raise UnsupportedArguments(" ".join(unknown))
    return args


def saves_flows(args: argparse.Namespace) -> bool:
    """-w, or --set save_stream_file=...: the Save addon is loaded only then."""
    return bool(args.save_stream_file) or any(s.split("=", 1)[0].strip().startswith("save_stream_") for s in args.setoptions)


def builtin_addons(*, save_flows: bool, front: ReverseFront | None = None) -> list[Any]:
    """mitmdump's built-in addons the router relies on, in mitmdump's order. Scripts come
    before Save, as in mitmdump, so the router scrubs a flow before `-w` writes it."""
    return [
        core.Core(),  # options, commands, mode checks
        block.Block(),  # block_global: on 0.0.0.0, clients from public addresses are refused, as in mitmdump
        disable_h2c.DisableH2C(),
        onboarding.Onboarding(),  # http://mitm.it through the proxy listener: the CA for devices
        # the listeners, connection_strategy, body_size_limit, stream_large_bodies
        FrontedProxyserver(front) if front is not None else proxyserver.Proxyserver(),
        dns_resolver.DnsResolver(),
        script.ScriptLoader(),  # -s: router.py and any other script, hot-reloaded like in mitmdump
        next_layer.NextLayer(),
        *([save.Save()] if save_flows else []),
        tlsconfig.TlsConfig(),  # the CA in confdir, TLS to Gemini and on intercepted proxy tunnels
        upstream_auth.UpstreamAuth(),
        update_alt_svc.UpdateAltSvc(),
    ]


class _OptionNames:
    """Stands in for mitmproxy's addon loader to collect the option names addons declare."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def add_option(self, name: str, *_: object, **__: object) -> None:
        self.names.add(name)

    def add_command(self, *_: object, **__: object) -> None:
        pass


def option_names(addons: Iterable[Any]) -> set[str]:
    names = _OptionNames()
    for addon in addons:
        if hasattr(addon, "load"):
            addon.load(names)
    return names.names


def mitmdump_options() -> set[str]:
    """Every option mitmdump's own addons declare."""
    from mitmproxy.addons import default_addons, dumper, keepserving, readfile

    return option_names([*default_addons(), dumper.Dumper(), keepserving.KeepServing(), readfile.ReadFileStdin()])


def only_in_mitmdump(deferred: dict[str, Any], lean_options: Iterable[str], dump_options: set[str]) -> list[str]:
    """The --set options the lean master lacks but mitmdump has (the rest are the scripts' own
    options, set once the scripts declare them, or typos mitmdump ignores as well)."""
    lean = set(lean_options)
    return sorted(name for name, value in deferred.items() if name in dump_options - lean and (name, _last(value)) != QUIET_FLOWS)


def _last(deferred_value: Any) -> str:
    """The value given last on the command line (mitmproxy defers the raw strings, `.val`)."""
    values = getattr(deferred_value, "val", [deferred_value])
    return str(values[-1]) if values else ""


def run_mitmdump(argv: Sequence[str], reason: str) -> NoReturn:
    """Replaces this process with mitmdump and the same arguments."""
    program = Path(sys.executable).parent / "mitmdump"
    print(f"hpn-router: the lean runner does not take {reason}; starting mitmdump instead", file=sys.stderr, flush=True)
    os.execv(program, [str(program), *argv])


class InFlight:
    """The client requests a worker has read and not yet answered, so it can drain on SIGTERM."""

    def __init__(self) -> None:
        self.flows: set[str] = set()

    def requestheaders(self, flow: Any) -> None:
        self.flows.add(flow.id)

    def response(self, flow: Any) -> None:
        self.flows.discard(flow.id)

    def error(self, flow: Any) -> None:
        self.flows.discard(flow.id)


class WorkerTag(logging.Filter):
    """Prefixes mitmproxy's own log lines with the worker's number (the router's lines carry a
    `worker` field instead)."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.prefix = f"worker {index}: "

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and not record.msg.startswith(self.prefix):
            record.msg = self.prefix + record.msg
        return True


class LeanMaster(master.Master):
    def __init__(self, opts: options.Options, *, argv: Sequence[str], save_flows: bool, worker: int | None = None) -> None:
        super().__init__(opts)
        self.addons = HookTable(self)  # in place of the manager Master made, still empty
        self._termlog_addon = termlog.TermLog()  # first, as Master(with_termlog=True) adds it
        self.addons.add(self._termlog_addon)
        self.argv = list(argv)
        self.worker = worker
        self.in_flight = InFlight()
        self._draining = False
        self._drain_task: asyncio.Future[None] | None = None
        self.front = ReverseFront(self, reuse_port=worker is not None) if front_wanted() else None
        self.addons.add(*builtin_addons(save_flows=save_flows, front=self.front))
        # Last, as in mitmdump; an error logged during start-up (bad config, port in use) exits 1.
        # Made here, not in builtin_addons: it watches the log from the moment it exists.
        self.addons.add(errorcheck.ErrorCheck())
        if worker is not None:
            self.addons.add(self.in_flight)
            for handler in logging.getLogger().handlers:
                handler.addFilter(WorkerTag(worker))

    def shutdown(self) -> None:
        """A worker drains first: it stops accepting, lets its in-flight requests finish (for at
        most workers.DRAIN_SECONDS), then exits. Later signals change nothing: Ctrl-C reaches a
        worker both from the terminal and from its supervisor."""
        if self.worker is None:
            super().shutdown()
            return
        if not self._draining:
            self._draining = True
            self.event_loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        self._drain_task = asyncio.ensure_future(self._drain())  # kept: a task nobody holds may be collected

    async def _drain(self) -> None:
        try:
            if proxyserver_addon := self.addons.get("proxyserver"):
                await proxyserver_addon.servers.update([])  # close the listeners: new connections go to other workers
            if self.front is not None:
                await self.front.close()
            deadline = self.event_loop.time() + workers.DRAIN_SECONDS
            while self.in_flight.flows and self.event_loop.time() < deadline:
                await asyncio.sleep(0.05)
        finally:
            super().shutdown()

    async def run(self) -> None:
        # The --set options are applied by now; scripts load once the loop runs, so what is
        # still deferred is a script's option, a typo, or one of mitmdump's that we lack.
        if self.options.deferred:
            missing = only_in_mitmdump(self.options.deferred, self.options.keys(), mitmdump_options())
            if missing:
                run_mitmdump(self.argv, "the option " + ", ".join(missing))  # from --set or confdir/config.yaml
        await super().run()


def _set_option(args: argparse.Namespace, name: str) -> str | None:
    """The value of the last `--set name=value`, if any."""
    values = [s.split("=", 1)[1] for s in args.setoptions if "=" in s and s.split("=", 1)[0].strip() == name]
    return values[-1] if values else None


def worker_count(args: argparse.Namespace) -> tuple[int, Any]:
    """server.workers from the config the router will load (`--set hpn_config`, HPN_CONFIG or
    configs/config.yaml), and that config; (1, None) when it does not load: the router
    itself then reports the problem, in one process."""
    from hpn_router.addons.settings import DEFAULT_CONFIG
    from hpn_router.config import ConfigError, load_config

    path = _set_option(args, "hpn_config") or (str(DEFAULT_CONFIG) if DEFAULT_CONFIG.is_file() else None)
    try:
        config = load_config(path, os.environ)
    except ConfigError:
        return 1, None
    return config.server.workers, config


def supervise(argv: Sequence[str], args: argparse.Namespace, config: Any) -> int:
    """Create the CA once (workers would race to), then run config.server.workers workers."""
    from hpn_router.core.redact import Redactor
    from hpn_router.edge.cabundle import ensure_ca
    from hpn_router.edge.logsetup import configure_logging

    configure_logging(level=config.logging.level, fmt=config.logging.format, redactor=Redactor(config.named_keys()))
    ensure_ca(Path(_set_option(args, "confdir") or options.CONF_DIR).expanduser())
    command = [sys.executable, "-m", "hpn_router", "run", *argv]
    return workers.Supervisor(command, config.server.workers).run()


def main(argv: Sequence[str]) -> int:
    try:
        args = parse_args(argv)
    except UnsupportedArguments as e:
        run_mitmdump(argv, str(e))
    index = workers.worker_index()
    if index is None:
        count, config = worker_count(args)
        if count > 1:
            return supervise(argv, args, config)
    else:
        workers.share_listening_ports()  # before mitmproxy binds its listeners
        from loguru import logger

        logger.configure(extra={"worker": index})
    save_flows = saves_flows(args)
    mitmproxy_main.run(
        lambda opts: LeanMaster(opts, argv=argv, save_flows=save_flows, worker=index),  # type: ignore[arg-type]
        lambda _opts: _parser(),
        list(argv),
    )
    return 0
