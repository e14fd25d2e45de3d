"""A client's shared rate: checked in `response` when no other round trip carried it."""

from __future__ import annotations

import time

from sharedrouters import router, until


async def test_a_request_answered_by_the_router_itself_has_its_clients_rate_checked_in_response(redis_server):
    """No cache lookup nor budget check carried the client's rate (a 404, a 400): `response`
    checks it alone, and a refused client gets its 429 instead of that answer."""
    from hpn_router.addons.flowcontext import PendingClient, context
    from hpn_router.core.access import ClientWindow
    from mitmproxy import http
    from mitmproxy.test import tflow

    redis_server.command("FLUSHALL")
    state, shared = router(redis_server.url)
    await until(lambda: state.redis == "up")
    statuses = []
    for _ in range(2):
        flow = tflow.tflow()
        flow.response = http.Response.make(404, b"{}")
        context(flow).client_check = PendingClient(ClientWindow("client_local", 1, time.time()), lambda: None)
        await shared.response(flow)
        statuses.append(flow.response.status_code)
        assert context(flow).client_check is None
    assert statuses == [404, 429]
    await shared.done()
