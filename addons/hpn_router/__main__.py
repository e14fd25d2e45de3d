"""Command-line helpers for run.sh.

Usage:
    python -m hpn_router check [CONFIG]      validate the config; print "HOST PORT" on success
    python -m hpn_router listeners [CONFIG]  validate the config for both listeners; print
                                             "HOST PORT PROXY_PORT PROXY_AUTH CONFDIR", PROXY_AUTH
                                             being "token" (client tokens set) or "none" (confdir
                                             last and expanded, so `read -r ... confdir` works)
    python -m hpn_router trust [CONFIG]      create mitmproxy's CA in server.confdir if missing and
                                             the bundle of this machine's trusted CAs plus it; print both paths
    python -m hpn_router run [ARGS...]       start mitmproxy with only the built-in addons the router needs
                                             (edge/runner.py); ARGS as for mitmdump, which it falls back to
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hpn_router.config import ConfigError, RouterConfig, load_config
from hpn_router.core.destinations import open_proxy_refusal


def trust(config: RouterConfig) -> str:
    from hpn_router.edge.cabundle import ensure_ca, write_bundle  # imports mitmproxy: only here

    confdir = Path(config.server.confdir).expanduser()
    return f"{ensure_ca(confdir)}\n{write_bundle(confdir)}"


def listeners(config: RouterConfig) -> str:
    """What run.sh opens: the reverse listener and the proxy listener, both on server.host.
    The proxy listener must not be an open proxy beyond loopback (core/destinations.py)."""
    server = config.server
    problem = open_proxy_refusal(server.host, has_client_tokens=bool(server.client_tokens), proxy_open=server.proxy_open)
    if problem:
        raise ConfigError(problem)
    auth = "token" if server.client_tokens else "none"
    return f"{server.host} {server.port} {server.proxy_port} {auth} {os.path.expanduser(server.confdir)}"


COMMANDS = {
    "check": lambda c: f"{c.server.host} {c.server.port}",
    "listeners": listeners,
    "trust": trust,
}


def main(argv: list[str]) -> int:
    if argv[:1] == ["run"]:
        from hpn_router.edge.runner import main as run  # imports mitmproxy: only here

        return run(argv[1:])
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    path = argv[1] if len(argv) > 1 else None
    try:
        config: RouterConfig = load_config(path, os.environ)
        output = COMMANDS[argv[0]](config)
    except ConfigError as e:
        print(f"hpn-router: invalid configuration: {e}", file=sys.stderr)
        return 1
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
