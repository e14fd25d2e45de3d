"""Command-line helpers for run.sh.

Usage:
    python -m hpn_router check [CONFIG]      validate the config; print "HOST PORT" on success
    python -m hpn_router listeners [CONFIG]  validate the config; print
                                             "HOST PORT PROXY_PORT CONFDIR" (confdir last and
                                             expanded, so `read -r host port proxy confdir` works)
    python -m hpn_router trust [CONFIG]      create mitmproxy's CA in server.confdir if missing and
                                             the bundle of this machine's trusted CAs plus it; print both paths
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hpn_router.config import ConfigError, RouterConfig, load_config


def trust(config: RouterConfig) -> str:
    from hpn_router.cabundle import ensure_ca, write_bundle  # imports mitmproxy: only here

    confdir = Path(config.server.confdir).expanduser()
    return f"{ensure_ca(confdir)}\n{write_bundle(confdir)}"


COMMANDS = {
    "check": lambda c: f"{c.server.host} {c.server.port}",
    "listeners": lambda c: f"{c.server.host} {c.server.port} {c.server.proxy_port} {os.path.expanduser(c.server.confdir)}",
    "trust": trust,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    path = argv[1] if len(argv) > 1 else None
    try:
        config: RouterConfig = load_config(path, os.environ)
    except ConfigError as e:
        print(f"hpn-router: invalid configuration: {e}", file=sys.stderr)
        return 1
    print(COMMANDS[argv[0]](config))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
