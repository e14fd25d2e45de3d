"""CLI: serve the Gemini emulator on a loopback port (the command line of emulator_kit/cli.py).

Usage:
    python -m gemini_emulator --port 0 --scenario configs/emulator/demo.yaml [--host 127.0.0.1] [--quiet]
"""

from __future__ import annotations

import sys

from emulator_kit import cli

from .scenario import ScenarioError, load_scenario
from .server import make_app

EMULATOR = cli.Emulator(
    "gemini-emulator", "Emulate the Gemini API on a loopback port.", lambda path: make_app(load_scenario(path)), ScenarioError
)


def main(argv: list[str] | None = None) -> int:
    return cli.run(argv, EMULATOR)


if __name__ == "__main__":
    sys.exit(main())
