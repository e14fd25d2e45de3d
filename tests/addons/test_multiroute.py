"""Requests KeyRouting answers with several upstream requests (addons/multiroute.py): embedding
batches in order, the model lists' parts at once and a paged part page by page, each with its own
failover. Driven through KeyRouting with a scripted transport (tests/keyroutingkit.py)."""

from __future__ import annotations

import json

from hpn_router.addons.flowcontext import UpstreamPlan, context
from hpn_router.addons.multiroute import MAX_PAGES
from hpn_router.core.transport import AttemptResult
from keyroutingkit import FIRST, MISTRAL_KEY, SECOND, FakeTransport, Router, error_of, rate_limited
from mitmproxy import http
from mitmproxy.test import taddons, tflow


def batch_flow(*bodies: bytes, provider: str = "gemini") -> http.HTTPFlow:
    """A flow as a translator leaves it: the plan names the upstream bodies."""
    flow = tflow.tflow()
    flow.response = None
    flow.request.content = b"the request mitmweb shows, not sent"
    path = "/v1beta/models/text-embedding-004:batchEmbedContents"
    context(flow).upstream = UpstreamPlan("POST", path, "", stream=False, model="text-embedding-004", batches=bodies, provider=provider)
    return flow


async def test_each_batch_goes_upstream_as_planned_and_the_answers_come_back_as_one_array():
    answers = [AttemptResult(status=200, body=b'{"embeddings": [{"values": [%d.0]}]}' % n) for n in range(2)]
    transport = FakeTransport(answers[0], rate_limited(), answers[1])
    router = Router(transport)
    with taddons.context():
        flow = batch_flow(b'{"requests": [1]}', b'{"requests": [2]}')
        await router.routing.request(flow)
    assert [(request.body, key) for request, key in transport.sent] == [
        (b'{"requests": [1]}', FIRST),
        (b'{"requests": [2]}', SECOND),  # the keys take turns; the second batch fails over on its own
        (b'{"requests": [2]}', FIRST),
    ]
    assert flow.response.status_code == 200 and flow.response.headers["content-type"] == "application/json"
    assert json.loads(flow.response.content) == [{"embeddings": [{"values": [0.0]}]}, {"embeddings": [{"values": [1.0]}]}]
    assert context(flow).attempts == 3 and context(flow).key_name == "first"


async def test_a_batch_gemini_refuses_answers_the_client_and_later_batches_are_not_sent():
    refused = {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": f"bad batch for api_key:{FIRST}"}}
    transport = FakeTransport(AttemptResult(status=400, body=json.dumps(refused).encode()))
    router = Router(transport)
    with taddons.context():
        flow = batch_flow(b'{"requests": [1]}', b'{"requests": [2]}')
        await router.routing.request(flow)
    assert len(transport.sent) == 1
    assert flow.response.status_code == 400 and FIRST not in flow.response.text and "<key:first>" in flow.response.text


async def test_the_plans_provider_picks_the_transport_and_its_keys_and_an_unknown_one_sends_nothing():
    gemini, mistral = FakeTransport(), FakeTransport(AttemptResult(status=200, body=b"[]"))
    keys = [{"name": "first", "key": FIRST}, {"name": "m", "key": MISTRAL_KEY, "provider": "mistral"}, {"name": "second", "key": SECOND}]
    router = Router(gemini, keys=keys)
    router.routing.transports["mistral"] = mistral
    with taddons.context():
        served = batch_flow(b"{}", provider="mistral")
        await router.routing.request(served)
        unknown = batch_flow(b"{}", provider="nobody")
        await router.routing.request(unknown)
    assert gemini.sent == [] and [key for _, key in mistral.sent] == [MISTRAL_KEY] and served.response.status_code == 200
    assert mistral.sent[0][0].provider == "mistral"
    assert unknown.response.status_code == 500 and "no valid configuration" in error_of(unknown)["message"]


def paged_listing_flow(mistral_parts: bool = True) -> http.HTTPFlow:
    """The model lists' plan: a paged Gemini part (a page's body names the next one) and a Mistral part."""
    flow = tflow.tflow()
    flow.response = None

    def next_page(body: bytes) -> str | None:
        return json.loads(body).get("next")

    gemini = UpstreamPlan("GET", "/v1beta/models", "p=0", stream=False, model="models.list", next_page=next_page)
    mistral = UpstreamPlan("GET", "/v1/models", "", stream=False, model="models.list", provider="mistral")
    parts = (gemini, mistral) if mistral_parts else (gemini,)
    context(flow).upstream = UpstreamPlan("GET", "/v1/models", "", stream=False, model="models.list", parts=parts)
    return flow


def paging_router(*gemini_answers: AttemptResult) -> tuple[Router, FakeTransport]:
    keys = [{"name": "first", "key": FIRST}, {"name": "m", "key": MISTRAL_KEY, "provider": "mistral"}]
    gemini = FakeTransport(*gemini_answers)
    router = Router(gemini, keys=keys)
    router.routing.transports["mistral"] = FakeTransport(AttemptResult(status=200, body=b'{"data": []}'))
    return router, gemini


async def test_a_paged_part_follows_its_pages_and_answers_them_as_one_array():
    pages = [AttemptResult(status=200, body=json.dumps({"n": 0, "next": "p=1"}).encode()), AttemptResult(status=200, body=b'{"n": 1}')]
    router, gemini = paging_router(*pages)
    with taddons.context():
        flow = paged_listing_flow()
        await router.routing.request(flow)
    assert [request.query for request, _ in gemini.sent] == ["p=0", "p=1"]
    assert json.loads(flow.response.content) == {"gemini": [{"n": 0, "next": "p=1"}, {"n": 1}], "mistral": {"data": []}}
    assert [a.provider for a in context(flow).attempt_log].count("gemini") == 2


async def test_pages_that_never_end_stop_at_the_bound_and_a_failed_page_leaves_the_provider_out():
    endless = [AttemptResult(status=200, body=json.dumps({"next": f"p={n + 1}"}).encode()) for n in range(MAX_PAGES + 2)]
    router, gemini = paging_router(*endless)
    with taddons.context():
        flow = paged_listing_flow(mistral_parts=False)
        await router.routing.request(flow)
    assert len(gemini.sent) == MAX_PAGES and len(json.loads(flow.response.content)["gemini"]) == MAX_PAGES
    refused = {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad page"}}
    router, gemini = paging_router(endless[0], AttemptResult(status=400, body=json.dumps(refused).encode()))
    with taddons.context():
        flow = paged_listing_flow()
        await router.routing.request(flow)
    assert len(gemini.sent) == 2 and json.loads(flow.response.content) == {"mistral": {"data": []}}
