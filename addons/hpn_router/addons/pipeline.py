"""Pipeline: the router's addons as one mitmproxy addon, each hook dispatched from a table.

Usage (router.py):
    addons = [Pipeline([settings, log_redaction, interception, fail_closed, access, ...])]

mitmproxy calls every hook of every addon it knows: for each event it walks its own ~36 addons
and every addon a script lists, looks the hook up by name on each, and wraps each call in a
context manager. With the router's 23 addons listed one by one that walk is a large share of a
request's CPU. Registered as one addon, the router costs mitmproxy one lookup per event; the
Pipeline then calls the methods it collected once, at start: per hook a tuple of bound methods,
in the list's order.

Each call is guarded (docs/mitmproxy.md#hooks-must-not-raise): an exception is logged and the
flow gets the router's error (`hook_failed`), and the later addons still run, so one addon's bug
cannot skip the redaction at the end. mitmproxy's own signals (AddonHalt, OptionsError) pass
through as they would from a hook of its own. A hook is a coroutine function when one of its
addons' methods is, so mitmproxy awaits it; otherwise it stays a plain function, which
mitmproxy may call where it cannot await (`load`, a script's reload).

A flow answered in `request` (a cache hit, /health, an error, KeyRouting's non-streamed
answer, a failed hook's error) skips the rest of `request`: every later `request` hook handles
only flows nobody answered yet. It skips `responseheaders` too, which mitmproxy emulates for
such an answer right before `response`: the addons' `responseheaders` work is for answers whose
headers leave before their body (the relay's streams); what they do for every answer they do
in `response` as well. A flow answered before `request` (a 413 in `requestheaders`) still
meets every hook.

The addons are held in `members`, not `addons`: mitmproxy would walk an `addons` attribute
again for every event.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from mitmproxy import (
    addonmanager,  # noqa: F401  (defines the `load` hook)
    exceptions,
    hooks,
)
from mitmproxy.proxy import layers  # noqa: F401  (defines the HTTP, TCP, TLS, ... hooks)

from hpn_router.addons.failclosed import hook_failed

Handler = tuple[Any, Callable[..., Any], bool]  # (addon, bound method, is a coroutine function)
PASS_THROUGH = (exceptions.AddonHalt, exceptions.OptionsError)  # mitmproxy's signals, not failures


class Pipeline:
    def __init__(self, members: Sequence[Any]) -> None:
        self.members = list(members)
        self.handlers: dict[str, tuple[Handler, ...]] = {}
        # Flows answered in `request`, until their `response`: mitmproxy's emulated
        # `responseheaders` is skipped for them. Weak: a flow that ends otherwise just goes.
        self.answered_in_request: weakref.WeakSet[Any] = weakref.WeakSet()
        self.rebuild()

    def rebuild(self) -> None:
        """(Re)collects each hook's methods, in the members' order, and exposes one dispatcher
        per hook that at least one member has."""
        for name in self.handlers:
            delattr(self, name)
        self.handlers = {}
        for name in hooks.all_hooks:
            found = tuple(
                (addon, method, inspect.iscoroutinefunction(method))
                for addon in self.members
                if callable(method := getattr(addon, name, None))
            )
            if found:
                self.handlers[name] = found
                setattr(self, name, _dispatcher(name, found, self.answered_in_request))

    def __repr__(self) -> str:
        return f"Pipeline({', '.join(type(a).__name__ for a in self.members)})"


def _dispatcher(name: str, handlers: tuple[Handler, ...], answered: weakref.WeakSet[Any]) -> Callable[..., Any]:
    if name == "request":
        return _request_dispatcher(handlers, answered)
    dispatch = _plain_dispatcher(name, handlers)
    if name == "responseheaders":
        return _skipping_answered(dispatch, answered)
    if name in ("response", "error"):
        return _forgetting_answered(dispatch, answered)
    return dispatch


def _plain_dispatcher(name: str, handlers: tuple[Handler, ...]) -> Callable[..., Any]:
    if any(is_async for _, _, is_async in handlers):

        async def dispatch_async(*args: Any) -> None:
            for addon, method, is_async in handlers:
                try:
                    result = method(*args)
                    if is_async or (result is not None and inspect.isawaitable(result)):
                        await result
                except PASS_THROUGH:
                    raise
                except Exception as e:
                    hook_failed(addon, name, args, e)

        dispatch_async.__name__ = dispatch_async.__qualname__ = name
        return dispatch_async

    def dispatch(*args: Any) -> None:
        for addon, method, _ in handlers:
            try:
                method(*args)
            except PASS_THROUGH:
                raise
            except Exception as e:
                hook_failed(addon, name, args, e)

    dispatch.__name__ = dispatch.__qualname__ = name
    return dispatch


def _request_dispatcher(handlers: tuple[Handler, ...], answered: weakref.WeakSet[Any]) -> Callable[..., Any]:
    """`request`: stops at the addon that answers the flow, and notes the flow as answered."""
    if any(is_async for _, _, is_async in handlers):

        async def request_async(flow: Any) -> None:
            answered.discard(flow)  # a replay runs the same flow again
            unanswered = flow.response is None
            for addon, method, is_async in handlers:
                try:
                    result = method(flow)
                    if is_async or (result is not None and inspect.isawaitable(result)):
                        await result
                except PASS_THROUGH:
                    raise
                except Exception as e:
                    hook_failed(addon, "request", (flow,), e)
                if unanswered and flow.response is not None:
                    answered.add(flow)
                    return

        request_async.__name__ = request_async.__qualname__ = "request"
        return request_async

    def request(flow: Any) -> None:
        answered.discard(flow)
        unanswered = flow.response is None
        for addon, method, _ in handlers:
            try:
                method(flow)
            except PASS_THROUGH:
                raise
            except Exception as e:
                hook_failed(addon, "request", (flow,), e)
            if unanswered and flow.response is not None:
                answered.add(flow)
                return

    return request


def _skipping_answered(dispatch: Callable[..., Any], answered: weakref.WeakSet[Any]) -> Callable[..., Any]:
    """`responseheaders`: not for a flow answered in `request` (see the module's docstring)."""
    if inspect.iscoroutinefunction(dispatch):

        async def responseheaders_async(flow: Any) -> None:
            if flow not in answered:
                await dispatch(flow)

        responseheaders_async.__name__ = responseheaders_async.__qualname__ = "responseheaders"
        return responseheaders_async

    def responseheaders(flow: Any) -> None:
        if flow not in answered:
            dispatch(flow)

    return responseheaders


def _forgetting_answered(dispatch: Callable[..., Any], answered: weakref.WeakSet[Any]) -> Callable[..., Any]:
    """`response` and `error` end the flow: it leaves the answered set."""
    if inspect.iscoroutinefunction(dispatch):

        async def ending_async(flow: Any) -> None:
            answered.discard(flow)
            await dispatch(flow)

        ending_async.__name__ = ending_async.__qualname__ = dispatch.__name__
        return ending_async

    def ending(flow: Any) -> None:
        answered.discard(flow)
        dispatch(flow)

    ending.__name__ = ending.__qualname__ = dispatch.__name__
    return ending
