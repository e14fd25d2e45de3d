"""embeddings: validation names the field; batches of ≤100 keep order; vectors come back as OpenAI wants."""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

import pytest
from hpn_router.core.embeddings import (
    MAX_BATCH,
    decode_token_ids,
    embedding_batches,
    embeddings_to_openai,
    holds_token_ids,
    token_id_count,
    validate_embeddings_request,
)
from hpn_router.core.errors import InvalidRequest
from hpn_router.edge.tiktoken_files import cl100k_base

BASE: dict[str, Any] = {"model": "text-embedding-3-small", "input": "hello"}


def with_(**fields: Any) -> dict:
    return {**BASE, **fields}


def gemini(*vectors: list[float]) -> dict:
    return {"embeddings": [{"values": list(v)} for v in vectors]}


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
        validate_embeddings_request(body)
    assert info.value.param == param
    assert info.value.code == code
    if param:
        assert info.value.message.startswith(f"{param}: ")


def test_message_shows_bad_value() -> None:
    with pytest.raises(InvalidRequest, match=r"^input\[3\]: expected a string, got 5$"):
        validate_embeddings_request(with_(input=["a", "b", "c", 5]))


def test_valid_defaults() -> None:
    body = validate_embeddings_request(with_(user="u-1"))
    assert body["input"] == ["hello"]
    assert body["encoding_format"] == "float"
    assert body.get("dimensions") is None


@pytest.mark.parametrize("dims", [128, 768, 3072])
def test_valid_dimensions_and_base64(dims: int) -> None:
    body = validate_embeddings_request(with_(input=["a", "b"], dimensions=dims, encoding_format="base64"))
    assert (body["input"], body["dimensions"], body["encoding_format"]) == (["a", "b"], dims, "base64")


def test_explicit_null_encoding_is_float() -> None:
    assert validate_embeddings_request(with_(encoding_format=None))["encoding_format"] == "float"


# --- token ids ----------------------------------------------------------------

HELLO_WORLD = [15339, 1917]  # cl100k_base


def test_text_input_is_not_token_ids() -> None:
    assert not holds_token_ids(validate_embeddings_request(with_(input=["a"])))


@pytest.mark.parametrize(
    ("sent", "texts", "count"),
    [
        (HELLO_WORLD, ["hello world"], 2),
        ([HELLO_WORLD, [9906], [100257]], ["hello world", "Hello", "<|endoftext|>"], 4),
        ([[94]], ["\ufffd"], 1),  # half of a multi-byte character, as tiktoken's decode spells it
    ],
)
def test_token_ids_decode_to_their_text(sent: list, texts: list[str], count: int) -> None:
    body = validate_embeddings_request(with_(input=sent, dimensions=256))
    assert holds_token_ids(body) and token_id_count(body) == count
    decoded = decode_token_ids(body, cl100k_base())
    assert decoded == {**body, "input": texts}
    assert [r["content"]["parts"][0]["text"] for r in embedding_batches(decoded, "gemini-embedding-001")[0]["requests"]] == texts


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
        decode_token_ids(validate_embeddings_request(with_(input=sent)), cl100k_base())
    assert info.value.param == param
    assert info.value.message == f"{param}: token id {bad} is not in cl100k_base, the encoding of OpenAI's embedding models"


def test_known_token_count_is_the_usage() -> None:
    out = embeddings_to_openai(
        [gemini([1.0])], model="m", encoding_format="float", inputs=["a long text"], normalize=False, prompt_tokens=7
    )
    assert out["usage"] == {"prompt_tokens": 7, "total_tokens": 7}


# --- batching -----------------------------------------------------------------


@pytest.mark.parametrize(("count", "sizes"), [(1, [1]), (100, [100]), (101, [100, 1]), (250, [100, 100, 50])])
def test_batches_keep_order(count: int, sizes: list[int]) -> None:
    texts = [f"t{i}" for i in range(count)]
    batches = embedding_batches(validate_embeddings_request(with_(input=texts)), "gemini-embedding-001")
    assert [len(b["requests"]) for b in batches] == sizes
    assert all(len(b["requests"]) <= MAX_BATCH for b in batches)
    sent = [r["content"]["parts"][0]["text"] for b in batches for r in b["requests"]]
    assert sent == texts


def test_batch_request_shape() -> None:
    body = validate_embeddings_request(with_(dimensions=768))
    [batch] = embedding_batches(body, "gemini-embedding-001", task_type="RETRIEVAL_QUERY")
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
    [batch] = embedding_batches({"input": "x"}, "models/gemini-embedding-001")
    assert batch["requests"] == [{"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "x"}]}}]


# --- response -----------------------------------------------------------------


def test_float_pass_through_and_usage() -> None:
    out = embeddings_to_openai(
        [gemini([0.1, -0.2]), gemini([3.0, 4.0])],
        model="text-embedding-3-small",
        encoding_format="float",
        inputs=["abcde", "abcd"],
        normalize=False,
    )
    assert out == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.1, -0.2]},
            {"object": "embedding", "index": 1, "embedding": [3.0, 4.0]},
        ],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 3, "total_tokens": 3},  # ceil(5/4) + ceil(4/4)
    }


def test_normalize() -> None:
    out = embeddings_to_openai([gemini([3, 4], [0, 0])], model="m", encoding_format="float", inputs=["a", "b"], normalize=True)
    assert out["data"][0]["embedding"] == pytest.approx([0.6, 0.8])
    assert out["data"][1]["embedding"] == [0.0, 0.0]  # a zero vector stays zero, no division by zero


def test_base64_round_trip() -> None:
    vector = [0.5, -1.25, 3.0, 1e-3]
    out = embeddings_to_openai([gemini(vector)], model="m", encoding_format="base64", inputs=["a"], normalize=False)
    encoded = out["data"][0]["embedding"]
    assert isinstance(encoded, str)
    assert decode(encoded) == pytest.approx(vector, rel=1e-6)


def test_base64_normalized() -> None:
    responses = [gemini([1, 1, 1, 1])]
    out = embeddings_to_openai(responses, model="m", encoding_format="base64", inputs=["a"], normalize=True)
    decoded = decode(out["data"][0]["embedding"])
    assert decoded == pytest.approx([0.5] * 4)
    assert math.isclose(math.fsum(v * v for v in decoded), 1.0, rel_tol=1e-6)


@pytest.mark.parametrize(
    ("responses", "inputs"),
    [
        ([gemini([1.0])], ["a", "b"]),
        ([gemini([1.0]), gemini([2.0])], ["a"]),
        ([], ["a"]),
    ],
)
def test_count_mismatch(responses: list[dict], inputs: list[str]) -> None:
    with pytest.raises(ValueError, match="embeddings for"):
        embeddings_to_openai(responses, model="m", encoding_format="float", inputs=inputs, normalize=False)


@pytest.mark.parametrize(
    "response",
    [{}, {"embeddings": None}, {"embeddings": [{}]}, {"embeddings": [{"values": ["x"]}]}, "oops"],
)
def test_malformed_upstream(response: Any) -> None:
    with pytest.raises(ValueError):
        embeddings_to_openai([response], model="m", encoding_format="float", inputs=["a"], normalize=False)


def test_unknown_encoding_is_caller_bug() -> None:
    with pytest.raises(ValueError, match="encoding_format"):
        embeddings_to_openai([gemini([1.0])], model="m", encoding_format="int8", inputs=["a"], normalize=False)
