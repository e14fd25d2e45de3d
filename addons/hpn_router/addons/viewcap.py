"""ViewCap: keeps at most `server.mitmweb_max_flows` flows in mitmweb's (or the console's) view.

Usage:
    ./run.sh --web        # mitmweb with the router's addons; the cap comes from the config

mitmweb keeps every flow in memory (~3.6 MB per 1000 small flows, without bound:
docs/mitmproxy.md#mitmweb-keeps-every-flow). After each finished flow this addon removes the oldest finished flows
beyond the cap through the View's own API (`view.remove`), so the UI drops them too. Live
flows are never removed (removing kills them). mitmdump has no view: there it does nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from mitmproxy import ctx, flow, http, tcp

from hpn_router.config import RouterConfig, ServerConfig


def oldest_finished(flows: Iterable[flow.Flow], count: int) -> list[flow.Flow]:
    """The first `count` flows (oldest first, as the view stores them) that are not live."""
    done: list[flow.Flow] = []
    for f in flows:
        if len(done) >= count:
            break
        if not f.live:
            done.append(f)
    return done


class ViewCap:
    def __init__(self) -> None:
        self.max_flows = ServerConfig().mitmweb_max_flows

    def apply(self, config: RouterConfig) -> None:
        self.max_flows = config.server.mitmweb_max_flows
        self.trim()

    def trim(self) -> None:
        view = ctx.master.addons.get("view") if ctx.master else None
        if view is None:
            return
        excess = view.store_count() - self.max_flows
        if excess <= 0:
            return
        # _store is the View's insertion-ordered dict of every flow (stable 11.0.2 .. 13.x).
        for f in oldest_finished(view._store.values(), excess):
            view.remove([f])  # one at a time: a batch logs an alert in mitmweb's event list

    def response(self, _: http.HTTPFlow) -> None:
        self.trim()

    def error(self, _: http.HTTPFlow) -> None:
        self.trim()

    def tcp_end(self, _: tcp.TCPFlow) -> None:
        self.trim()
