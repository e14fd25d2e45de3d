"""Health: answers `GET /health` from the router itself and counts answered requests."""

from __future__ import annotations

import time
from collections.abc import Callable

from mitmproxy import http

from hpn_router.addons import meta
from hpn_router.addons.answers import answer_json, is_client_flow
from hpn_router.addons.flowcontext import context
from hpn_router.core.pricing import format_usd
from hpn_router.core.routes import Endpoint, match
from hpn_router.core.state import RouterState


class Health:
    def __init__(self, state: RouterState, *, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self.clock = clock

    def request(self, flow: http.HTTPFlow) -> None:
        if not is_client_flow(flow):
            return
        if match(flow.request.method, flow.request.path).endpoint is Endpoint.HEALTH:
            full = context(flow).full_health
            answer_json(flow, 200, self.snapshot() if full else {"status": self.snapshot()["status"]})

    def snapshot(self) -> dict[str, object]:
        # Without its Redis a router still serves, from its own pool state: degraded, not down.
        healthy = self.state.active_keys() and self.state.redis != "down"
        shared = {} if self.state.redis is None else {"redis": self.state.redis}
        return {
            "status": "healthy" if healthy else "degraded",
            **shared,
            "active_keys": self.state.active_keys(),
            "unanswered_keys": self.state.pool.unanswered_count(self.clock()) if self.state.pool else 0,
            "total_requests": self.state.total_requests,
            "total_saved": format_usd(self.state.total_saved, places=2),
        }

    def response(self, flow: http.HTTPFlow) -> None:
        if context(flow).route is not None and not meta.is_attempt(flow):
            self.state.total_requests += 1
