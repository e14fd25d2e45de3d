"""ChatTranslation in the router's chain: an OpenAI chat request becomes Gemini's
generateContent (model mapped, client credentials dropped), Gemini's answer comes back as a
chat.completion, bad input is a 400 that never goes upstream, and streamed events are
translated as they arrive."""

from __future__ import annotations

import json

from hpn_router.addons.chat import IGNORED_HEADER, SERVED_BY_HEADER, ChatTranslation
from mitmproxy import http
from mitmproxy.test import taddons, tflow
from routerchain import POOL_KEY, RouterChain, chain_config, gemini_json, json_of

GEMINI_ANSWER = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "Bonjour"}]}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1, "totalTokenCount": 5},
}


async def test_a_chat_request_goes_to_gemini_and_comes_back_as_a_chat_completion():
    config = chain_config(models={"fast": "gemini-2.5-flash-lite"})
    chain = RouterChain(gemini_json(GEMINI_ANSWER), config=config)
    body = {"model": "fast", "messages": [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hello"}]}
    with taddons.context():
        flow = await chain.send("POST", "/v1/chat/completions", body, {"authorization": "Bearer client-secret"})
    [sent] = chain.sent
    assert sent.path == "/v1beta/models/gemini-2.5-flash-lite:generateContent" and not sent.stream
    gemini = json.loads(sent.body)
    assert gemini["contents"] == [{"role": "user", "parts": [{"text": "Hello"}]}]
    assert gemini["systemInstruction"]["parts"][0]["text"] == "Be brief"
    assert "authorization" not in flow.request.headers and chain.transport.sent[0][1] == POOL_KEY
    answer = json_of(flow)
    assert flow.response.status_code == 200 and flow.response.headers["content-type"] == "application/json"
    assert answer["object"] == "chat.completion" and answer["model"] == "fast"
    assert answer["choices"][0]["message"]["role"] == "assistant" and answer["choices"][0]["message"]["content"] == "Bonjour"
    assert answer["choices"][0]["finish_reason"] == "stop" and answer["usage"]["prompt_tokens"] == 4


async def test_bad_input_is_a_400_naming_the_field_and_nothing_goes_upstream():
    chain = RouterChain()
    with taddons.context():
        flow = await chain.send("POST", "/v1/chat/completions", {"model": "gpt-4o", "messages": []})
        garbage = await chain.send("POST", "/v1/chat/completions", b"{not json")
    assert chain.sent == []
    assert flow.response.status_code == 400 and json_of(flow)["error"]["param"] == "messages"
    assert garbage.response.status_code == 400 and "not valid JSON" in json_of(garbage)["error"]["message"]


async def test_parameters_the_model_does_not_take_are_named_to_the_client():
    chain = RouterChain(gemini_json(GEMINI_ANSWER))
    body = {"model": "gemini-3-pro-preview", "messages": [{"role": "user", "content": "Hi"}], "frequency_penalty": 0.5}
    with taddons.context():
        flow = await chain.send("POST", "/v1/chat/completions", body)
    assert "frequencyPenalty" not in json.loads(chain.sent[0].body).get("generationConfig", {})
    assert flow.response.headers[IGNORED_HEADER] == "frequency_penalty"


def test_a_relayed_stream_is_translated_event_by_event():
    chat, config = ChatTranslation(), chain_config()
    flow = tflow.tflow()
    flow.request.content = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": True}).encode()
    chat.translate_request(flow, config)
    flow.response = http.Response.make(200, b"", {"content-type": "text/event-stream", "content-length": "0"})
    chat.start_stream(flow, config)
    assert flow.response.headers["content-type"] == "text/event-stream" and "content-length" not in flow.response.headers
    event = b"data: " + json.dumps(GEMINI_ANSWER).encode() + b"\r\n\r\n"
    chunks = flow.response.stream(event) + flow.response.stream(b"")
    events = [e.removeprefix("data: ") for e in b"".join(chunks).decode().split("\n\n") if e]
    assert events[-1] == "[DONE]"
    deltas = [json.loads(e)["choices"][0]["delta"] for e in events[:-1]]
    assert "".join(d.get("content") or "" for d in deltas) == "Bonjour"
    assert {json.loads(e)["object"] for e in events[:-1]} == {"chat.completion.chunk"}
    assert all(chunk for chunk in chunks)  # an empty chunk would end the client's body early


async def test_the_body_is_read_into_the_model_once_for_cache_translation_and_cost(monkeypatch):
    """CacheLookup runs before Translation and Cost after it: all three read the one ChatRequest
    the first of them made, so a large body is parsed and validated once per flow."""
    from hpn_router.addons import chat
    from hpn_router.addons.cache import FlashCache
    from hpn_router.addons.cachelookup import CacheLookup
    from hpn_router.addons.cachestore import CacheStore
    from hpn_router.addons.cost import CostEstimator
    from hpn_router.core.state import RouterState

    calls = {"json": 0, "model": 0}

    def counted(name, function):
        def wrapper(*args):
            calls[name] += 1
            return function(*args)

        return wrapper

    monkeypatch.setattr(chat, "parse_json_body", counted("json", chat.parse_json_body))
    monkeypatch.setattr(chat, "parse_chat_request", counted("model", chat.parse_chat_request))
    no_usage = {**GEMINI_ANSWER, "usageMetadata": {}}  # Cost then estimates from the prompt's text
    chain, flash = RouterChain(gemini_json(no_usage)), FlashCache()
    flash.apply(chain_config())
    lookup, store, cost = CacheLookup(flash), CacheStore(flash), CostEstimator(RouterState())
    flow = tflow.tflow()
    flow.response = None
    flow.request.method, flow.request.path = "POST", "/v1/chat/completions"
    flow.request.content = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}], "temperature": 0}).encode()
    with taddons.context():
        chain.endpoints.request(flow)
        await lookup.request(flow)
        chain.translation.request(flow)
        await chain.routing.request(flow)
        chain.translation.response(flow)
        await store.response(flow)
        cost.response(flow)
    assert flow.response.status_code == 200 and flow.response.headers["X-HPN-Cache"] == "MISS"
    assert flow.response.headers["X-HPN-Saved-USD"] != "0"  # Cost read the prompt from the model
    assert calls == {"json": 1, "model": 1}


MISTRAL_KEY = "mistralChainKey0123456789abcdef"
MISTRAL_ANSWER = {
    "id": "c1",
    "object": "chat.completion",
    "model": "mistral-small-latest",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "Ab3dE5gH9", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 6, "completion_tokens": 2, "total_tokens": 8},
}


def mistral_chain(*answers, **sections) -> RouterChain:
    config = chain_config(mistral={"keys": [{"name": "m", "key": MISTRAL_KEY}]}, **sections)
    chain = RouterChain(*answers, config=config)
    chain.routing.transports["mistral"] = chain.transport  # one scripted transport for both providers
    return chain


async def test_a_mistral_model_goes_to_mistral_with_a_mistral_key_and_says_who_served_it():
    chain = mistral_chain(gemini_json(MISTRAL_ANSWER), models={"gpt-4o": "mistral/mistral-small-latest"})
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "tools": tools, "seed": 4, "reasoning_effort": "low"}
    with taddons.context():
        flow = await chain.send("POST", "/v1/chat/completions", body)
    [(sent, key)] = chain.transport.sent
    assert (sent.provider, sent.path, sent.model, key) == ("mistral", "/v1/chat/completions", "mistral-small-latest", MISTRAL_KEY)
    assert json.loads(sent.body)["random_seed"] == 4 and "seed" not in json.loads(sent.body)
    answer = json_of(flow)
    assert answer["model"] == "gpt-4o" and answer["choices"][0]["message"]["tool_calls"][0]["id"] == "Ab3dE5gH9"
    assert answer["choices"][0]["finish_reason"] == "tool_calls" and answer["usage"]["total_tokens"] == 8
    assert flow.response.headers[SERVED_BY_HEADER] == "mistral/mistral-small-latest"
    assert flow.response.headers[IGNORED_HEADER] == "reasoning_effort"


async def test_a_gemini_answer_says_who_served_it_too():
    chain = mistral_chain(gemini_json(GEMINI_ANSWER))
    with taddons.context():
        flow = await chain.send("POST", "/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]})
    assert chain.transport.sent[0][1] == POOL_KEY
    assert flow.response.headers[SERVED_BY_HEADER] == f"gemini/{chain_config().gemini.default_model}"


async def test_a_model_whose_provider_has_no_keys_is_a_400_naming_it_and_nothing_goes_upstream():
    chain = RouterChain()
    with taddons.context():
        flow = await chain.send(
            "POST", "/v1/chat/completions", {"model": "mistral-large-latest", "messages": [{"role": "user", "content": "Hi"}]}
        )
    assert chain.sent == []
    error = json_of(flow)["error"]
    assert flow.response.status_code == 400 and error["param"] == "model" and "no mistral keys" in error["message"]


async def test_mistrals_refusal_reaches_the_client_in_openais_format():
    refusal = {"object": "error", "message": "Invalid model: mistral-nope", "type": "invalid_model", "param": None, "code": "1500"}
    chain = mistral_chain(gemini_json(refusal, status=400))
    with taddons.context():
        flow = await chain.send("POST", "/v1/chat/completions", {"model": "mistral-nope", "messages": [{"role": "user", "content": "Hi"}]})
    error = json_of(flow)["error"]
    assert flow.response.status_code == 400 and error["message"] == "Mistral rejected the request: Invalid model: mistral-nope"


def test_a_relayed_mistral_stream_is_translated_and_says_who_served_it():
    chat = ChatTranslation()
    config = chain_config(mistral={"keys": [{"name": "m", "key": MISTRAL_KEY}]})
    flow = tflow.tflow()
    flow.request.content = json.dumps(
        {"model": "mistral-small-latest", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    ).encode()
    chat.translate_request(flow, config)
    flow.response = http.Response.make(200, b"", {"content-type": "text/event-stream"})
    chat.start_stream(flow, config)
    assert flow.response.headers[SERVED_BY_HEADER] == "mistral/mistral-small-latest"
    upstream = b'data: {"choices": [{"index": 0, "delta": {"content": "Salut"}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n'
    chunks = flow.response.stream(upstream) + flow.response.stream(b"")
    events = [e.removeprefix("data: ") for e in b"".join(chunks).decode().split("\n\n") if e]
    deltas = [json.loads(e)["choices"][0]["delta"] for e in events[:-1] if json.loads(e)["choices"]]
    assert "".join(d.get("content") or "" for d in deltas) == "Salut" and events[-1] == "[DONE]"


ANTHROPIC_KEY = "sk-ant-api03-ChainKey-00000000000000000000000000000000000000000-AAAA"
ANTHROPIC_ANSWER = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "Bonjour"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 4, "output_tokens": 2},
}
CLAUDE_HI = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hi"}]}


async def test_a_claude_model_goes_to_anthropic_with_an_anthropic_key_and_its_refusal_comes_back_in_openais_format():
    refusal = {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: too large"}, "request_id": "req_1"}
    chain = RouterChain(gemini_json(ANTHROPIC_ANSWER), gemini_json(refusal, status=400), config=chain_config(
        anthropic={"keys": [{"name": "a", "key": ANTHROPIC_KEY}]}))  # fmt: skip
    chain.routing.transports["anthropic"] = chain.transport  # one scripted transport for both providers
    with taddons.context():
        flow = await chain.send(
            "POST", "/v1/chat/completions", {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hi"}]}
        )
        refused = await chain.send(
            "POST", "/v1/chat/completions", {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hi"}]}
        )
    (sent, key), _ = chain.transport.sent
    assert (sent.provider, sent.path, sent.model, key) == ("anthropic", "/v1/messages", "claude-sonnet-4-5", ANTHROPIC_KEY)
    assert json.loads(sent.body)["max_tokens"] > 0
    answer = json_of(flow)
    assert answer["choices"][0]["message"]["content"] == "Bonjour" and answer["usage"]["prompt_tokens"] == 7
    assert flow.response.headers[SERVED_BY_HEADER] == "anthropic/claude-sonnet-4-5"
    assert (
        refused.response.status_code == 400
        and json_of(refused)["error"]["message"] == "Anthropic rejected the request: max_tokens: too large"
    )


async def test_a_claude_model_without_anthropic_keys_stays_on_the_default_gemini_model():
    chain = RouterChain(gemini_json(GEMINI_ANSWER))
    with taddons.context():
        flow = await chain.send(
            "POST", "/v1/chat/completions", {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hi"}]}
        )
    assert chain.transport.sent[0][0].provider == "gemini"
    assert flow.response.headers[SERVED_BY_HEADER] == f"gemini/{chain_config().gemini.default_model}"
