"""EmbeddingRequest -> Mistral's `/v1/embeddings` body, its answer -> EmbeddingAnswer. Pure.

Mistral's embeddings API is OpenAI's shape (`input`, `data[].embedding`, `data[].index`,
`usage.prompt_tokens`); it takes `output_dimension` rather than `dimensions`, and nothing else
of OpenAI's (it refuses unknown fields). Vectors come back in input order and of unit length,
as OpenAI's are.

Usage:
    body = embedding_body(request, "mistral-embed")
    answer = embedding_answer(json.loads(response), request)   # ValueError: a malformed answer
"""

from __future__ import annotations

import math
from typing import Any

from ...model.answer import Usage
from ...model.embedding import EmbeddingAnswer, EmbeddingRequest


def embedding_body(request: EmbeddingRequest, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "input": list(request.texts)}
    if request.dimensions is not None:
        body["output_dimension"] = request.dimensions
    return body


def embedding_answer(response: Any, request: EmbeddingRequest) -> EmbeddingAnswer:
    """Raises ValueError (an upstream fault) when the answer is malformed or its count is wrong."""
    data = response.get("data") if isinstance(response, dict) else None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ValueError("Mistral's embeddings answer has no 'data' array")
    ordered = sorted(data, key=lambda item: item.get("index") if isinstance(item.get("index"), int) else 0)
    vectors = [_unit(_values(item.get("embedding"))) for item in ordered]
    if len(vectors) != len(request.texts):
        raise ValueError(f"Mistral returned {len(vectors)} embeddings for {len(request.texts)} inputs")
    usage = response.get("usage") if isinstance(response.get("usage"), dict) else {}
    tokens = usage.get("prompt_tokens")
    counted = tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else sum(math.ceil(len(t) / 4) for t in request.texts)
    return EmbeddingAnswer(vectors, Usage(counted))


def _values(value: Any) -> list[float]:
    if not isinstance(value, list) or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        raise ValueError("Mistral embedding without a numeric array (was a non-float output_dtype asked for?)")
    return [float(v) for v in value]


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(math.fsum(v * v for v in vector))
    return [v / norm for v in vector] if norm > 0 else vector
