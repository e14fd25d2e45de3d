"""bench/'s modules for the tests: bench/ is a folder of scripts, not a package."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[1] / "bench"


def load(name: str) -> ModuleType:
    """bench/<name>.py, imported once under its own name (bench.py imports its siblings so)."""
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_bench() -> ModuleType:
    """bench/bench.py itself, which imports its siblings (rounds, wrkload) from its own folder."""
    sys.path.insert(0, str(BENCH))
    try:
        return load("bench")
    finally:
        sys.path.remove(str(BENCH))
