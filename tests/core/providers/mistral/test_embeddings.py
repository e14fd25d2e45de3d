"""EmbeddingRequest -> Mistral's embeddings body, and its answer (as the emulator sends it) back."""

from __future__ import annotations

import math

import pytest
from hpn_router.core.model.answer import Usage
from hpn_router.core.model.embedding import EmbeddingRequest
from hpn_router.core.providers.mistral.embeddings import embedding_answer, embedding_body
from mistral_emulator.answers import AnswerContext, embeddings_response
from mistral_emulator.validate import EMBEDDING_FIELDS


def test_the_body_holds_only_what_mistral_takes() -> None:
    body = embedding_body(EmbeddingRequest("text-embedding-3-small", ("a", "b"), dimensions=256, encoding_format="base64"), "mistral-embed")
    assert body == {"model": "mistral-embed", "input": ["a", "b"], "output_dimension": 256}
    assert set(body) <= EMBEDDING_FIELDS


def test_the_emulators_answer_comes_back_in_order_of_unit_length_with_its_usage() -> None:
    request = EmbeddingRequest("mistral-embed", ("one", "two", "three"))
    response = embeddings_response(embedding_body(request, "mistral-embed"), AnswerContext("mistral-embed", 1, 0))
    response["data"].reverse()  # the index, not the order in the list, says which input it is
    answer = embedding_answer(response, request)
    assert len(answer.vectors) == 3 and answer.usage == Usage(response["usage"]["prompt_tokens"])
    assert all(math.isclose(math.fsum(v * v for v in vector), 1.0) for vector in answer.vectors)
    expected_first = embedding_answer(
        embeddings_response({"model": "mistral-embed", "input": ["one"]}, AnswerContext("m", 1, 0)), EmbeddingRequest("m", ("one",))
    )
    assert answer.vectors[0] == expected_first.vectors[0]


@pytest.mark.parametrize(
    "response",
    [{}, {"data": "x"}, {"data": [{"embedding": "AAAA", "index": 0}]}, {"data": []}, {"data": [{"embedding": [float("nan")], "index": 0}]}],
)
def test_a_malformed_answer_is_a_value_error(response) -> None:
    with pytest.raises(ValueError):
        embedding_answer(response, EmbeddingRequest("m", ("x",)))
