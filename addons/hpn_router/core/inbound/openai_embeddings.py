"""OpenAI ``/v1/embeddings``: the client's body -> EmbeddingRequest, EmbeddingAnswer -> OpenAI's
list (docs/gemini-wire-format.md#models-and-embeddings). Pure.

Vectors go back as floats or, when asked, as base64 of little-endian float32: openai-python
asks for base64 whenever its caller did not choose.

Inputs may be token ids (``int[]`` or ``int[][]``, counted with tiktoken's cl100k_base:
LangChain's OpenAIEmbeddings sends them by default). Providers take only text, so they are
decoded back to it with the encoding the caller's ``encoding`` returns; it is called only
for such requests (building cl100k_base takes time and memory).

Usage:
    request = embedding_request(json.loads(raw), dimensions=DIMENSIONS, encoding=cl100k_base)
    ...                                               # a provider answers with an EmbeddingAnswer
    body = openai_embeddings(answer, request)        # {"object": "list", "data": [...], ...}
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import InvalidRequest
from ..model.embedding import ENCODING_FORMATS, DimensionRange, EmbeddingAnswer, EmbeddingRequest, EncodingFormat

UNSUPPORTED = "unsupported_value"
# The encoding of text-embedding-3-* and ada-002, and the one tiktoken users (LangChain among
# them) fall back to for model names tiktoken does not know, such as Gemini's.
TOKEN_ENCODING = "cl100k_base"


class TokenDecoder(Protocol):
    """What decoding needs of a tiktoken.Encoding. Raises KeyError (or OverflowError) for an
    id outside the encoding's vocabulary."""

    def decode_bytes(self, tokens: Sequence[int], /) -> bytes: ...


def embedding_request(body: object, *, dimensions: DimensionRange, encoding: Callable[[], TokenDecoder]) -> EmbeddingRequest:
    """Check ``body`` and return it as an EmbeddingRequest; raise InvalidRequest naming the field.

    ``dimensions`` is the range the provider's models can produce. ``encoding_format``
    defaults to ``"float"``; ``user`` and unknown keys are ignored (never sent upstream).
    """
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _fail("model", "must be a non-empty string")
    inputs = _check_input(body.get("input"))
    encoding_format = _encoding_format(body.get("encoding_format"))
    asked = _dimensions(body.get("dimensions"), dimensions)
    if isinstance(inputs, TokenIds):
        texts = _decode_all(inputs, encoding())
        return EmbeddingRequest(model, texts, asked, encoding_format, input_tokens=sum(len(ids) for ids in inputs.groups))
    return EmbeddingRequest(model, tuple(inputs), asked, encoding_format)


@dataclass(frozen=True, slots=True)
class TokenIds:
    """Inputs sent as token ids: ``int[]`` is one input (``single``), ``int[][]`` several
    (tiktoken's output, as OpenAI takes it)."""

    groups: list[list[int]]
    single: bool


def _check_input(value: object) -> list[str] | TokenIds:
    if isinstance(value, str):
        if not value:
            raise _fail("input", "must not be an empty string")
        return [value]
    if not isinstance(value, list) or not value:
        raise _fail("input", "must be a non-empty string or a non-empty array of strings")
    if all(_is_int(v) for v in value):
        return TokenIds([value], single=True)
    if isinstance(value[0], list):
        for i, tokens in enumerate(value):
            if not isinstance(tokens, list) or not all(_is_int(t) for t in tokens):
                raise _fail(f"input[{i}]", f"expected an array of token ids (integers), got {_show(tokens)}")
            if not tokens:
                raise _fail(f"input[{i}]", "must not be an empty array of token ids")
        return TokenIds(value, single=False)
    for i, text in enumerate(value):
        if not isinstance(text, str):
            raise _fail(f"input[{i}]", f"expected a string, got {_show(text)}")
        if not text:
            raise _fail(f"input[{i}]", "must not be an empty string")
    return value


def _encoding_format(value: object) -> EncodingFormat:
    if value is None:
        return "float"
    for known in ENCODING_FORMATS:
        if value == known:
            return known
    raise _fail("encoding_format", f"must be one of {', '.join(ENCODING_FORMATS)}, got {_show(value)}")


def _dimensions(value: object, allowed: DimensionRange) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _fail("dimensions", f"must be a positive integer, got {_show(value)}")
    if allowed.low == allowed.high and value != allowed.low:
        raise _fail("dimensions", f"must be {allowed.low} for {allowed.models}, got {value}", UNSUPPORTED)
    if not allowed.low <= value <= allowed.high:
        raise _fail("dimensions", f"must be between {allowed.low} and {allowed.high} for {allowed.models}, got {value}", UNSUPPORTED)
    return value


def _decode_all(inputs: TokenIds, encoding: TokenDecoder) -> tuple[str, ...]:
    """Each group of token ids as its text. An id outside the vocabulary is an InvalidRequest
    naming the input (``input`` for a single ``int[]``, else ``input[i]``). Bytes that are not
    UTF-8 on their own (a multi-byte character split between two inputs) become U+FFFD, as
    tiktoken's own ``decode`` does."""
    return tuple(_decode(tokens, encoding, "input" if inputs.single else f"input[{i}]") for i, tokens in enumerate(inputs.groups))


def _decode(tokens: list[int], encoding: TokenDecoder, param: str) -> str:
    try:
        return encoding.decode_bytes(tokens).decode("utf-8", errors="replace")
    except (KeyError, OverflowError, ValueError):
        pass
    bad = next((t for t in tokens if not _decodes(t, encoding)), tokens[0])
    raise _fail(param, f"token id {bad} is not in {TOKEN_ENCODING}, the encoding of OpenAI's embedding models")


def _decodes(token: int, encoding: TokenDecoder) -> bool:
    try:
        encoding.decode_bytes([token])
    except (KeyError, OverflowError, ValueError):
        return False
    return True


def _fail(param: str, problem: str, code: str | None = None) -> InvalidRequest:
    return InvalidRequest(f"{param}: {problem}", param=param, code=code)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: object) -> str:
    """A short JSON spelling of a bad value for an error message."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def openai_embeddings(answer: EmbeddingAnswer, request: EmbeddingRequest) -> dict[str, Any]:
    """OpenAI's embeddings list for ``answer``: one entry per vector, in input order, encoded as
    the request asked, under the model name the client sent."""
    encode = _as_base64 if request.encoding_format == "base64" else _as_floats
    data = [{"object": "embedding", "index": index, "embedding": encode(vector)} for index, vector in enumerate(answer.vectors)]
    tokens = answer.usage.input_tokens
    return {
        "object": "list",
        "data": data,
        "model": request.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _as_floats(vector: list[float]) -> list[float]:
    return vector


def _as_base64(vector: list[float]) -> str:
    # Little-endian float32, what openai-python decodes (np.frombuffer float32).
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
