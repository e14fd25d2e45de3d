"""Shows each upstream attempt in mitmweb as a flow of its own.

The router makes its attempts itself (see core/failover.py), so mitmproxy never sees them as
flows. When a flow view is loaded (mitmweb, mitmproxy console) every attempt is added to it
as a replay flow next to the client's flow, carrying the key's *name* instead of the key.
mitmdump has no view: there the attempts are in the log (one rotation event per failover).
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from mitmproxy import connection, ctx, http

from hpn_router.addons import meta
from hpn_router.core.attempts import Attempt
from hpn_router.core.transport import UpstreamRequest
from hpn_router.edge.upstream import ANTHROPIC_VERSION


def record_attempts(flow: http.HTTPFlow, request: UpstreamRequest, attempts: list[Attempt], base_url: str) -> None:
    view = ctx.master.addons.get("view") if ctx.master else None
    if view is None or not attempts:
        return
    view.add([_attempt_flow(flow, request, a, base_url) for a in attempts])


def _attempt_flow(client: http.HTTPFlow, request: UpstreamRequest, attempt: Attempt, base_url: str) -> http.HTTPFlow:
    target = urlsplit(base_url)
    port = target.port or (443 if target.scheme == "https" else 80)
    server = connection.Server(address=(target.hostname or "", port))
    flow = http.HTTPFlow(client.client_conn, server)
    url = f"{base_url}{request.path}" + (f"?{request.query}" if request.query else "")
    placeholder = f"<key:{attempt.key_name}>"
    # The header the provider's transport put the key in (edge/upstream.py), with the name instead.
    auth = {
        "mistral": {"authorization": f"Bearer {placeholder}"},
        "anthropic": {"x-api-key": placeholder, "anthropic-version": ANTHROPIC_VERSION},
    }.get(request.provider, {"x-goog-api-key": placeholder})
    headers = {"content-type": "application/json", **auth}
    flow.request = http.Request.make(request.method, url, request.body, headers)
    flow.request.timestamp_start = attempt.started
    flow.request.timestamp_end = attempt.started
    status = attempt.status or 502
    note = f"attempt {attempt.number} with {attempt.key_name}: {attempt.outcome.reason}"
    flow.response = http.Response.make(status, note.encode(), {"content-type": "text/plain"})
    flow.response.timestamp_start = attempt.ended
    flow.response.timestamp_end = attempt.ended or time.time()
    flow.is_replay = "request"
    flow.live = False
    flow.metadata[meta.ATTEMPT_OF] = client.id
    flow.metadata[meta.ATTEMPT] = {"number": attempt.number, "key": attempt.key_name, "outcome": attempt.outcome.reason}
    return flow
