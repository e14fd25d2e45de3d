"""EmbeddingRequest -> Mistral's embeddings body, and its answer (as the emulator sends it) back."""

from __future__ import annotations

import math

import pytest
from hpn_router.core.model.answer import Usage
from hpn_router.core.model.embedding import EmbeddingRequest
from hpn_router.core.providers.mistral.embeddings import batch_bodies, dimensions_for, embedding_answer, embedding_body
from mistral_emulator.answers import AnswerContext, embeddings_response
from mistral_emulator.validate import EMBEDDING_FIELDS


def test_the_body_holds_only_what_mistral_takes() -> None:
    request = EmbeddingRequest("text-embedding-3-small", ("a", "b"), dimensions=256, encoding_format="base64")
    body = embedding_body(["a", "b"], request, "codestral-embed")
    assert body == {"model": "codestral-embed", "input": ["a", "b"], "output_dimension": 256}
    assert set(body) <= EMBEDDING_FIELDS
    # mistral-embed makes 1024 dimensions only: a request for 1024 is served without output_dimension.
    same = EmbeddingRequest("mistral-embed", ("a",), dimensions=1024)
    assert embedding_body(["a"], same, "mistral-embed") == {"model": "mistral-embed", "input": ["a"]}


def test_the_dimensions_each_model_can_make() -> None:
    assert (dimensions_for("mistral-embed").low, dimensions_for("mistral-embed").high) == (1024, 1024)
    assert (dimensions_for("codestral-embed-2505").low, dimensions_for("codestral-embed-2505").high) == (1, 3072)


def test_inputs_go_in_batches_under_the_token_budget_in_order() -> None:
    texts = ("a" * 30, "b" * 30, "c" * 30, "d" * 90)  # 10, 10, 10 and 30 estimated tokens
    bodies = batch_bodies(EmbeddingRequest("mistral-embed", texts), "mistral-embed", max_tokens=25)
    assert [b["input"] for b in bodies] == [["a" * 30, "b" * 30], ["c" * 30], ["d" * 90]]  # one too large goes alone
    assert len(batch_bodies(EmbeddingRequest("mistral-embed", ("x",) * 500), "mistral-embed")) == 1


def test_the_batches_answers_come_back_as_one_in_order() -> None:
    request = EmbeddingRequest("mistral-embed", ("one", "two", "three"))
    bodies = batch_bodies(request, "mistral-embed", max_tokens=1)
    responses = [embeddings_response(body, AnswerContext("mistral-embed", 1, 0)) for body in bodies]
    whole = embeddings_response({"model": "mistral-embed", "input": list(request.texts)}, AnswerContext("mistral-embed", 1, 0))
    answer = embedding_answer(responses, request)
    assert len(bodies) == 3 and answer.vectors == embedding_answer(whole, request).vectors
    assert answer.usage.input_tokens == sum(r["usage"]["prompt_tokens"] for r in responses)


def test_the_emulators_answer_comes_back_in_order_of_unit_length_with_its_usage() -> None:
    request = EmbeddingRequest("mistral-embed", ("one", "two", "three"))
    response = embeddings_response(embedding_body(list(request.texts), request, "mistral-embed"), AnswerContext("mistral-embed", 1, 0))
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
