"""EmbeddingRequest -> Mistral's `/v1/embeddings` bodies, its answers -> EmbeddingAnswer. Pure.

Mistral's embeddings API is OpenAI's shape (`input`, `data[].embedding`, `data[].index`,
`usage.prompt_tokens`); it takes `output_dimension` rather than `dimensions`, and nothing else
of OpenAI's (it refuses unknown fields). Vectors come back in input order and of unit length,
as OpenAI's are.

Dimensions: `mistral-embed` makes 1024-dimensional vectors only (a client asking for 1024 is
served, any other length is refused before anything is sent); `codestral-embed` takes
`output_dimension` up to 3072.

Limits: one request holds at most about 16k tokens across its inputs (LangChain's
MistralAIEmbeddings batches at 16,000 for this reason). Inputs are therefore sent in batches
whose estimated size stays under `MAX_BATCH_TOKENS`, estimated high (a token per 3 UTF-8
bytes; Mistral's tokenizer averages about 4 characters a token in English), in order; the
answers come back together. One input larger than a batch goes alone: Mistral judges it.

Usage:
    dims = dimensions_for("mistral-embed")                 # DimensionRange for embedding_request
    bodies = batch_bodies(request, "mistral-embed")       # one body per batch
    answer = embedding_answer([json.loads(b) for b in answers], request)   # ValueError: malformed
"""

from __future__ import annotations

import math
from typing import Any

from ...model.answer import Usage
from ...model.embedding import DimensionRange, EmbeddingAnswer, EmbeddingRequest

MAX_BATCH_TOKENS = 16_000
MISTRAL_EMBED_DIMENSIONS = 1024
CODESTRAL_EMBED_MAX = 3072


def dimensions_for(model: str) -> DimensionRange:
    """The vector lengths `model` can make, for checking `dimensions` before sending."""
    if model.startswith("codestral-embed"):
        return DimensionRange(1, CODESTRAL_EMBED_MAX, model)
    fixed = MISTRAL_EMBED_DIMENSIONS
    return DimensionRange(fixed, fixed, f"{model} (its vectors always have {fixed})")


def embedding_body(texts: list[str], request: EmbeddingRequest, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "input": texts}
    dims = dimensions_for(model)
    if request.dimensions is not None and dims.low != dims.high:  # mistral-embed takes no output_dimension
        body["output_dimension"] = request.dimensions
    return body


def batch_bodies(request: EmbeddingRequest, model: str, *, max_tokens: int = MAX_BATCH_TOKENS) -> list[dict[str, Any]]:
    """The request's inputs in order, in as few batches as keep each under `max_tokens` (estimated)."""
    batches: list[list[str]] = []
    size = 0
    for text in request.texts:
        tokens = estimated_tokens(text)
        if not batches or size + tokens > max_tokens:
            batches.append([])
            size = 0
        batches[-1].append(text)
        size += tokens
    return [embedding_body(texts, request, model) for texts in batches]


def estimated_tokens(text: str) -> int:
    """An estimate on the high side: a token per 3 UTF-8 bytes, at least 1."""
    return max(1, math.ceil(len(text.encode("utf-8")) / 3))


def embedding_answer(responses: Any, request: EmbeddingRequest) -> EmbeddingAnswer:
    """The batches' answers (a list, in order; one answer alone is taken as a list of one) as one.
    Raises ValueError (an upstream fault) when an answer is malformed or the count is wrong."""
    answers = responses if isinstance(responses, list) else [responses]
    vectors: list[list[float]] = []
    counted: int | None = 0
    for response in answers:
        batch_vectors, tokens = _one_answer(response)
        vectors += batch_vectors
        counted = None if counted is None or tokens is None else counted + tokens
    if len(vectors) != len(request.texts):
        raise ValueError(f"Mistral returned {len(vectors)} embeddings for {len(request.texts)} inputs")
    if counted is None:
        counted = sum(math.ceil(len(t) / 4) for t in request.texts)
    return EmbeddingAnswer(vectors, Usage(counted))


def _one_answer(response: Any) -> tuple[list[list[float]], int | None]:
    data = response.get("data") if isinstance(response, dict) else None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ValueError("Mistral's embeddings answer has no 'data' array")
    ordered = sorted(data, key=lambda item: item.get("index") if isinstance(item.get("index"), int) else 0)
    vectors = [_unit(_values(item.get("embedding"))) for item in ordered]
    usage = response.get("usage") if isinstance(response.get("usage"), dict) else {}
    tokens = usage.get("prompt_tokens")
    return vectors, tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None


def _values(value: Any) -> list[float]:
    if not isinstance(value, list) or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        raise ValueError("Mistral embedding without a numeric array (was a non-float output_dtype asked for?)")
    return [float(v) for v in value]


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(math.fsum(v * v for v in vector))
    return [v / norm for v in vector] if norm > 0 else vector
