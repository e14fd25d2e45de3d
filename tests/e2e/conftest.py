"""Fixtures for end-to-end tests: a real emulator and a real mitmdump with our addons,
driven with the official OpenAI SDK (max_retries=0, so the SDK's own retries hide nothing)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import openai
import procs
import pytest
from procs import (
    ANTHROPIC_KEYS,
    EGRESS_MARKER,
    KEYS,
    MISTRAL_KEYS,
    STARTED,
    Emulator,
    RedisServer,
    Router,
    client_for,
    scenario,
    start_anthropic_emulator,
    start_emulator,
    start_mistral_emulator,
    start_redis,
    start_router,
)

_log_offsets: dict[str, int] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before the test's fixtures start routers: a test marked `single_process` (or a module with
    that mark) keeps its routers in one process under HPN_TEST_WORKERS (tests/procs.py)."""
    marker = item.get_closest_marker("single_process")
    procs.single_process_reason = (marker.kwargs.get("reason") or "marked") if marker else None


@pytest.fixture(autouse=True)
def egress_guard() -> Iterator[None]:
    """Fails the test if a router reported a connection outside 127.0.0.0/8 meanwhile
    (tests/guard_addon.py, which start_router loads into every router)."""
    yield
    blocked = []
    for router in STARTED:
        text = router.log()
        start, _log_offsets[str(router.log_path)] = _log_offsets.get(str(router.log_path), 0), len(text)
        blocked += [line for line in text[start:].splitlines() if EGRESS_MARKER in line]
    if blocked:
        pytest.fail("a router tried to leave the loopback range:\n" + "\n".join(blocked[:20]), pytrace=False)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emu = start_emulator(scenario(), tmp_path_factory.mktemp("emulator"))
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def mistral(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """The Mistral emulator with MISTRAL_KEYS (an organization each; scripted 429s say Retry-After: 30)."""
    keys = [{"key": k, "organization": f"org-{i}", "retry_after": 30} for i, k in enumerate(MISTRAL_KEYS)]
    emu = start_mistral_emulator({"keys": keys}, tmp_path_factory.mktemp("mistral"))
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def claude_emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """The Anthropic emulator with ANTHROPIC_KEYS (keys 0 and 1 in org-a, key 2 in org-b; 429s say retry-after: 30)."""
    organizations = ["org-a", "org-a", "org-b"]
    keys = [{"key": k, "organization": org, "retry_after": 30} for k, org in zip(ANTHROPIC_KEYS, organizations, strict=True)]
    emu = start_anthropic_emulator({"keys": keys}, tmp_path_factory.mktemp("anthropic"))
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


@pytest.fixture(scope="module")
def shared_router(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    """One router for a module's tests (three keys, default config) on the module's emulator;
    a module may override either fixture."""
    router = start_router(tmp_path_factory.mktemp("router"), keys=KEYS[:3], gemini_url=emulator.url)
    yield router
    router.stop()


@pytest.fixture
def router(shared_router: Router, emulator: Emulator, tmp_path) -> Iterator[Router]:
    """The module's router, with the emulator's counters and scripts reset for this test. Under
    HPN_TEST_WORKERS a test marked single_process gets the same router as one process of its own."""
    emulator.reset()
    if procs.single_process_reason is None or shared_router.workers == 1 or shared_router.started_with is None:
        yield shared_router
        return
    alone = start_router(tmp_path, **shared_router.started_with)
    yield alone
    alone.stop()


@pytest.fixture
def client(router: Router) -> openai.OpenAI:
    """The official OpenAI SDK on the module's router (max_retries=0: no retry hides a bug)."""
    return client_for(router)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of the module's own (tests/procs.py start_redis): the shared-state tests'
    routers point at it; a module that needs it prepared defines its own."""
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()
