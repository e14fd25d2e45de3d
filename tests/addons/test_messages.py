"""MessagesTranslation and CountTokens in the router's chain: an Anthropic Messages request becomes
Gemini's generateContent (count_tokens its countTokens), Gemini's answer comes back as a Message
(or Anthropic's SSE events), bad input and Gemini's errors are 4xx in Anthropic's envelope, and
Cost counts the answer."""

from __future__ import annotations

import json

from hpn_router.addons.cost import CostEstimator
from hpn_router.addons.flowcontext import context
from hpn_router.addons.messages import MessagesTranslation
from hpn_router.core.state import RouterState
from mitmproxy import http
from mitmproxy.test import taddons, tflow
from routerchain import POOL_KEY, RouterChain, chain_config, gemini_json, json_of

GEMINI_ANSWER = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "Bonjour"}]}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1, "totalTokenCount": 5},
}
NOT_FOUND = {"error": {"code": 404, "message": "models/nope is not found", "status": "NOT_FOUND"}}
HI = [{"role": "user", "content": "Hello"}]
ANTHROPIC_HEADERS = {"x-api-key": "client-secret", "anthropic-version": "2023-06-01"}


async def test_a_message_goes_to_gemini_and_comes_back_as_a_message():
    chain = RouterChain(gemini_json(GEMINI_ANSWER), config=chain_config(models={"claude-haiku-4-5": "gemini-2.5-flash-lite"}))
    body = {"model": "claude-haiku-4-5", "max_tokens": 50, "system": [{"type": "text", "text": "Be brief"}], "messages": HI}
    with taddons.context():
        flow = await chain.send("POST", "/v1/messages?beta=true", body, ANTHROPIC_HEADERS)
    [sent] = chain.sent
    assert sent.path == "/v1beta/models/gemini-2.5-flash-lite:generateContent" and not sent.stream
    gemini = json.loads(sent.body)
    assert gemini["contents"] == [{"role": "user", "parts": [{"text": "Hello"}]}]
    assert gemini["systemInstruction"]["parts"][0]["text"] == "Be brief" and gemini["generationConfig"]["maxOutputTokens"] == 50
    assert "x-api-key" not in flow.request.headers and chain.transport.sent[0][1] == POOL_KEY  # the client's token never goes upstream
    answer = json_of(flow)
    assert flow.response.status_code == 200 and answer["type"] == "message" and answer["model"] == "claude-haiku-4-5"
    assert answer["content"] == [{"type": "text", "text": "Bonjour"}] and answer["stop_reason"] == "end_turn"
    assert answer["usage"]["input_tokens"] == 4 and answer["usage"]["output_tokens"] == 1


async def test_a_claude_name_goes_to_the_default_gemini_model():
    chain = RouterChain(gemini_json(GEMINI_ANSWER))
    with taddons.context():
        await chain.send("POST", "/v1/messages", {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": HI})
    assert chain.sent[0].path == f"/v1beta/models/{chain_config().gemini.default_model}:generateContent"


async def test_bad_input_is_an_anthropic_400_and_nothing_goes_upstream():
    chain = RouterChain()
    with taddons.context():
        flow = await chain.send("POST", "/v1/messages", {"model": "claude-x", "messages": HI})
    assert chain.sent == [] and flow.response.status_code == 400
    assert json_of(flow) == {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"}}


async def test_a_mistral_model_without_mistral_keys_is_a_400_naming_the_provider():
    chain = RouterChain()
    with taddons.context():
        flow = await chain.send("POST", "/v1/messages", {"model": "mistral-small-latest", "max_tokens": 50, "messages": HI})
    assert chain.sent == [] and flow.response.status_code == 400
    error = json_of(flow)["error"]
    assert error["type"] == "invalid_request_error" and "no mistral keys" in error["message"]


async def test_gemini_errors_come_back_in_anthropics_envelope_although_the_path_was_rewritten():
    chain = RouterChain(gemini_json(NOT_FOUND, status=404))
    with taddons.context():
        flow = await chain.send("POST", "/v1/messages", {"model": "gemini-nope", "max_tokens": 5, "messages": HI})
    assert flow.response.status_code == 404 and json_of(flow)["error"]["type"] == "not_found_error" and json_of(flow)["type"] == "error"


async def test_count_tokens_asks_geminis_count_tokens():
    chain = RouterChain(gemini_json({"totalTokens": 42}))
    body = {"model": "claude-x", "system": "Be brief", "messages": HI, "tools": [{"name": "f", "input_schema": {"type": "object"}}]}
    with taddons.context():
        flow = await chain.send("POST", "/v1/messages/count_tokens", body, ANTHROPIC_HEADERS)
    [sent] = chain.sent
    model = chain_config().gemini.default_model
    assert sent.path == f"/v1beta/models/{model}:countTokens"
    request = json.loads(sent.body)["generateContentRequest"]
    assert request["model"] == f"models/{model}" and set(request) == {"model", "contents", "systemInstruction", "tools"}
    assert flow.response.status_code == 200 and json_of(flow) == {"input_tokens": 42}


async def test_models_are_listed_in_anthropics_shape_for_anthropic_clients():
    listing = {"models": [{"name": "models/gemini-2.5-flash", "supportedGenerationMethods": ["generateContent"]}]}
    chain = RouterChain(gemini_json(listing))
    with taddons.context():
        flow = await chain.send("GET", "/v1/models?limit=1000", None, ANTHROPIC_HEADERS)
        one = await chain.send("GET", "/v1/models/nope", None, ANTHROPIC_HEADERS)
        openai = await chain.send("GET", "/v1/models")
    page = json_of(flow)
    assert page["has_more"] is False and page["data"][0]["type"] == "model" and page["data"][0]["id"] == "gemini-2.5-flash"
    assert one.response.status_code == 404 and json_of(one)["error"]["type"] == "not_found_error"
    assert json_of(openai)["object"] == "list"  # without anthropic-version: OpenAI's shape


async def test_cost_counts_a_message_from_its_usage():
    chain = RouterChain(gemini_json(GEMINI_ANSWER))
    state = RouterState()
    with taddons.context():
        flow = await chain.send("POST", "/v1/messages", {"model": "claude-x", "max_tokens": 5, "messages": HI})
        CostEstimator(state).response(flow)
    assert flow.response.headers["X-HPN-Saved-USD"] != "0" and state.savings.total > 0


def start_stream(body: dict) -> tuple[MessagesTranslation, http.HTTPFlow]:
    messages, config = MessagesTranslation(), chain_config()
    flow = tflow.tflow()
    flow.request.content = json.dumps(body).encode()
    messages.translate_request(flow, config)
    assert flow.request.path.endswith(":streamGenerateContent?alt=sse")
    flow.response = http.Response.make(200, b"", {"content-type": "text/event-stream", "content-length": "0"})
    messages.start_stream(flow, config)
    return messages, flow


def test_a_relayed_stream_becomes_anthropics_events():
    messages, flow = start_stream({"model": "claude-x", "max_tokens": 5, "messages": HI, "stream": True})
    assert flow.response.headers["content-type"] == "text/event-stream" and "content-length" not in flow.response.headers
    chunks = flow.response.stream(b"data: " + json.dumps(GEMINI_ANSWER).encode() + b"\r\n\r\n") + flow.response.stream(b"")
    assert all(chunks)  # an empty chunk would end the client's body early
    payloads = [json.loads(e.split("\ndata: ", 1)[1]) for e in b"".join(chunks).decode().split("\n\n") if e]
    assert payloads[0]["type"] == "message_start" and payloads[0]["message"]["usage"]["input_tokens"] == 4
    assert payloads[-2]["usage"]["output_tokens"] == 1 and payloads[-1] == {"type": "message_stop"}
    context(flow).relayed = True
    messages.translate_response(flow, chain_config())
    assert context(flow).usage is not None and context(flow).answer_text == "Bonjour"


def test_an_upstream_error_mid_stream_ends_in_an_error_event():
    _, flow = start_stream({"model": "claude-x", "max_tokens": 5, "messages": HI, "stream": True})
    half = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Bon"}]}, "index": 0}]}
    error = {"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}}
    chunks = [c for e in (half, error) for c in flow.response.stream(b"data: " + json.dumps(e).encode() + b"\n\n")]
    chunks += flow.response.stream(b"")
    last = b"".join(chunks).decode().strip().split("\n\n")[-1]
    assert last.startswith("event: error\n") and json.loads(last.split("data: ", 1)[1])["error"]["type"] == "api_error"


async def test_count_tokens_for_a_claude_model_on_anthropic_keys_asks_anthropics_count_tokens():
    anthropic_key = "sk-ant-api03-CountTokensKey0123456789abcdefghijklmnop"
    chain = RouterChain(gemini_json({"input_tokens": 17}), config=chain_config(anthropic={"keys": [{"name": "a", "key": anthropic_key}]}))
    chain.routing.transports["anthropic"] = chain.transport  # one scripted transport for both providers
    body = {"model": "claude-sonnet-4-5", "system": "Be brief", "messages": HI, "max_tokens": 9}
    with taddons.context():
        flow = await chain.send("POST", "/v1/messages/count_tokens", body, ANTHROPIC_HEADERS)
    [(sent, key)] = chain.transport.sent
    assert (sent.provider, sent.path, sent.model, key) == ("anthropic", "/v1/messages/count_tokens", "claude-sonnet-4-5", anthropic_key)
    sent_body = json.loads(sent.body)
    assert sent_body["model"] == "claude-sonnet-4-5" and sent_body["system"] == "Be brief" and "max_tokens" not in sent_body
    assert flow.response.status_code == 200 and json_of(flow) == {"input_tokens": 17}
