"""Limits counted for every router sharing a Redis: a client's rate (`server.client_rpm`) and a
(project, model) budget (the quota gate). Before an upstream call a request makes at most two
Redis round trips, each one EVALSHA: the flash cache's lookup (addons/cachelookup.py) and the quota
gate (`admit_quota`), the latter only for a key whose project has a budget for the model: it
checks and counts the budget for every router, and the pool adopts what they all spent. A
client's shared rate costs no trip of its own: Access leaves it in the flow's context
(`PendingClient`) and the first of those trips checks it first, in the same script (refused: no
cache lead, no budget counted, 429); when neither runs, it goes alone (`admit_client`), before
the upstream call or, for a request the router answers itself, in SharedPoolState's `response`.
Redis down: the client is checked against this router's share of its limit (fail open).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mitmproxy import http

from hpn_router.addons.flowcontext import PendingClient, context
from hpn_router.core.access import ClientCount, minute_bucket
from hpn_router.core.errors import RouterError
from hpn_router.core.failover import QuotaGate
from hpn_router.core.quota import pacific_day
from hpn_router.core.rediskeys import quota_keys
from hpn_router.core.transport import UpstreamRequest
from hpn_router.edge.sharedstate import StoreError

if TYPE_CHECKING:
    from hpn_router.addons.sharedstate import SharedPoolState

DAY_SECONDS = 86400.0  # a day counter outlives its Pacific day by an hour (a 25-hour day at DST)


class SharedLimits:
    def __init__(self, shared: SharedPoolState) -> None:
        self.shared = shared

    def take_client(self, flow: http.HTTPFlow) -> PendingClient | None:
        """The flow's client check still to make, now handed to the caller's round trip."""
        ctx = context(flow)
        pending, ctx.client_check = ctx.client_check, None
        return pending

    @staticmethod
    def client_refusal(pending: PendingClient | None, checked: ClientCount | None) -> RouterError | None:
        """The 429 when the round trip that carried the check refused the client."""
        if pending is None or checked is None or checked[0]:
            return None
        return pending.window.refusal(checked[1], checked[2])

    def client_failed_open(self, pending: PendingClient | None, error: BaseException) -> RouterError | None:
        """The round trip carrying the check failed: Redis counts as down, and the client is
        checked against this router's share of its limit."""
        self.shared.redis_failed(error)
        return pending.local() if pending is not None else None

    async def admit_client(self, flow: http.HTTPFlow) -> RouterError | None:
        """The flow's client check alone (one EVALSHA), when no other round trip carries it;
        None when admitted or nothing was left to check."""
        return await self._check_client(self.take_client(flow))

    async def _check_client(self, pending: PendingClient | None) -> RouterError | None:
        if pending is None:
            return None
        store = self.shared.redis_store()
        if store is None:
            return pending.local()
        try:
            checked = await store.admit_client(pending.window)
        except StoreError as e:
            return self.client_failed_open(pending, e)
        return self.client_refusal(pending, checked)

    def quota_gate(self, flow: http.HTTPFlow) -> QuotaGate | None:
        """The gate KeyRouting hands the attempt loop for `flow`: while Redis is shared and up,
        or while the flow's client check is still to make (Redis went down since: checked here)."""
        if (self.shared.store is not None and self.shared.state.redis == "up") or context(flow).client_check is not None:
            return lambda index, request, now: self.admit_quota(index, request, now, flow)
        return None

    async def admit_quota(self, index: int, request: UpstreamRequest, now: float, flow: http.HTTPFlow | None = None) -> bool | RouterError:
        """The quota gate (core/failover.QuotaGate): one EVALSHA checks and counts the chosen
        key's budget for every router (the flow's client check first, when still to make); the
        pool adopts what all of them spent. Redis down, or no budget known for the key:
        admitted (the pool's own counts decided already). A refused client: its 429."""
        pending = self.take_client(flow) if flow is not None else None
        pool, store = self.shared.state.pool, self.shared.redis_store()
        quota = pool.quota_of(index, request.model) if pool is not None else None
        if pool is None or store is None or quota is None:
            return await self._check_client(pending) or True
        slot, limits = quota
        minute, elapsed = minute_bucket(now)
        try:
            admitted, minute_requests, day_requests, minute_tokens, checked = await store.admit_quota(
                quota_keys(slot, minute, pacific_day(now)),
                (limits.rpm or 0, limits.rpd or 0, limits.tpm or 0),
                elapsed,
                len(request.body) // 4,
                DAY_SECONDS + 3600,
                client=pending.window if pending is not None else None,
            )
        except StoreError as e:
            return self.client_failed_open(pending, e) or True
        refusal = self.client_refusal(pending, checked)
        if refusal is not None:
            return refusal
        pool.adopt_usage(index, request.model, now, minute_requests, day_requests, minute_tokens)
        return admitted
