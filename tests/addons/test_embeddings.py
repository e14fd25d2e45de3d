"""Embeddings in the router's chain: inputs go to Gemini's batchEmbedContents (more than 100
as several batches, each with failover), vectors come back in the client's order in OpenAI's
format, and bad input is a 400 that never goes upstream."""

from __future__ import annotations

import base64
import json
import struct

from hpn_router.addons.flowcontext import context
from hpn_router.core.model.answer import Usage
from mitmproxy.test import taddons
from routerchain import RouterChain, chain_config, gemini_json, json_of


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


async def test_the_model_name_is_routed_and_the_client_keeps_its_own_name():
    config = chain_config(models={"my-embedder": "text-embedding-004"}, gemini={"default_embedding_model": "gemini-embedding-001"})
    answer = gemini_json({"embeddings": [{"values": [1.0]}]})
    chain = RouterChain(answer, answer, config=config)
    with taddons.context():
        aliased = await chain.send("POST", "/v1/embeddings", {"model": "my-embedder", "input": "x"})
        openai_name = await chain.send("POST", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "x"})
    assert [r.path for r in chain.sent] == [
        "/v1beta/models/text-embedding-004:batchEmbedContents",
        "/v1beta/models/gemini-embedding-001:batchEmbedContents",
    ]
    assert json_of(aliased)["model"] == "my-embedder" and json_of(openai_name)["model"] == "text-embedding-3-small"
    assert context(aliased).gemini_model == "text-embedding-004"


async def test_token_ids_go_as_their_text_and_count_as_the_usage():
    chain = RouterChain(gemini_json({"embeddings": [{"values": [3.0, 4.0]}]}))
    with taddons.context():
        flow = await chain.send("POST", "/v1/embeddings", {"model": "m", "input": [15339, 1917], "dimensions": 256})
    [sent] = chain.sent
    [request] = json.loads(sent.body)["requests"]
    assert request["content"]["parts"][0]["text"] == "hello world" and request["outputDimensionality"] == 256
    answer = json_of(flow)
    assert answer["usage"] == {"prompt_tokens": 2, "total_tokens": 2} and context(flow).usage == Usage(input_tokens=2)
    assert answer["data"][0]["embedding"] == [0.6, 0.8]  # a shortened vector is normalized


async def test_a_malformed_gemini_answer_is_the_routers_error_not_a_crash():
    chain = RouterChain(gemini_json({"embeddings": [{"values": [1.0]}]}))
    with taddons.context():
        flow = await chain.send("POST", "/v1/embeddings", {"model": "m", "input": ["a", "b"]})  # one vector for two inputs
    assert flow.response.status_code == 500 and json_of(flow)["error"]["message"] == "The router failed to translate Gemini's answer."


async def test_mistral_embed_goes_to_mistral_in_one_request_with_a_mistral_key():
    key = "mistralEmbedKey0123456789abcdef"
    chain = RouterChain(
        gemini_json({"data": [{"object": "embedding", "embedding": [0.0, 2.0], "index": 0}], "usage": {"prompt_tokens": 3}}),
        config=chain_config(mistral={"keys": [{"name": "m", "key": key}]}),
    )
    chain.routing.transports["mistral"] = chain.transport
    with taddons.context():
        flow = await chain.send("POST", "/v1/embeddings", {"model": "mistral-embed", "input": "hello", "user": "u"})
    [(sent, used)] = chain.transport.sent
    assert (sent.provider, sent.path, used) == ("mistral", "/v1/embeddings", key)
    assert json.loads(sent.body) == {"model": "mistral-embed", "input": ["hello"]}
    answer = json_of(flow)
    assert answer["data"][0]["embedding"] == [0.0, 1.0] and answer["usage"]["prompt_tokens"] == 3
    assert flow.response.headers["X-HPN-Served-By"] == "mistral/mistral-embed"


async def test_mistral_embed_without_mistral_keys_is_a_400():
    chain = RouterChain()
    with taddons.context():
        flow = await chain.send("POST", "/v1/embeddings", {"model": "mistral-embed", "input": "hello"})
    assert chain.sent == [] and flow.response.status_code == 400 and "no mistral keys" in json_of(flow)["error"]["message"]


async def test_mistral_embed_refuses_other_dimensions_before_sending_and_batches_large_inputs():
    key = "mistralEmbedKey0123456789abcdef"
    many = ["x" * 2997 + f"{i:03d}" for i in range(20)]  # 3000 bytes: 1000 estimated tokens each, 16 to a batch
    answers = [{"data": [{"embedding": [1.0, 0.0], "index": i} for i in range(n)], "usage": {"prompt_tokens": n}} for n in (16, 4)]
    chain = RouterChain(*(gemini_json(a) for a in answers), config=chain_config(mistral={"keys": [{"name": "m", "key": key}]}))
    chain.routing.transports["mistral"] = chain.transport
    with taddons.context():
        refused = await chain.send("POST", "/v1/embeddings", {"model": "mistral-embed", "input": "hello", "dimensions": 256})
        served = await chain.send("POST", "/v1/embeddings", {"model": "mistral-embed", "input": many, "dimensions": 1024})
    error = json_of(refused)["error"]
    assert refused.response.status_code == 400 and error["param"] == "dimensions" and "1024" in error["message"]
    assert [len(json.loads(sent.body)["input"]) for sent in chain.sent] == [16, 4]
    assert all("output_dimension" not in json.loads(sent.body) for sent in chain.sent)
    answer = json_of(served)
    assert [d["index"] for d in answer["data"]] == list(range(20)) and answer["usage"]["prompt_tokens"] == 20
