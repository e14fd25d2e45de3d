"""Embeddings in the router's chain: inputs go to Gemini's batchEmbedContents (more than 100
as several batches, each with failover), vectors come back in the client's order in OpenAI's
format, and bad input is a 400 that never goes upstream."""

from __future__ import annotations

import base64
import json
import struct

from mitmproxy.test import taddons
from routerchain import RouterChain, gemini_json, json_of


def vectors_for(batch_body: bytes) -> dict:
    """Gemini's answer to one batch: input i of the batch gets the vector [i, 1]."""
    count = len(json.loads(batch_body)["requests"])
    return {"embeddings": [{"values": [float(i), 1.0]} for i in range(count)]}


class EchoingTransport:
    """Answers each batch with one vector per input, so the order can be checked."""

    def __init__(self) -> None:
        self.sent = []
        self.timeout_seconds = 0.0

    async def send(self, request, key):
        self.sent.append(request)
        return gemini_json(vectors_for(request.body))

    async def close(self) -> None:
        pass


async def test_inputs_become_one_batch_and_vectors_come_back_in_openais_format():
    chain = RouterChain(gemini_json({"embeddings": [{"values": [0.1, 0.2]}, {"values": [0.3, 0.4]}]}))
    with taddons.context():
        flow = await chain.send("POST", "/v1/embeddings", {"model": "text-embedding-3-small", "input": ["one", "two"]})
    [sent] = chain.sent
    assert sent.path.endswith(":batchEmbedContents")
    assert [r["content"]["parts"][0]["text"] for r in json.loads(sent.body)["requests"]] == ["one", "two"]
    answer = json_of(flow)
    assert flow.response.status_code == 200 and answer["object"] == "list" and answer["model"] == "text-embedding-3-small"
    assert [d["embedding"] for d in answer["data"]] == [[0.1, 0.2], [0.3, 0.4]] and [d["index"] for d in answer["data"]] == [0, 1]
    assert answer["usage"]["prompt_tokens"] > 0


async def test_more_than_a_hundred_inputs_go_as_batches_in_order():
    chain = RouterChain()
    chain.routing.transports["gemini"] = transport = EchoingTransport()
    inputs = [f"text {n}" for n in range(150)]
    with taddons.context():
        flow = await chain.send("POST", "/v1/embeddings", {"model": "text-embedding-3-small", "input": inputs})
    assert [len(json.loads(r.body)["requests"]) for r in transport.sent] == [100, 50]
    data = json_of(flow)["data"]
    assert len(data) == 150 and data[99]["embedding"] == [99.0, 1.0] and data[100]["embedding"] == [0.0, 1.0]


async def test_base64_encoding_is_honoured():
    chain = RouterChain(gemini_json({"embeddings": [{"values": [0.5, -1.0]}]}))
    with taddons.context():
        flow = await chain.send("POST", "/v1/embeddings", {"model": "m", "input": "x", "encoding_format": "base64"})
    encoded = json_of(flow)["data"][0]["embedding"]
    assert struct.unpack("<2f", base64.b64decode(encoded)) == (0.5, -1.0)


async def test_bad_input_is_a_400_and_nothing_goes_upstream():
    chain = RouterChain()
    with taddons.context():
        flow = await chain.send("POST", "/v1/embeddings", {"model": "m", "input": []})
    assert chain.sent == [] and flow.response.status_code == 400
    assert json_of(flow)["error"]["type"] == "invalid_request_error" and json_of(flow)["error"]["param"] == "input"
