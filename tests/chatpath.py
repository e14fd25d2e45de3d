"""The chat answer path as the router runs it, for tests: Gemini's answer -> the model
(core/providers/gemini/chat_answer.py) -> OpenAI's format (core/inbound/openai_chat_answer.py, openai_chat_stream.py)."""

from __future__ import annotations

from typing import Any

from hpn_router.core.inbound.openai_chat_answer import openai_completion, usage_to_openai
from hpn_router.core.inbound.openai_chat_stream import ChunkEncoder
from hpn_router.core.providers.gemini.chat_answer import GeminiStreamDecoder, gemini_answer


def gemini_to_chat_completion(
    resp: dict[str, Any], *, model: str, completion_id: str, created: int, expose_reasoning: bool = False, legacy_functions: bool = False
) -> dict[str, Any]:
    return openai_completion(
        gemini_answer(resp),
        model=model,
        completion_id=completion_id,
        created=created,
        expose_reasoning=expose_reasoning,
        legacy_functions=legacy_functions,
    )


class StreamTranslator:
    """Gemini SSE bytes in, OpenAI chunk events out (what ChatTranslation's StreamAdapter does)."""

    def __init__(self, *, model: str, completion_id: str, created: int, include_usage: bool, **options: bool) -> None:
        self.decoder = GeminiStreamDecoder()
        self.encoder = ChunkEncoder(model=model, completion_id=completion_id, created=created, include_usage=include_usage, **options)

    def feed(self, data: bytes) -> list[bytes]:
        return self.encoder.encode_all(self.decoder.feed(data))

    def finish(self) -> list[bytes]:
        return self.encoder.encode_all(self.decoder.finish())

    def fail(self, message: str, *, code: str = "upstream_error") -> list[bytes]:
        return self.encoder.encode_all(self.decoder.fail(message, code=code))

    @property
    def openai_usage(self) -> dict[str, Any] | None:
        return usage_to_openai(self.decoder.usage) if self.decoder.usage is not None else None

    @property
    def text(self) -> str:
        return self.encoder.text

    @property
    def started(self) -> bool:
        return self.encoder.started
