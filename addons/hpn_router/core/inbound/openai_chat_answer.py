"""The router's answer (core/model/answer.py) as OpenAI's ``chat.completion`` (not streamed).

`openai_completion` renders a `ChatAnswer` as the completion JSON (docs/gemini-wire-format.md#chat-response);
the pieces it is made of (finish reasons, usage, logprobs, tool calls) serve the stream encoder
(core/inbound/openai_chat_stream.py) too. Only OpenAI's finish strings leave here. A request that used
the legacy ``functions`` field gets its call back in the legacy shape (``function_call``, finish
``function_call``; the shape holds one call, later ones have no place): old clients read only that.
Reasoning is shown only when the router exposes it (``reasoning_content``, as DeepSeek, vLLM and
litellm do). A tool call's id carries its thought signature: OpenAI clients keep only
``id/type/function``, so that is the one place it survives to the next request (core/toolids.py).

Usage:
    completion = openai_completion(answer, model="gpt-4o", completion_id=new_completion_id(), created=now)
"""

from __future__ import annotations

import secrets
from typing import Any

from ..model.answer import ChatAnswer, Choice, Finish, StepLogprob, ToolCall, Usage
from ..toolids import pack_call_id

FINISH_REASONS = {
    Finish.STOP: "stop",
    Finish.LENGTH: "length",
    Finish.TOOL_CALLS: "tool_calls",
    Finish.CONTENT_FILTER: "content_filter",
    Finish.TOOL_ERROR: "stop",  # OpenAI has no word for it; the answer is usually empty (litellm does the same)
    Finish.OTHER: "stop",
}


def finish_reason(finish: Finish, *, legacy_functions: bool = False) -> str:
    if finish is Finish.TOOL_CALLS and legacy_functions:
        return "function_call"
    return FINISH_REASONS[finish]


def new_completion_id() -> str:
    """A fresh `chatcmpl-...` id (each answer gets its own, cached ones included)."""
    return "chatcmpl-" + secrets.token_hex(12)


def usage_to_openai(usage: Usage | None) -> dict[str, Any]:
    """OpenAI's usage block; no usage reads as zeros."""
    usage = usage or Usage()
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def usage_from_openai(usage: Any) -> Usage | None:
    """The model's usage from an OpenAI usage block (a stored answer's); None if it is none."""
    if not isinstance(usage, dict):
        return None
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=_count(usage.get("prompt_tokens")),
        output_tokens=_count(usage.get("completion_tokens")),
        reasoning_tokens=_count(completion_details.get("reasoning_tokens")),
        cached_tokens=_count(prompt_details.get("cached_tokens")),
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def logprobs_to_openai(steps: tuple[StepLogprob, ...] | None) -> dict[str, Any] | None:
    if steps is None:
        return None
    content = [{**_token(s.token, s.logprob), "top_logprobs": [_token(t.token, t.logprob) for t in s.top]} for s in steps]
    return {"content": content, "refusal": None}


def _token(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def call_id(call: ToolCall) -> str:
    """The id the client sees: the call's own, with its signature folded in (core/toolids.py)."""
    return pack_call_id(call.id, call.signature, call.signature_provider)


def tool_call_to_openai(call: ToolCall) -> dict[str, Any]:
    return {"id": call_id(call), "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def openai_completion(
    answer: ChatAnswer,
    *,
    model: str,
    completion_id: str,
    created: int,
    expose_reasoning: bool = False,
    legacy_functions: bool = False,
) -> dict[str, Any]:
    """The ``chat.completion`` a client receives for `answer` (``model``: the name the client asked for)."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [_choice(c, expose_reasoning, legacy_functions) for c in answer.choices],
        "usage": usage_to_openai(answer.usage),
    }


def _choice(choice: Choice, expose_reasoning: bool, legacy_functions: bool) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": choice.text, "refusal": None}
    if expose_reasoning and choice.reasoning is not None:
        message["reasoning_content"] = choice.reasoning
    if choice.tool_calls and legacy_functions:
        first = choice.tool_calls[0]
        message["function_call"] = {"name": first.name, "arguments": first.arguments}  # the legacy shape has no id
    elif choice.tool_calls:
        message["tool_calls"] = [tool_call_to_openai(c) for c in choice.tool_calls]
    return {
        "index": choice.index,
        "message": message,
        "logprobs": logprobs_to_openai(choice.logprobs),
        "finish_reason": finish_reason(choice.finish, legacy_functions=legacy_functions),
    }
