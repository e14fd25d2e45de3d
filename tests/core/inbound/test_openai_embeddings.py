"""openai_embeddings: validation names the field, token ids are decoded to text, and vectors
go back as OpenAI wants them (floats or base64)."""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest
from hpn_router.core.errors import InvalidRequest
from hpn_router.core.inbound.openai_embeddings import TokenDecoder, embedding_request, openai_embeddings
from hpn_router.core.model.answer import Usage
from hpn_router.core.model.embedding import DimensionRange, EmbeddingAnswer, EmbeddingRequest
from hpn_router.edge.tiktoken_files import cl100k_base

BASE: dict[str, Any] = {"model": "text-embedding-3-small", "input": "hello"}
DIMENSIONS = DimensionRange(128, 3072, "Gemini embedding models")


def with_(**fields: Any) -> dict:
    return {**BASE, **fields}


class NoDecoding:
    """For text requests: building the encoding is a mistake there."""

    def __call__(self) -> TokenDecoder:
        raise AssertionError("a text request asked for the token encoding")


def parse(body: object) -> EmbeddingRequest:
    return embedding_request(body, dimensions=DIMENSIONS, encoding=NoDecoding())


def parse_tokens(body: object) -> EmbeddingRequest:
    return embedding_request(body, dimensions=DIMENSIONS, encoding=cl100k_base)


def decode(b64: str) -> list[float]:
    raw = base64.b64decode(b64)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


# --- validation ---------------------------------------------------------------

INVALID: list[tuple[str, object, str | None, str | None]] = [
    ("not an object", ["hello"], None, None),
    ("no model", {"input": "x"}, "model", None),
    ("blank model", with_(model=" "), "model", None),
    ("model not str", with_(model=3), "model", None),
    ("no input", {"model": "m"}, "input", None),
    ("empty string", with_(input=""), "input", None),
    ("empty list", with_(input=[]), "input", None),
    ("input object", with_(input={"text": "x"}), "input", None),
    ("number in list", with_(input=["a", "b", "c", 5]), "input[3]", None),
    ("null in list", with_(input=["a", None]), "input[1]", None),
    ("empty in list", with_(input=["a", ""]), "input[1]", None),
    ("nested strings", with_(input=[["a"]]), "input[0]", None),
    ("empty token array", with_(input=[[1, 2], []]), "input[1]", None),
    ("token array with a string", with_(input=[[1, 2], ["a"]]), "input[1]", None),
    ("token float", with_(input=[1, 2.0]), "input[0]", None),
    ("bad encoding", with_(encoding_format="int8"), "encoding_format", None),
    ("dimensions zero", with_(dimensions=0), "dimensions", None),
    ("dimensions negative", with_(dimensions=-5), "dimensions", None),
    ("dimensions float", with_(dimensions=256.0), "dimensions", None),
    ("dimensions bool", with_(dimensions=True), "dimensions", None),
    ("dimensions too small", with_(dimensions=64), "dimensions", "unsupported_value"),
    ("dimensions too big", with_(dimensions=4096), "dimensions", "unsupported_value"),
]


@pytest.mark.parametrize(("body", "param", "code"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid(body: object, param: str | None, code: str | None) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse(body)
    assert info.value.param == param
    assert info.value.code == code
    if param:
        assert info.value.message.startswith(f"{param}: ")


def test_message_shows_bad_value() -> None:
    with pytest.raises(InvalidRequest, match=r"^input\[3\]: expected a string, got 5$"):
        parse(with_(input=["a", "b", "c", 5]))


def test_the_dimension_range_is_the_providers() -> None:
    with pytest.raises(InvalidRequest, match=r"^dimensions: must be between 128 and 3072 for Gemini embedding models, got 64$"):
        parse(with_(dimensions=64))
    narrow = DimensionRange(256, 1024, "Other models")
    with pytest.raises(InvalidRequest, match=r"^dimensions: must be between 256 and 1024 for Other models, got 128$"):
        embedding_request(with_(dimensions=128), dimensions=narrow, encoding=NoDecoding())


def test_valid_defaults() -> None:
    assert parse(with_(user="u-1")) == EmbeddingRequest("text-embedding-3-small", ("hello",), None, "float", None)


@pytest.mark.parametrize("dims", [128, 768, 3072])
def test_valid_dimensions_and_base64(dims: int) -> None:
    request = parse(with_(input=["a", "b"], dimensions=dims, encoding_format="base64"))
    assert (request.texts, request.dimensions, request.encoding_format) == (("a", "b"), dims, "base64")


def test_explicit_null_encoding_is_float() -> None:
    assert parse(with_(encoding_format=None)).encoding_format == "float"


# --- token ids ----------------------------------------------------------------

HELLO_WORLD = [15339, 1917]  # cl100k_base


@pytest.mark.parametrize(
    ("sent", "texts", "count"),
    [
        (HELLO_WORLD, ("hello world",), 2),
        ([HELLO_WORLD, [9906], [100257]], ("hello world", "Hello", "<|endoftext|>"), 4),
        ([[94]], ("\ufffd",), 1),  # half of a multi-byte character, as tiktoken's decode spells it
    ],
)
def test_token_ids_decode_to_their_text_and_count_as_the_usage(sent: list, texts: tuple[str, ...], count: int) -> None:
    request = parse_tokens(with_(input=sent, dimensions=256))
    assert request == EmbeddingRequest("text-embedding-3-small", texts, 256, "float", input_tokens=count)


@pytest.mark.parametrize(
    ("sent", "param", "bad"),
    [
        ([15339, 100256], "input", "100256"),  # a gap between the ranks and the special tokens
        ([HELLO_WORLD, [15339, 100300]], "input[1]", "100300"),
        ([[1], [-1]], "input[1]", "-1"),
        ([[2**64]], "input[0]", str(2**64)),
    ],
)
def test_token_ids_outside_cl100k_base_name_the_input(sent: list, param: str, bad: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_tokens(with_(input=sent))
    assert info.value.param == param
    assert info.value.message == f"{param}: token id {bad} is not in cl100k_base, the encoding of OpenAI's embedding models"


def test_a_bad_field_is_reported_before_the_token_ids_are_decoded() -> None:
    with pytest.raises(InvalidRequest) as info:
        embedding_request(with_(input=[1, 2], dimensions=5000), dimensions=DIMENSIONS, encoding=NoDecoding())
    assert info.value.param == "dimensions"


# --- the answer ---------------------------------------------------------------


def answer(*vectors: list[float], tokens: int = 3) -> EmbeddingAnswer:
    return EmbeddingAnswer([list(v) for v in vectors], Usage(tokens))


def test_floats_in_order_under_the_clients_model_name() -> None:
    request = EmbeddingRequest("text-embedding-3-small", ("abcde", "abcd"))
    assert openai_embeddings(answer([0.1, -0.2], [3.0, 4.0]), request) == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.1, -0.2]},
            {"object": "embedding", "index": 1, "embedding": [3.0, 4.0]},
        ],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
    }


def test_base64_round_trip() -> None:
    vector = [0.5, -1.25, 3.0, 1e-3]
    out = openai_embeddings(answer(vector), EmbeddingRequest("m", ("a",), encoding_format="base64"))
    encoded = out["data"][0]["embedding"]
    assert isinstance(encoded, str)
    assert decode(encoded) == pytest.approx(vector, rel=1e-6)
