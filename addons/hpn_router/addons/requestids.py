"""RequestIds: every answer carries `X-Request-Id`, and so do the request's log line and its
flow in mitmweb, so one id finds a request everywhere.

The id is the client's own `X-Request-Id` when it sent a sane one (core/requestid.py), else a
new one; it is fixed on first use (`request_id(flow)`: KeyRouting's `event=upstream` line, or
this addon) and kept in the flow's context. The addon runs late in `responseheaders` (a stream's
headers leave then) and in `response` (after the translators, which rebuild an answer's
headers), and writes the id into `flow.metadata` (`hpn.request_id`) for mitmweb and `-w`.

Usage:
    addons = [..., cost, RequestIds(), metrics, ..., ContextMetadata(), flow_redaction]
    request_id(flow)    # the flow's id, from any addon
"""

from __future__ import annotations

import secrets

from mitmproxy import http

from hpn_router.addons import meta
from hpn_router.addons.flowcontext import context
from hpn_router.core.requestid import HEADER
from hpn_router.core.requestid import request_id as choose_id


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def request_id(flow: http.HTTPFlow) -> str:
    """The flow's request id, chosen once."""
    ctx = context(flow)
    if ctx.request_id is None:
        ctx.request_id = choose_id(flow.request.headers.get(HEADER), new=new_request_id)
    return ctx.request_id


class RequestIds:
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        self._stamp(flow)

    def response(self, flow: http.HTTPFlow) -> None:
        self._stamp(flow)

    def _stamp(self, flow: http.HTTPFlow) -> None:
        if flow.response is None or meta.is_attempt(flow) or context(flow).passthrough:
            return  # a recorded attempt is not an answer; a passthrough flow is not ours
        rid = request_id(flow)
        flow.response.headers[HEADER] = rid
        flow.metadata[meta.REQUEST_ID] = rid
