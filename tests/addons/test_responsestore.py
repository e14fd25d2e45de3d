"""Stored Responses in the router's chain: a response is kept unless `store: false`, a later
request's `previous_response_id` sends its conversation upstream first, and
`GET`/`DELETE /v1/responses/{id}` answer from the store, each for the client that created it."""

from __future__ import annotations

import json

from hpn_router.addons.flowcontext import context
from hpn_router.addons.responses import ResponsesTranslation
from hpn_router.addons.responsestore import _named_response
from mitmproxy import http
from mitmproxy.test import taddons, tflow
from routerchain import RouterChain, chain_config, gemini_json, json_of

GEMINI_ANSWER = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "Bonjour"}]}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1, "totalTokenCount": 5},
}
ALICE, BOB = "client_alice", "client_bob"


async def test_a_response_is_stored_read_back_and_deleted_by_its_client():
    chain = RouterChain(gemini_json(GEMINI_ANSWER))
    with taddons.context():
        created = json_of(await chain.send("POST", "/v1/responses", {"model": "gpt-4o", "input": "Hello"}, client=ALICE))
        assert created["store"] is True and created["previous_response_id"] is None
        read = await chain.send("GET", f"/v1/responses/{created['id']}", client=ALICE)
        assert read.response.status_code == 200 and json_of(read) == created
        deleted = await chain.send("DELETE", f"/v1/responses/{created['id']}", client=ALICE)
        assert json_of(deleted) == {"id": created["id"], "object": "response", "deleted": True}
        gone = await chain.send("GET", f"/v1/responses/{created['id']}", client=ALICE)
    assert gone.response.status_code == 404 and json_of(gone)["error"]["message"] == f"Response with id '{created['id']}' not found."
    assert len(chain.sent) == 1  # only the creation went upstream


async def test_previous_response_id_sends_the_stored_conversation_before_the_new_input():
    chain = RouterChain(gemini_json(GEMINI_ANSWER), gemini_json(GEMINI_ANSWER))
    with taddons.context():
        first = json_of(await chain.send("POST", "/v1/responses", {"model": "gpt-4o", "instructions": "Be brief", "input": "Hello"}))
        body = {"model": "gpt-4o", "instructions": "Answer in French", "input": "And you?", "previous_response_id": first["id"]}
        second = json_of(await chain.send("POST", "/v1/responses", body))
    gemini = json.loads(chain.sent[1].body)
    assert gemini["contents"] == [
        {"role": "user", "parts": [{"text": "Hello"}]},
        {"role": "model", "parts": [{"text": "Bonjour"}]},
        {"role": "user", "parts": [{"text": "And you?"}]},
    ]
    assert gemini["systemInstruction"]["parts"][0]["text"] == "Answer in French"  # instructions are not carried over
    assert second["previous_response_id"] == first["id"] and second["id"] != first["id"]


async def test_another_clients_response_is_unknown_to_read_delete_or_continue():
    chain = RouterChain(gemini_json(GEMINI_ANSWER))
    with taddons.context():
        created = json_of(await chain.send("POST", "/v1/responses", {"model": "gpt-4o", "input": "secret"}, client=ALICE))
        read = await chain.send("GET", f"/v1/responses/{created['id']}", client=BOB)
        deleted = await chain.send("DELETE", f"/v1/responses/{created['id']}", client=BOB)
        body = {"model": "gpt-4o", "input": "What did she say?", "previous_response_id": created["id"]}
        continued = await chain.send("POST", "/v1/responses", body, client=BOB)
        still_there = await chain.send("GET", f"/v1/responses/{created['id']}", client=ALICE)
    assert read.response.status_code == 404 and deleted.response.status_code == 404 and b"secret" not in read.response.content
    assert continued.response.status_code == 400 and json_of(continued)["error"] == {
        "message": f"Previous response with id '{created['id']}' not found.",
        "type": "invalid_request_error",
        "param": "previous_response_id",
        "code": "previous_response_not_found",
    }
    assert len(chain.sent) == 1 and still_there.response.status_code == 200


async def test_store_false_keeps_nothing_to_read_or_continue():
    chain = RouterChain(gemini_json(GEMINI_ANSWER))
    with taddons.context():
        created = json_of(await chain.send("POST", "/v1/responses", {"model": "gpt-4o", "input": "Hi", "store": False}))
        read = await chain.send("GET", f"/v1/responses/{created['id']}")
        body = {"model": "gpt-4o", "input": "Again", "previous_response_id": created["id"]}
        continued = await chain.send("POST", "/v1/responses", body)
    assert created["store"] is False and read.response.status_code == 404
    assert json_of(continued)["error"]["code"] == "previous_response_not_found" and len(chain.sent) == 1


async def test_a_store_turned_off_by_config_says_so_in_the_response():
    chain = RouterChain(gemini_json(GEMINI_ANSWER), config=chain_config(responses={"store_max": 0}))
    with taddons.context():
        created = json_of(await chain.send("POST", "/v1/responses", {"model": "gpt-4o", "input": "Hi"}))
    assert created["store"] is False and len(chain.responses.store) == 0


def test_a_relayed_stream_is_stored_once_it_has_ended():
    responses, config = ResponsesTranslation(clock=lambda: 0.0), chain_config()
    flow = tflow.tflow()
    flow.request.content = json.dumps({"model": "gpt-4o", "input": "Hi", "stream": True}).encode()
    responses.translate_request(flow, config)
    flow.response = http.Response.make(200, b"", {"content-type": "text/event-stream"})
    responses.start_stream(flow, config)
    chunks = flow.response.stream(b"data: " + json.dumps(GEMINI_ANSWER).encode() + b"\r\n\r\n") + flow.response.stream(b"")
    completed = json.loads(b"".join(chunks).decode().strip().split("\n\n")[-1].split("\ndata: ", 1)[1])["response"]
    context(flow).relayed = True
    responses.translate_response(flow, config)
    stored = responses.store.get(completed["id"], "anonymous", now=0.0)
    assert completed["store"] is True and stored is not None and stored.response() == completed
    assert [m.role for m in stored.conversation] == ["user", "assistant"]


def test_the_response_a_request_names_is_read_only_when_it_names_one():
    def flow(method: str, path: str, body: bytes = b"") -> http.HTTPFlow:
        f = tflow.tflow()
        f.request.method, f.request.path, f.request.content = method, path, body
        return f

    assert _named_response(flow("GET", "/v1/responses/resp_1"), "response") == "resp_1"
    assert _named_response(flow("DELETE", "/v1/responses/resp_1"), "response") == "resp_1"
    assert _named_response(flow("POST", "/v1/responses", b'{"previous_response_id": "resp_2", "input": "x"}'), "responses") == "resp_2"
    for body in (b'{"input": "x"}', b'{"previous_response_id": null}', b'{"previous_response_id": 7}', b"previous_response_id{", b"[]"):
        assert _named_response(flow("POST", "/v1/responses", body), "responses") is None
    assert _named_response(flow("POST", "/v1/chat/completions", b'{"previous_response_id": "r"}'), "chat") is None
