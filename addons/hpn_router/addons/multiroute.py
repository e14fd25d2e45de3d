"""The client requests KeyRouting answers with several upstream requests.

Embeddings beyond 100 inputs go as batches, one after the other; the model lists go to every
provider at once, a paged listing page by page. Each upstream request runs KeyRouting's own
attempt loop (its failover, its logs, its attempt flows), handed in as `attempt`, and the
combined answer goes out through KeyRouting's `deliver` (key values scrubbed, relay for a
stream). Kept apart so the single request, the hot path, reads straight through keyrouting.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping

from mitmproxy import http

from hpn_router.addons.answers import answer_error
from hpn_router.addons.flowcontext import UpstreamPlan, context
from hpn_router.core.attempts import FailoverResult
from hpn_router.core.errors import RouterError
from hpn_router.core.transport import AttemptResult, Transport, UpstreamRequest, join_json_answers, join_named_json_answers

MAX_PAGES = 10  # a paged listing's pages one request may fetch: bounds a provider that always says "more"

Attempt = Callable[[http.HTTPFlow, UpstreamRequest, Transport], Awaitable[FailoverResult]]
Deliver = Callable[[http.HTTPFlow, AttemptResult, str], None]
AdmitClient = Callable[[http.HTTPFlow], Awaitable[RouterError | None]]


def upstream_request(plan: UpstreamPlan, body: bytes) -> UpstreamRequest:
    """The request the attempt loop sends for `plan`, with `body` (a batch's, or the flow's)."""
    return UpstreamRequest(
        method=plan.method, path=plan.path, query=plan.query, body=body, stream=plan.stream, model=plan.model, provider=plan.provider
    )


def json_answer(body: bytes) -> AttemptResult:
    return AttemptResult(status=200, headers={"content-type": "application/json"}, body=body)


async def route_batches(flow: http.HTTPFlow, plan: UpstreamPlan, transport: Transport, attempt: Attempt, deliver: Deliver) -> None:
    """Several upstream requests for one client request (embeddings beyond 100 inputs):
    each with its own failover, in order; the first failure answers the client. The answer
    is a JSON array of the batches' answers, in order."""
    answers: list[bytes] = []
    for body in plan.batches:
        outcome = await attempt(flow, upstream_request(plan, body), transport)
        if outcome.error is not None:
            answer_error(flow, outcome.error)
            return
        assert outcome.result is not None
        if outcome.result.status != 200:
            deliver(flow, outcome.result, outcome.key_name or "")
            return
        answers.append(outcome.result.body)
    deliver(flow, json_answer(join_json_answers(answers)), context(flow).key_name or "")


async def route_parts(
    flow: http.HTTPFlow,
    parts: tuple[UpstreamPlan, ...],
    transports: Mapping[str, Transport],
    attempt: Attempt,
    deliver: Deliver,
    admit_client: AdmitClient | None,
) -> None:
    """One request per provider (the model lists), each with its own failover, at once. A
    provider that fails is left out; the answer is a JSON object of the others' answers by
    provider. Only when every one failed does the client get the first failure."""
    refusal = await admit_client(flow) if admit_client is not None else None
    if refusal is not None:
        answer_error(flow, refusal)
        return
    routed = [(part, transports[part.provider]) for part in parts if part.provider in transports]
    outcomes = await asyncio.gather(*(attempt_pages(flow, part, transport, attempt) for part, transport in routed))
    answers = {
        part.provider: o.result.body
        for (part, _), o in zip(routed, outcomes, strict=True)
        if o.error is None and o.result is not None and o.result.status == 200
    }
    if answers:
        deliver(flow, json_answer(join_named_json_answers(answers)), context(flow).key_name or "")
        return
    first = outcomes[0] if outcomes else None
    if first is None or first.error is not None or first.result is None:
        answer_error(flow, first.error if first is not None and first.error is not None else RouterError("No provider could answer."))
    else:
        deliver(flow, first.result, first.key_name or "")


async def attempt_pages(flow: http.HTTPFlow, part: UpstreamPlan, transport: Transport, attempt: Attempt) -> FailoverResult:
    """A part's request; for a paged listing (`next_page`), then each next page while the
    provider says there are more, at most MAX_PAGES. A paged part's answer is the JSON array
    of its pages; a page that fails fails the part (its provider is left out)."""
    outcome = await attempt(flow, upstream_request(part, b""), transport)
    if part.next_page is None:
        return outcome
    pages: list[bytes] = []
    while outcome.error is None and outcome.result is not None and outcome.result.status == 200:
        pages.append(outcome.result.body)
        query = part.next_page(outcome.result.body)
        if query is None or len(pages) >= MAX_PAGES:
            outcome.result = json_answer(join_json_answers(pages))
            return outcome
        outcome = await attempt(flow, upstream_request(dataclasses.replace(part, query=query), b""), transport)
    return outcome
