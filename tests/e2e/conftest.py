"""Fixtures for end-to-end tests: a real emulator and a real mitmdump with our addons,
driven with the official OpenAI SDK (max_retries=0, so the SDK's own retries hide nothing)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from procs import KEYS, Emulator, Router, scenario, start_emulator, start_router


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emu = start_emulator(scenario(), tmp_path_factory.mktemp("emulator"))
    yield emu
    emu.stop()


@pytest.fixture
def make_router(emulator: Emulator, tmp_path) -> Iterator[Callable[..., Router]]:
    """A fresh router per test (pool state starts clean); the emulator is reset too."""
    emulator.reset()
    started: list[Router] = []

    def make(keys: list[str] | None = None, config: dict | None = None, **kw: object) -> Router:
        router = start_router(tmp_path, keys=keys or KEYS[:3], gemini_url=emulator.url, config=config, **kw)  # type: ignore[arg-type]
        started.append(router)
        return router

    yield make
    for router in started:
        router.stop()
