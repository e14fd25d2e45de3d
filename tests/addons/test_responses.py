"""ResponsesTranslation in the router's chain: a Responses API request becomes Gemini's
generateContent, Gemini's answer comes back as a `response` object (or its SSE events), bad
input and Gemini's errors are 4xx in OpenAI's envelope, and Cost counts the answer."""

from __future__ import annotations

import json

from hpn_router.addons.cost import CostEstimator
from hpn_router.addons.responses import ResponsesTranslation
from hpn_router.core.state import RouterState
from mitmproxy import http
from mitmproxy.test import taddons, tflow
from routerchain import POOL_KEY, RouterChain, chain_config, gemini_json, json_of

GEMINI_ANSWER = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "Bonjour"}]}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1, "totalTokenCount": 5},
}
NOT_FOUND = {"error": {"code": 404, "message": "models/nope is not found", "status": "NOT_FOUND"}}


async def test_a_responses_request_goes_to_gemini_and_comes_back_as_a_response():
    chain = RouterChain(gemini_json(GEMINI_ANSWER), config=chain_config(models={"fast": "gemini-2.5-flash-lite"}))
    body = {"model": "fast", "instructions": "Be brief", "input": "Hello", "temperature": 0.1}
    with taddons.context():
        flow = await chain.send("POST", "/v1/responses", body, {"authorization": "Bearer client-secret"})
    [sent] = chain.sent
    assert sent.path == "/v1beta/models/gemini-2.5-flash-lite:generateContent" and not sent.stream
    gemini = json.loads(sent.body)
    assert gemini["contents"] == [{"role": "user", "parts": [{"text": "Hello"}]}]
    assert gemini["systemInstruction"]["parts"][0]["text"] == "Be brief"
    assert "authorization" not in flow.request.headers and chain.transport.sent[0][1] == POOL_KEY
    answer = json_of(flow)
    assert flow.response.status_code == 200 and answer["object"] == "response" and answer["model"] == "fast"
    assert answer["output"][0]["content"][0]["text"] == "Bonjour" and answer["status"] == "completed"
    assert answer["instructions"] == "Be brief" and answer["temperature"] == 0.1
    assert answer["usage"]["input_tokens"] == 4 and answer["usage"]["total_tokens"] == 5


async def test_bad_input_is_an_openai_400_and_nothing_goes_upstream():
    chain = RouterChain()
    with taddons.context():
        flow = await chain.send("POST", "/v1/responses", {"model": "gpt-4o", "input": "hi", "tools": [{"type": "file_search"}]})
    assert chain.sent == [] and flow.response.status_code == 400
    assert json_of(flow)["error"]["param"] == "tools[0].type" and json_of(flow)["error"]["type"] == "invalid_request_error"


async def test_gemini_errors_come_back_in_openais_envelope_although_the_path_was_rewritten():
    chain = RouterChain(gemini_json(NOT_FOUND, status=404))
    with taddons.context():
        flow = await chain.send("POST", "/v1/responses", {"model": "nope", "input": "hi"})
    error = json_of(flow)["error"]
    assert flow.response.status_code == 404 and "type" in error and "status" not in error  # OpenAI's, not Google's


async def test_cost_counts_a_responses_answer_from_its_usage():
    chain = RouterChain(gemini_json(GEMINI_ANSWER))
    state = RouterState()
    with taddons.context():
        flow = await chain.send("POST", "/v1/responses", {"model": "gpt-4o", "input": "hi"})
        CostEstimator(state).response(flow)
    assert flow.response.headers["X-HPN-Saved-USD"] != "0" and state.savings.total > 0


def test_a_relayed_stream_becomes_responses_events():
    responses, config = ResponsesTranslation(), chain_config()
    flow = tflow.tflow()
    flow.request.content = json.dumps({"model": "gpt-4o", "input": "Hi", "stream": True}).encode()
    responses.translate_request(flow, config)
    assert flow.request.path.endswith(":streamGenerateContent?alt=sse")
    flow.response = http.Response.make(200, b"", {"content-type": "text/event-stream", "content-length": "0"})
    responses.start_stream(flow, config)
    assert flow.response.headers["content-type"] == "text/event-stream" and "content-length" not in flow.response.headers
    event = b"data: " + json.dumps(GEMINI_ANSWER).encode() + b"\r\n\r\n"
    chunks = flow.response.stream(event) + flow.response.stream(b"")
    assert all(chunks)  # an empty chunk would end the client's body early
    payloads = [json.loads(e.split("\ndata: ", 1)[1]) for e in b"".join(chunks).decode().split("\n\n") if e]
    assert payloads[0]["type"] == "response.created" and payloads[-1]["type"] == "response.completed"
    assert payloads[-1]["response"]["usage"]["output_tokens"] == 1
    from hpn_router.addons.flowcontext import context

    context(flow).relayed = True
    responses.translate_response(flow, config)
    assert context(flow).usage is not None and context(flow).answer_text == "Bonjour"


def test_an_upstream_error_mid_stream_ends_in_response_failed():
    responses, config = ResponsesTranslation(), chain_config()
    flow = tflow.tflow()
    flow.request.content = json.dumps({"model": "gpt-4o", "input": "Hi", "stream": True}).encode()
    responses.translate_request(flow, config)
    flow.response = http.Response.make(200, b"", {"content-type": "text/event-stream"})
    responses.start_stream(flow, config)
    half = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Bon"}]}, "index": 0}]}
    error = {"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}}
    chunks = [flow.response.stream(b"data: " + json.dumps(e).encode() + b"\n\n") for e in (half, error)]
    chunks = [c for batch in chunks for c in batch] + flow.response.stream(b"")
    last = b"".join(chunks).decode().strip().split("\n\n")[-1]
    assert last.startswith("event: response.failed\n")
