"""The internal embeddings request and answer: what every inbound API translates into and every
provider translates out of (docs/gemini-wire-format.md#embeddings).

Usage:
    request = EmbeddingRequest(model="text-embedding-3-small", texts=("hello",), dimensions=256)
    answer = EmbeddingAnswer(vectors=[[0.6, 0.8]], usage=Usage(input_tokens=2))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .answer import Usage

# How the client wants its vectors: JSON numbers, or base64 of little-endian float32.
EncodingFormat = Literal["float", "base64"]
ENCODING_FORMATS: tuple[EncodingFormat, ...] = ("float", "base64")


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    model: str  # the model name the client asked for
    texts: tuple[str, ...]  # the inputs, in order, never empty (token ids already decoded)
    dimensions: int | None = None  # the vector length asked for; None: the model's default
    encoding_format: EncodingFormat = "float"
    input_tokens: int | None = None  # counted exactly when the client sent token ids; None: unknown


@dataclass(frozen=True, slots=True)
class EmbeddingAnswer:
    vectors: list[list[float]]  # one per input, in input order, each of unit length
    usage: Usage  # input tokens only: an embedding has no output tokens


@dataclass(frozen=True, slots=True)
class DimensionRange:
    """The vector lengths a provider's embedding models can produce, for validating a request
    before it is sent; `models` names them in the error message."""

    low: int
    high: int
    models: str
