"""NativePassthrough in the router's chain: Gemini's own API with a pool key. The body goes
upstream unchanged, the client's own key never does, and Gemini's answers (errors included)
come back as they are."""

from __future__ import annotations

import json

from mitmproxy.test import taddons
from routerchain import POOL_KEY, RouterChain, gemini_json

PATH = "/v1beta/models/gemini-2.5-flash:generateContent"
BODY = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}], "generationConfig": {"temperature": 0.1}}


async def test_the_body_goes_upstream_unchanged_with_a_pool_key_instead_of_the_clients():
    answer = {"candidates": [{"content": {"parts": [{"text": "Hello"}]}}]}
    chain = RouterChain(gemini_json(answer))
    with taddons.context():
        flow = await chain.send("POST", f"{PATH}?key=client-own-key&foo=bar", BODY, {"x-goog-api-key": "client-own-key"})
    [(sent, key)] = chain.transport.sent
    assert key == POOL_KEY and json.loads(sent.body) == BODY
    assert sent.path == PATH and sent.query == "foo=bar" and not sent.stream
    assert "client-own-key" not in str(flow.request.headers) and "client-own-key" not in flow.request.url
    assert flow.response.status_code == 200 and json.loads(flow.response.content) == answer


async def test_a_stream_keeps_alt_sse_and_geminis_errors_pass_through():
    error = {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad"}}
    chain = RouterChain(gemini_json(error, status=400))
    with taddons.context():
        flow = await chain.send("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", BODY)
    [sent] = chain.sent
    assert sent.stream and sent.query == "alt=sse"
    assert flow.response.status_code == 400 and json.loads(flow.response.content) == error  # Google's SDK reads Google's errors
