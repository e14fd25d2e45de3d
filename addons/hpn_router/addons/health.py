"""Health: answers `GET /health` from the router itself and counts answered requests.

With Redis (`state.redis_url`) the totals a client sees are every router's: before answering,
/health has every router push what it counted since its last push (SharedPoolState.fresh_totals,
bounded), so a request answered by another worker or router is in them. Only for a caller who
sees the totals: an anonymous probe (status only) costs no Redis round trip.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from mitmproxy import http

from hpn_router.addons import meta
from hpn_router.addons.answers import answer_json, is_client_flow
from hpn_router.addons.flowcontext import context
from hpn_router.addons.sharedstate import SharedPoolState
from hpn_router.core.pricing import format_usd
from hpn_router.core.routes import Endpoint, match
from hpn_router.core.state import RouterState


class Health:
    def __init__(
        self,
        state: RouterState,
        *,
        worker: int | None = None,
        clock: Callable[[], float] = time.time,
        shared: SharedPoolState | None = None,
    ) -> None:
        self.state = state
        self.worker = worker  # under `server.workers` > 1 each worker answers for itself and says which it is
        self.clock = clock
        self.shared = shared  # every router's totals, with Redis

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        """Synchronous unless the totals shown are to be gathered from every router first."""
        if not is_client_flow(flow) or match(flow.request.method, flow.request.path).endpoint is not Endpoint.HEALTH:
            return None
        if context(flow).full_health and self.shared is not None and self.shared.redis_store() is not None:
            return self._answer_with_shared_totals(flow, self.shared)
        self._answer(flow)
        return None

    async def _answer_with_shared_totals(self, flow: http.HTTPFlow, shared: SharedPoolState) -> None:
        await shared.fresh_totals()
        self._answer(flow)

    def _answer(self, flow: http.HTTPFlow) -> None:
        full = context(flow).full_health
        snapshot = self.snapshot()
        answer_json(flow, 200, snapshot if full else {k: snapshot[k] for k in ("status", "worker") if k in snapshot})

    def snapshot(self) -> dict[str, object]:
        # Without its Redis a router still serves, from its own pool state: degraded, not down.
        healthy = self.state.active_keys() and self.state.redis != "down"
        shared = {} if self.state.redis is None else {"redis": self.state.redis}
        return {
            "status": "healthy" if healthy else "degraded",
            **({"worker": self.worker} if self.worker is not None else {}),
            **shared,
            "active_keys": self.state.active_keys(),
            "unanswered_keys": self.state.pool.unanswered_count(self.clock()) if self.state.pool else 0,
            "total_requests": self.state.total_requests,
            "total_saved": format_usd(self.state.total_saved, places=2),
            "total_charged": format_usd(self.state.total_charged, places=2),
        }

    def response(self, flow: http.HTTPFlow) -> None:
        if context(flow).route is not None and not meta.is_attempt(flow):
            self.state.total_requests += 1
