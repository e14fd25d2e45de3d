"""What the emulators' servers share: the per-key runtime state (`ScriptedEmulator`: behaviours,
scripts, the request log, `hang`), the admin endpoints the tests and the demo script use (never
part of an emulated API), and a frame writer that can split frames like a slow network.

    GET  /_emulator/stats      what the emulator saw, per key
    POST /_emulator/reset      counters and per-key scripts back to the scenario's
    POST /_emulator/scenario   {"key_index": i, "behaviour": "...", "script": [...]}: one key's
                               behaviour and script (both optional; script defaults to [])
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web


class Scripted(Protocol):
    keys: Any  # a list of per-key states, each with `behaviour` and `script`

    def stats(self) -> Any: ...

    def reset(self) -> None: ...


@dataclass(slots=True)
class KeyState:
    spec: Any  # the emulator's KeySpec
    behaviour: str
    script: deque[str]


class ScriptedEmulator:
    """Runtime state every emulator has: each key's behaviour and script, the request log, and
    `closing`, set at shutdown so that hung requests end. A subclass sets KEY_BEHAVIOURS (the
    behaviours that describe the key itself, noticed by every request) and extends `reset`."""

    KEY_BEHAVIOURS: frozenset[str] = frozenset()

    def __init__(self, scenario: Any, clock: Callable[[], float]) -> None:
        self.scenario, self.clock = scenario, clock
        self.key_index = {spec.key: i for i, spec in enumerate(scenario.keys)}
        self.closing = asyncio.Event()
        self.reset()

    def reset(self) -> None:
        """Back to the loaded scenario: behaviours, scripts and the log."""
        self.keys = [KeyState(s, s.behaviour, deque(s.script)) for s in self.scenario.keys]
        self.log: list[dict[str, Any]] = []
        self.seq = 0

    def next_behaviour(self, index: int, call: bool) -> str:
        """What key `index` does now; a request that is no call (the models endpoints) only
        notices what is wrong with the key itself, and consumes no script entry."""
        state = self.keys[index]
        if not call:
            return state.behaviour if state.behaviour in self.KEY_BEHAVIOURS else "ok"
        return state.script.popleft() if state.script else state.behaviour

    def stats(self) -> dict[str, Any]:
        by_key: dict[str, int] = {}
        for entry in self.log:
            by_key[str(entry["key_index"])] = by_key.get(str(entry["key_index"]), 0) + 1
        return {"requests": list(self.log), "by_key": by_key}

    async def hang(self, ex: Any) -> web.StreamResponse:
        """Never answer `ex.request`; give up only when the client goes away or the app shuts down."""
        while not self.closing.is_set() and ex.request.transport is not None:
            with contextlib.suppress(TimeoutError):  # wake up every 50 ms to notice a departed client
                await asyncio.wait_for(self.closing.wait(), 0.05)
        return drop(ex.request)

    async def shutdown(self, _app: web.Application) -> None:
        self.closing.set()


def drop(request: web.Request) -> web.Response:
    """Close the connection without an answer."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=444)  # never sent (nginx's "closed without response"); only the access log sees it


def add_admin_routes(app: web.Application, key: web.AppKey[Any], check_behaviour: Callable[[object, str], None]) -> None:
    """`key` holds the app's emulator; `check_behaviour(value, where)` raises ValueError for a
    behaviour this emulator does not know."""

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(request.app[key].stats())

    async def reset(request: web.Request) -> web.Response:
        request.app[key].reset()
        return web.json_response({"reset": True})

    async def set_behaviour(request: web.Request) -> web.Response:
        emu: Scripted = request.app[key]
        try:
            body = await request.json()
            index = body["key_index"]
            if not isinstance(index, int) or not 0 <= index < len(emu.keys):
                raise ValueError(f"key_index: must be 0..{len(emu.keys) - 1}")
            behaviour = body.get("behaviour", emu.keys[index].behaviour)
            check_behaviour(behaviour, "behaviour")
            script = body.get("script") or []
            for i, step in enumerate(script):
                check_behaviour(step, f"script[{i}]")
        except (ValueError, KeyError, TypeError) as e:
            return web.json_response({"error": str(e)}, status=400)
        emu.keys[index].behaviour, emu.keys[index].script = behaviour, deque(script)
        return web.json_response({"key_index": index, "behaviour": behaviour, "script": script})

    app.router.add_get("/_emulator/stats", stats)
    app.router.add_post("/_emulator/reset", reset)
    app.router.add_post("/_emulator/scenario", set_behaviour)


async def write_frame(response: web.StreamResponse, frame: bytes, split: bool) -> None:
    """One stream frame; `split`: in two writes with a pause, so a client sees half an event."""
    if not split:
        await response.write(frame)
        return
    half = len(frame) // 2
    await response.write(frame[:half])
    await asyncio.sleep(0.005)  # let the first half leave as its own TCP segment / chunk
    await response.write(frame[half:])
