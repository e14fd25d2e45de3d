"""The embeddings model carries one request from OpenAI's API to Gemini's and the answer back:
what the client sent arrives at both ends, and the objects are values (frozen, no per-instance dict)."""

from __future__ import annotations

import dataclasses

import pytest
from hpn_router.core.inbound.openai_embeddings import TokenDecoder, embedding_request, openai_embeddings
from hpn_router.core.model.answer import Usage
from hpn_router.core.model.embedding import EmbeddingAnswer, EmbeddingRequest
from hpn_router.core.providers.gemini.embeddings import DIMENSIONS, batch_bodies, embedding_answer


def no_decoding() -> TokenDecoder:
    raise AssertionError("not a token-id request")


def test_openai_to_gemini_and_back_through_the_model() -> None:
    request = embedding_request(
        {"model": "text-embedding-3-small", "input": ["one", "two"], "dimensions": 256, "encoding_format": "float"},
        dimensions=DIMENSIONS,
        encoding=no_decoding,
    )
    [body] = batch_bodies(request, "gemini-embedding-001")
    assert [(r["content"]["parts"][0]["text"], r["outputDimensionality"]) for r in body["requests"]] == [("one", 256), ("two", 256)]
    answer = embedding_answer([{"embeddings": [{"values": [3.0, 4.0]}, {"values": [0.0, 2.0]}]}], request)
    out = openai_embeddings(answer, request)
    assert [d["embedding"] for d in out["data"]] == [pytest.approx([0.6, 0.8]), [0.0, 1.0]]
    assert out["model"] == "text-embedding-3-small" and out["usage"] == {"prompt_tokens": 2, "total_tokens": 2}


def test_the_model_objects_are_frozen_and_slotted() -> None:
    request = EmbeddingRequest("m", ("a",))
    answer = EmbeddingAnswer([[1.0]], Usage(1))
    for value in (request, answer, answer.usage):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, dataclasses.fields(value)[0].name, None)
        assert not hasattr(value, "__dict__")
    assert (request.dimensions, request.encoding_format, request.input_tokens) == (None, "float", None)
