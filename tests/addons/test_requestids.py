"""X-Request-Id: on every answer of the router's, the client's own when sane, the same id in
the flow's metadata and in KeyRouting's request log line."""

from __future__ import annotations

from hpn_router.addons import meta
from hpn_router.addons.flowcontext import context
from hpn_router.addons.requestids import RequestIds, request_id
from mitmproxy import http
from mitmproxy.test import tflow


def answered(headers: dict[str, str] | None = None) -> http.HTTPFlow:
    flow = tflow.tflow(resp=True)
    flow.request.headers.update(headers or {})
    return flow


def test_a_new_id_goes_on_the_answer_and_in_the_metadata() -> None:
    flow = answered()
    RequestIds().response(flow)
    rid = flow.response.headers["x-request-id"]
    assert rid.startswith("req_") and len(rid) == 28
    assert flow.metadata[meta.REQUEST_ID] == rid == context(flow).request_id


def test_the_clients_sane_id_is_kept_and_a_forged_one_replaced() -> None:
    kept, forged = answered({"x-request-id": "trace-42"}), answered({"x-request-id": "x\tevent=forged"})
    for flow in (kept, forged):
        RequestIds().response(flow)
    assert kept.response.headers["x-request-id"] == "trace-42"
    assert forged.response.headers["x-request-id"].startswith("req_")


def test_the_id_is_chosen_once_for_headers_log_and_answer() -> None:
    flow = answered()
    first = request_id(flow)  # KeyRouting's log line, before the answer
    RequestIds().responseheaders(flow)  # a stream's headers
    flow.response.headers.clear()  # a translator rebuilds the headers
    RequestIds().response(flow)
    assert flow.response.headers["x-request-id"] == first


def test_attempt_and_passthrough_flows_get_none() -> None:
    attempt, passthrough = answered(), answered()
    attempt.metadata[meta.ATTEMPT_OF] = "x"
    context(passthrough).passthrough = True
    for flow in (attempt, passthrough):
        RequestIds().response(flow)
        assert "x-request-id" not in flow.response.headers
