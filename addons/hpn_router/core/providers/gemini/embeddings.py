"""EmbeddingRequest -> Gemini ``batchEmbedContents`` bodies, Gemini's answers -> EmbeddingAnswer
(docs/gemini-wire-format.md#embeddings). Pure.

Inputs go out in batches of at most ``MAX_BATCH`` (Gemini rejects bigger ones with a 400) and
come back in the same order.

Usage:
    bodies = batch_bodies(request, "gemini-embedding-001")
    # POST each to models/gemini-embedding-001:batchEmbedContents, in order
    answer = embedding_answer(responses, request)     # ValueError: a malformed answer
"""

from __future__ import annotations

import math
from typing import Any

from ...model.answer import Usage
from ...model.embedding import DimensionRange, EmbeddingAnswer, EmbeddingRequest

# Gemini's per-call limit for batchEmbedContents (docs/gemini-wire-format.md#endpoints).
MAX_BATCH = 100
# gemini-embedding-001's outputDimensionality range; its default is the maximum.
DIMENSIONS = DimensionRange(128, 3072, "Gemini embedding models")


def batch_bodies(request: EmbeddingRequest, gemini_model: str, *, task_type: str | None = None) -> list[dict[str, Any]]:
    """``batchEmbedContents`` bodies for ``request``, each ≤ MAX_BATCH inputs, in input order."""
    # Every request must name the same model as the URL, with the prefix (docs/gemini-wire-format.md#endpoints).
    name = gemini_model if gemini_model.startswith("models/") else f"models/{gemini_model}"
    extra: dict[str, Any] = {}
    if request.dimensions is not None:
        extra["outputDimensionality"] = request.dimensions
    if task_type:
        extra["taskType"] = task_type
    requests = [{"model": name, "content": {"parts": [{"text": text}]}, **extra} for text in request.texts]
    return [{"requests": requests[i : i + MAX_BATCH]} for i in range(0, len(requests), MAX_BATCH)]


def embedding_answer(responses: list[Any], request: EmbeddingRequest) -> EmbeddingAnswer:
    """The batches' vectors joined, in input order, each of unit length.

    Raises ValueError (an upstream fault, not the client's) when a response is malformed or
    the number of vectors differs from the number of inputs.
    """
    vectors = [_values(item) for response in responses for item in _embeddings(response)]
    if len(vectors) != len(request.texts):
        raise ValueError(f"Gemini returned {len(vectors)} embeddings for {len(request.texts)} inputs")
    # Gemini normalizes only its full-length output; a shortened vector comes back as is.
    if request.dimensions is not None and request.dimensions < DIMENSIONS.high:
        vectors = [_l2_normalize(vector) for vector in vectors]
    return EmbeddingAnswer(vectors, Usage(_input_tokens(request)))


def _input_tokens(request: EmbeddingRequest) -> int:
    # Gemini's batchEmbedContents reports no token usage and a countTokens call per request
    # would double the upstream traffic, so unless the client's own token ids were counted the
    # figure is a cheap deterministic estimate: ceil(characters / 4) per input, OpenAI's rule of
    # thumb for English text. It is an estimate, not a billable figure.
    if request.input_tokens is not None:
        return request.input_tokens
    return sum(math.ceil(len(text) / 4) for text in request.texts)


def _embeddings(response: object) -> list[Any]:
    items = response.get("embeddings") if isinstance(response, dict) else None
    if not isinstance(items, list):
        raise ValueError("batchEmbedContents response has no 'embeddings' array")
    return items


def _values(item: object) -> list[float]:
    values = item.get("values") if isinstance(item, dict) else None
    if not isinstance(values, list) or not all(_is_number(v) for v in values):
        raise ValueError("embedding without a numeric 'values' array")
    return [float(v) for v in values]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _l2_normalize(vector: list[float]) -> list[float]:
    # OpenAI vectors have unit length and clients use dot products as cosine similarity.
    norm = math.sqrt(math.fsum(v * v for v in vector))
    return [v / norm for v in vector] if norm > 0 else vector
