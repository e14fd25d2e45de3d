"""What the emulators' servers share: the admin endpoints the tests and the demo script
(never part of an emulated API), and a frame writer that can split frames like a slow network.

    GET  /_emulator/stats      what the emulator saw, per key
    POST /_emulator/reset      counters and per-key scripts back to the scenario's
    POST /_emulator/scenario   {"key_index": i, "behaviour": "...", "script": [...]}: one key's
                               behaviour and script (both optional; script defaults to [])
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web


class Scripted(Protocol):
    keys: Any  # a list of per-key states, each with `behaviour` and `script`

    def stats(self) -> Any: ...

    def reset(self) -> None: ...


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
