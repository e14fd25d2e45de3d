"""Command-line helpers for run.sh.

Usage:
    python -m hpn_router check [CONFIG]    validate the config; print "HOST PORT" on success
"""

from __future__ import annotations

import os
import sys

from hpn_router.config import ConfigError, load_config


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "check":
        print(__doc__, file=sys.stderr)
        return 2
    path = argv[1] if len(argv) > 1 else None
    try:
        config = load_config(path, os.environ)
    except ConfigError as e:
        print(f"hpn-router: invalid configuration: {e}", file=sys.stderr)
        return 1
    print(config.server.host, config.server.port)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
