"""HookTable: mitmproxy's addon manager, calling an event only on the addons that handle it.

Usage:
    self.addons = HookTable(self)        # a master of our own (the lean runner)
    adopt(loader.master.addons)          # mitmdump's or mitmweb's master, from an addon's `load`

mitmproxy walks every addon (and its children) for every event of every flow, in a guarded
call each, although most addons handle two or three events: under mitmdump (about 36 built-in
addons) that walk was a quarter of the router's CPU. Which addons handle an event changes only
when one is registered, added or removed (scripts too: their module is registered when it
loads, removed before it reloads) or when the options change (the script loader reorders its
scripts then), so the answer is kept per event name until then: each top-level addon that
handles it, with the objects in its tree (itself, its children) that do. An event's arguments
are read once, not once per addon; each handler is still looked up by name when it is called,
as mitmproxy does. Within a top-level addon the semantics are mitmproxy's: its tree in order,
async handlers awaited, an error logged as mitmproxy's guard logs it, AddonHalt ending the
event. The synchronous `trigger` (configure, from option changes) stays mitmproxy's own.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, cast

from mitmproxy import addonmanager, exceptions, flow, hooks, master


class HookTable(addonmanager.AddonManager):
    _handlers: dict[str, list[tuple[Any, tuple[Any, ...]]]]

    def __init__(self, master: master.Master) -> None:
        super().__init__(master)
        self._start_table()

    def _start_table(self) -> None:
        self._handlers = {}
        # After the manager's own `_configure_all`: the script loader reorders its scripts
        # during `configure`, without registering anything.
        self.master.options.changed.connect(self._forget_on_change)

    def _forget_on_change(self, updated: Any) -> None:  # named as options.changed passes it
        self._handlers.clear()

    def register(self, addon: Any) -> Any:
        self._handlers.clear()
        return super().register(addon)

    def add(self, *addons: Any) -> None:
        super().add(*addons)
        self._handlers.clear()

    def remove(self, addon: Any) -> None:
        self._handlers.clear()
        super().remove(addon)

    def clear(self) -> None:
        self._handlers.clear()
        super().clear()

    def handlers(self, event: hooks.Hook) -> list[Any]:
        """The top-level addons with a handler for `event` somewhere in their tree, in order."""
        return [addon for addon, _ in self._owners(event.name)]

    def _owners(self, name: str) -> list[tuple[Any, tuple[Any, ...]]]:
        found = self._handlers.get(name)
        if found is None:
            found = self._handlers[name] = [(a, owners) for a in self.chain if (owners := _owners(a, name))]
        return found

    async def handle_lifecycle(self, event: hooks.Hook) -> None:
        """mitmproxy's: the event, then for a flow's event `update` with that flow (mitmweb's view
        refreshes on it). Here `update` is built and sent only when some addon handles it: under
        mitmdump and the lean runner none does, and the proxy calls this for every hook of every flow."""
        await self.trigger_event(event)
        args = _args(event)
        if args and isinstance(args[0], flow.Flow) and self._owners("update"):
            await self.trigger_event(hooks.UpdateHook([args[0]]))

    async def trigger_event(self, event: hooks.Hook) -> None:
        name, args = event.name, _args(event)
        for _, owners in self._owners(name):
            try:
                for owner in owners:
                    result = getattr(owner, name)(*args)
                    if result is not None and inspect.isawaitable(result):
                        await result
            except exceptions.AddonHalt:
                return
            except Exception as e:
                _log_like_mitmproxy(e)


def adopt(manager: addonmanager.AddonManager) -> bool:
    """Turns a master's own AddonManager, with every addon it holds, into a HookTable in place
    (mitmdump and mitmweb build theirs before any script loads). False, and untouched, when it
    is some other subclass, whose dispatch we do not know; True when it is a HookTable now."""
    if isinstance(manager, HookTable):
        return True
    if type(manager) is not addonmanager.AddonManager:
        return False
    manager.__class__ = HookTable
    cast(HookTable, manager)._start_table()
    return True


def _args(event: hooks.Hook) -> list[Any]:
    """`event.args()`, with each hook class's field names looked up once: `Hook.args` asks
    `dataclasses.fields` for them at every event."""
    names = _ARG_NAMES.get(type(event))
    if names is None:
        names = _ARG_NAMES[type(event)] = tuple(f.name for f in dataclasses.fields(event))  # type: ignore[arg-type]
    return [getattr(event, n) for n in names]


_ARG_NAMES: dict[type, tuple[str, ...]] = {}


def _log_like_mitmproxy(error: Exception) -> None:
    """mitmproxy's guard around a hook: logs the error (`Addon error: ...`), lets its own
    signals (OptionsError) through."""
    with addonmanager.safecall():
        raise error


def _owners(addon: Any, hook: str) -> tuple[Any, ...]:
    """The objects in the addon's tree (it and its children, mitmproxy's order) with a handler for the hook."""
    return tuple(a for a in addonmanager.traverse([addon]) if callable(getattr(a, hook, None)))
