"""CLI: serve the Anthropic emulator on a loopback address until SIGINT/SIGTERM (the shared
command line of emulator_kit/cli.py).

Usage:
    python -m anthropic_emulator --port 0 --scenario configs/emulator/anthropic-test.yaml [--host 127.0.0.1] [--quiet]

Once listening it prints exactly one line to stdout, `anthropic-emulator listening on
http://127.0.0.1:PORT`; access logs go to stderr and show method and path only.
"""

from __future__ import annotations

import argparse
import sys

from emulator_kit import cli

from .scenario import ScenarioError, load_scenario
from .server import make_app

EMULATOR = cli.Emulator(
    "anthropic-emulator",
    "Emulate the Anthropic Messages API on a loopback port.",
    lambda path: make_app(load_scenario(path)),
    ScenarioError,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return cli.parse_args(EMULATOR, argv)


def main(argv: list[str] | None = None) -> int:
    return cli.run(argv, EMULATOR)


if __name__ == "__main__":
    sys.exit(main())
