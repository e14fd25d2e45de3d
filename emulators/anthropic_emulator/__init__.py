"""Anthropic Messages API emulator for HPN Router: a strict, deterministic stand-in for api.anthropic.com on 127.0.0.1.

Tests, benchmarks and the demo mode talk to it instead of the real service.

Usage:
    python -m anthropic_emulator --port 0 --scenario configs/emulator/anthropic-test.yaml
    app = make_app(load_scenario("configs/emulator/anthropic-test.yaml"))   # in-process, e.g. with AppRunner
"""

from __future__ import annotations

from .scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from .server import make_app

__all__ = ["Scenario", "ScenarioError", "load_scenario", "make_app", "parse_scenario"]
