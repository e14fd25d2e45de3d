"""OpenAI ``/v1/embeddings`` ⇄ Gemini ``batchEmbedContents`` (wire-formats §3.10).

Pure: dicts in, dicts out. Inputs go out in batches of at most ``MAX_BATCH``
(Gemini rejects bigger ones with a 400) and come back in the same order.
Vectors are returned as floats or, when asked, as base64 of little-endian
float32 — openai-python asks for base64 whenever its caller did not choose.

Usage:
    body = validate_embeddings_request(json.loads(raw))
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
from typing import Any

from .chat_validate import fail, is_int, is_number
from .invalid import InvalidRequest

# Gemini's per-call limit for batchEmbedContents (wire-formats §1.2).
MAX_BATCH = 100
ENCODING_FORMATS = ("float", "base64")
# gemini-embedding-001's outputDimensionality range; its default is the maximum.
MIN_DIMENSIONS = 128
MAX_DIMENSIONS = 3072
UNSUPPORTED = "unsupported_value"
TOKEN_ARRAYS = "token-array inputs are not supported; send the text as strings"


def validate_embeddings_request(body: object) -> dict:
    """Check ``body``; return a copy with ``input`` as a list of strings and
    ``encoding_format`` filled in (default ``"float"``). Raise InvalidRequest.

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


def _check_input(value: object) -> list[str]:
    if isinstance(value, str):
        if not value:
            raise fail("input", "must not be an empty string")
        return [value]
    if not isinstance(value, list) or not value:
        raise fail("input", "must be a non-empty string or a non-empty array of strings")
    # int[] / int[][] are OpenAI token ids (tiktoken); Gemini has no such input
    # and its tokenizer differs, so they cannot be decoded or passed on.
    if all(is_int(v) for v in value) or all(isinstance(v, list) and all(is_int(t) for t in v) for v in value):
        raise fail("input", TOKEN_ARRAYS, UNSUPPORTED)
    for i, text in enumerate(value):
        if not isinstance(text, str):
            raise fail(f"input[{i}]", f"expected a string, got {_show(text)}")
        if not text:
            raise fail(f"input[{i}]", "must not be an empty string")
    return list(value)


def _show(value: object) -> str:
    """A short JSON spelling of a bad value for an error message."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def embedding_batches(body: dict, gemini_model: str, *, task_type: str | None = None) -> list[dict]:
    """``batchEmbedContents`` bodies for a validated request, each ≤ MAX_BATCH, in input order."""
    texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
    # Every request must name the same model as the URL, with the prefix (§1.2).
    name = gemini_model if gemini_model.startswith("models/") else f"models/{gemini_model}"
    extra: dict[str, Any] = {}
    if body.get("dimensions") is not None:
        extra["outputDimensionality"] = body["dimensions"]
    if task_type:
        extra["taskType"] = task_type
    requests = [{"model": name, "content": {"parts": [{"text": text}]}, **extra} for text in texts]
    return [{"requests": requests[i : i + MAX_BATCH]} for i in range(0, len(requests), MAX_BATCH)]


def embeddings_to_openai(responses: list[dict], *, model: str, encoding_format: str, inputs: list[str], normalize: bool) -> dict:
    """Join the batches' vectors into one OpenAI embeddings response.

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
    tokens = sum(math.ceil(len(text) / 4) for text in inputs)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _embeddings(response: object) -> list:
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
