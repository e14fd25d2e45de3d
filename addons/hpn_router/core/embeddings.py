"""OpenAI ``/v1/embeddings`` ⇄ Gemini ``batchEmbedContents`` (docs/gemini-wire-format.md#embeddings).

Pure: dicts in, dicts out. Inputs go out in batches of at most ``MAX_BATCH``
(Gemini rejects bigger ones with a 400) and come back in the same order.
Vectors are returned as floats or, when asked, as base64 of little-endian
float32 — openai-python asks for base64 whenever its caller did not choose.

Inputs may be token ids (``int[]`` or ``int[][]``, counted with tiktoken's
cl100k_base: LangChain's OpenAIEmbeddings sends them by default). Gemini takes
only text, so they are decoded back to it with the encoding the caller passes.

Usage:
    body = validate_embeddings_request(json.loads(raw))
    if holds_token_ids(body):
        body = decode_token_ids(body, encoding)   # a tiktoken.Encoding for cl100k_base
    batches = embedding_batches(body, "gemini-embedding-001", task_type=None)
    # POST each to models/gemini-embedding-001:batchEmbedContents, in order
    dims = body.get("dimensions")
    answer = embeddings_to_openai(responses, model=body["model"],
                                  encoding_format=body["encoding_format"],
                                  inputs=body["input"],
                                  normalize=dims is not None and dims < MAX_DIMENSIONS)
"""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import Sequence
from typing import Any, Protocol

from .chat_validate import fail, is_int, is_number
from .errors import InvalidRequest

# Gemini's per-call limit for batchEmbedContents (docs/gemini-wire-format.md#endpoints).
MAX_BATCH = 100
ENCODING_FORMATS = ("float", "base64")
# gemini-embedding-001's outputDimensionality range; its default is the maximum.
MIN_DIMENSIONS = 128
MAX_DIMENSIONS = 3072
UNSUPPORTED = "unsupported_value"
# The encoding of text-embedding-3-* and ada-002, and the one tiktoken users (LangChain among
# them) fall back to for model names tiktoken does not know, such as Gemini's.
TOKEN_ENCODING = "cl100k_base"


class TokenDecoder(Protocol):
    """What decoding needs of a tiktoken.Encoding. Raises KeyError (or OverflowError) for an
    id outside the encoding's vocabulary."""

    def decode_bytes(self, tokens: Sequence[int], /) -> bytes: ...


def validate_embeddings_request(body: object) -> dict[str, Any]:
    """Check ``body``; return a copy with ``input`` as a list of strings (token ids stay
    as sent: see ``holds_token_ids``) and ``encoding_format`` filled in (default
    ``"float"``). Raise InvalidRequest.

    ``user`` and unknown keys are kept but never sent upstream.
    """
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise fail("model", "must be a non-empty string")
    texts = _check_input(body.get("input"))
    encoding_format = body.get("encoding_format")
    if encoding_format is None:
        encoding_format = "float"
    elif encoding_format not in ENCODING_FORMATS:
        raise fail("encoding_format", f"must be one of {', '.join(ENCODING_FORMATS)}, got {_show(encoding_format)}")
    dimensions = body.get("dimensions")
    if dimensions is not None:
        if not is_int(dimensions) or dimensions < 1:
            raise fail("dimensions", f"must be a positive integer, got {_show(dimensions)}")
        if not MIN_DIMENSIONS <= dimensions <= MAX_DIMENSIONS:
            raise fail(
                "dimensions",
                f"must be between {MIN_DIMENSIONS} and {MAX_DIMENSIONS} for Gemini embedding models, got {dimensions}",
                UNSUPPORTED,
            )
    return {**body, "input": texts, "encoding_format": encoding_format}


def _check_input(value: object) -> list[str] | list[int] | list[list[int]]:
    if isinstance(value, str):
        if not value:
            raise fail("input", "must not be an empty string")
        return [value]
    if not isinstance(value, list) or not value:
        raise fail("input", "must be a non-empty string or a non-empty array of strings")
    # int[] is one input of token ids, int[][] several (tiktoken's output, as OpenAI takes it).
    if all(is_int(v) for v in value):
        return list(value)
    if isinstance(value[0], list):
        for i, tokens in enumerate(value):
            if not isinstance(tokens, list) or not all(is_int(t) for t in tokens):
                raise fail(f"input[{i}]", f"expected an array of token ids (integers), got {_show(tokens)}")
            if not tokens:
                raise fail(f"input[{i}]", "must not be an empty array of token ids")
        return [list(tokens) for tokens in value]
    for i, text in enumerate(value):
        if not isinstance(text, str):
            raise fail(f"input[{i}]", f"expected a string, got {_show(text)}")
        if not text:
            raise fail(f"input[{i}]", "must not be an empty string")
    return list(value)


def holds_token_ids(body: dict[str, Any]) -> bool:
    """Whether a validated request's input is token ids, to decode before batching."""
    return not isinstance(body["input"][0], str)


def token_id_count(body: dict[str, Any]) -> int:
    """How many token ids a validated token-id request holds: its exact usage."""
    value = body["input"]
    return len(value) if is_int(value[0]) else sum(len(tokens) for tokens in value)


def decode_token_ids(body: dict[str, Any], encoding: TokenDecoder) -> dict[str, Any]:
    """A copy of a validated token-id request with each input decoded to its text.

    An id outside the vocabulary is an InvalidRequest naming the input (``input`` for a
    single ``int[]``, else ``input[i]``). Bytes that are not UTF-8 on their own (a multi-byte
    character split between two inputs) become U+FFFD, as tiktoken's own ``decode`` does.
    """
    value = body["input"]
    if is_int(value[0]):
        return {**body, "input": [_decode(value, encoding, "input")]}
    return {**body, "input": [_decode(tokens, encoding, f"input[{i}]") for i, tokens in enumerate(value)]}


def _decode(tokens: list[int], encoding: TokenDecoder, param: str) -> str:
    try:
        return encoding.decode_bytes(tokens).decode("utf-8", errors="replace")
    except (KeyError, OverflowError, ValueError):
        pass
    bad = next((t for t in tokens if not _decodes(t, encoding)), tokens[0])
    raise fail(param, f"token id {bad} is not in {TOKEN_ENCODING}, the encoding of OpenAI's embedding models")


def _decodes(token: int, encoding: TokenDecoder) -> bool:
    try:
        encoding.decode_bytes([token])
    except (KeyError, OverflowError, ValueError):
        return False
    return True


def _show(value: object) -> str:
    """A short JSON spelling of a bad value for an error message."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def embedding_batches(body: dict[str, Any], gemini_model: str, *, task_type: str | None = None) -> list[dict[str, Any]]:
    """``batchEmbedContents`` bodies for a validated request, each ≤ MAX_BATCH, in input order."""
    texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
    # Every request must name the same model as the URL, with the prefix (docs/gemini-wire-format.md#endpoints).
    name = gemini_model if gemini_model.startswith("models/") else f"models/{gemini_model}"
    extra: dict[str, Any] = {}
    if body.get("dimensions") is not None:
        extra["outputDimensionality"] = body["dimensions"]
    if task_type:
        extra["taskType"] = task_type
    requests = [{"model": name, "content": {"parts": [{"text": text}]}, **extra} for text in texts]
    return [{"requests": requests[i : i + MAX_BATCH]} for i in range(0, len(requests), MAX_BATCH)]


def embeddings_to_openai(
    responses: list[dict[str, Any]],
    *,
    model: str,
    encoding_format: str,
    inputs: list[str],
    normalize: bool,
    prompt_tokens: int | None = None,
) -> dict[str, Any]:
    """Join the batches' vectors into one OpenAI embeddings response. ``prompt_tokens`` is
    the usage to report when known (the number of token ids sent), else it is estimated.

    Raises ValueError (an upstream fault, not the client's) when a response is
    malformed or the number of vectors differs from the number of inputs.
    """
    if encoding_format not in ENCODING_FORMATS:
        raise ValueError(f"unknown encoding_format {encoding_format!r}")
    vectors = [_values(item) for response in responses for item in _embeddings(response)]
    if len(vectors) != len(inputs):
        raise ValueError(f"Gemini returned {len(vectors)} embeddings for {len(inputs)} inputs")
    data = []
    for index, vector in enumerate(vectors):
        if normalize:
            vector = _l2_normalize(vector)
        data.append({"object": "embedding", "index": index, "embedding": _encode(vector, encoding_format)})
    # Gemini's batchEmbedContents reports no token usage and a countTokens call
    # per request would double the upstream traffic, so the count is a cheap
    # deterministic estimate: ceil(characters / 4) per input, OpenAI's rule of
    # thumb for English text. It is an estimate, not a billable figure.
    tokens = prompt_tokens if prompt_tokens is not None else sum(math.ceil(len(text) / 4) for text in inputs)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _embeddings(response: object) -> list[Any]:
    items = response.get("embeddings") if isinstance(response, dict) else None
    if not isinstance(items, list):
        raise ValueError("batchEmbedContents response has no 'embeddings' array")
    return items


def _values(item: object) -> list[float]:
    values = item.get("values") if isinstance(item, dict) else None
    if not isinstance(values, list) or not all(is_number(v) for v in values):
        raise ValueError("embedding without a numeric 'values' array")
    return [float(v) for v in values]


def _l2_normalize(vector: list[float]) -> list[float]:
    # OpenAI vectors have unit length and clients use dot products as cosine
    # similarity; Gemini only normalizes its full 3072-dimension output.
    norm = math.sqrt(math.fsum(v * v for v in vector))
    return [v / norm for v in vector] if norm > 0 else vector


def _encode(vector: list[float], encoding_format: str) -> list[float] | str:
    if encoding_format == "float":
        return vector
    # Little-endian float32, what openai-python decodes (np.frombuffer float32).
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
