"""Gemini embeddings: batches of ≤100 keep order; answers become unit vectors in input order,
with the usage counted or estimated; a malformed answer is Gemini's fault."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hpn_router.core.model.embedding import EmbeddingRequest
from hpn_router.core.providers.gemini.embeddings import DIMENSIONS, MAX_BATCH, batch_bodies, embedding_answer


def gemini(*vectors: list[float]) -> dict:
    return {"embeddings": [{"values": list(v)} for v in vectors]}


def request(*texts: str, **fields: Any) -> EmbeddingRequest:
    return EmbeddingRequest("text-embedding-3-small", texts or ("hello",), **fields)


# --- batching -----------------------------------------------------------------


@pytest.mark.parametrize(("count", "sizes"), [(1, [1]), (100, [100]), (101, [100, 1]), (250, [100, 100, 50])])
def test_batches_keep_order(count: int, sizes: list[int]) -> None:
    texts = [f"t{i}" for i in range(count)]
    batches = batch_bodies(request(*texts), "gemini-embedding-001")
    assert [len(b["requests"]) for b in batches] == sizes
    assert all(len(b["requests"]) <= MAX_BATCH for b in batches)
    assert [r["content"]["parts"][0]["text"] for b in batches for r in b["requests"]] == texts


def test_batch_request_shape() -> None:
    [batch] = batch_bodies(request(dimensions=768), "gemini-embedding-001", task_type="RETRIEVAL_QUERY")
    assert batch == {
        "requests": [
            {
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": "hello"}]},
                "outputDimensionality": 768,
                "taskType": "RETRIEVAL_QUERY",
            }
        ]
    }


def test_batch_without_options_and_prefixed_model() -> None:
    [batch] = batch_bodies(request("x"), "models/gemini-embedding-001")
    assert batch["requests"] == [{"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "x"}]}}]


# --- answers ------------------------------------------------------------------


def test_vectors_in_order_and_the_usage_estimated_from_the_text() -> None:
    answer = embedding_answer([gemini([0.1, -0.2]), gemini([3.0, 4.0])], request("abcde", "abcd"))
    assert answer.vectors == [[0.1, -0.2], [3.0, 4.0]]  # full length: Gemini's own vectors, untouched
    assert answer.usage.input_tokens == 3  # ceil(5/4) + ceil(4/4)


def test_counted_token_ids_are_the_usage() -> None:
    assert embedding_answer([gemini([1.0])], request("a long text", input_tokens=7)).usage.input_tokens == 7


@pytest.mark.parametrize(("dimensions", "normalized"), [(256, True), (DIMENSIONS.high - 1, True), (DIMENSIONS.high, False), (None, False)])
def test_shortened_vectors_are_normalized(dimensions: int | None, normalized: bool) -> None:
    [vector, zero] = embedding_answer([gemini([3, 4], [0, 0])], request("a", "b", dimensions=dimensions)).vectors
    assert vector == (pytest.approx([0.6, 0.8]) if normalized else [3.0, 4.0])
    assert zero == [0.0, 0.0]  # a zero vector stays zero, no division by zero


def test_normalized_vectors_have_unit_length() -> None:
    [vector] = embedding_answer([gemini([1, 1, 1, 1])], request(dimensions=256)).vectors
    assert math.isclose(math.fsum(v * v for v in vector), 1.0, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("responses", "texts"),
    [
        ([gemini([1.0])], ("a", "b")),
        ([gemini([1.0]), gemini([2.0])], ("a",)),
        ([], ("a",)),
    ],
)
def test_count_mismatch(responses: list[dict], texts: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="embeddings for"):
        embedding_answer(responses, request(*texts))


@pytest.mark.parametrize(
    "response",
    [{}, {"embeddings": None}, {"embeddings": [{}]}, {"embeddings": [{"values": ["x"]}]}, {"embeddings": [{"values": [True]}]}, "oops"],
)
def test_malformed_upstream(response: Any) -> None:
    with pytest.raises(ValueError):
        embedding_answer([response], request("a"))
