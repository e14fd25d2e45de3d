"""Gemini ``GenerateContentResponse`` → OpenAI ``chat.completion``.

The mapping: docs/gemini-wire-format.md#response-mapping and docs/gemini-wire-format.md#usage;
the traps by number: docs/gemini-wire-format.md#traps.
Nothing here assumes ``candidates[0].content.parts[0].text`` exists (trap 6):
blocked prompts have no candidates, thinking-MAX_TOKENS answers have no parts,
zero-argument calls have no ``args``, and proto3 JSON omits ``index: 0``.
A choice that emitted a functionCall finishes with ``tool_calls`` even when
Gemini says ``STOP`` (trap 5); only OpenAI's finish strings ever leave here
(trap 14). A request that used the legacy ``functions`` field gets its call back
in the legacy shape (``message.function_call``, finish ``function_call``): old
clients read only that. Gemini's ``logprobsResult`` becomes ``choices[].logprobs``.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from .providers.gemini.chat_request import TranslateOptions
from .toolids import encode_call_id

# Gemini finishReason -> OpenAI finish_reason when no tool call was emitted.
# Tool-call failures map to "stop" (the answer is usually empty; litellm does the
# same); anything unknown or absent is "stop" too.
FINISH_REASONS = {
    "STOP": "stop",
    "FINISH_REASON_UNSPECIFIED": "stop",
    "MAX_TOKENS": "length",
    "CONTINUATION": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "LANGUAGE": "content_filter",
    "OTHER": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_OTHER": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "NO_IMAGE": "content_filter",
    "MALFORMED_FUNCTION_CALL": "stop",
    "UNEXPECTED_TOOL_CALL": "stop",
    "TOO_MANY_TOOL_CALLS": "stop",
    "MALFORMED_RESPONSE": "stop",
    "MISSING_THOUGHT_SIGNATURE": "stop",
}
DEFAULT_FINISH = "stop"
BLOCKED_FINISH = "content_filter"


def map_finish_reason(gemini_reason: str | None, has_tool_calls: bool, *, legacy_functions: bool = False) -> str:
    if has_tool_calls:
        return "function_call" if legacy_functions else "tool_calls"
    return FINISH_REASONS.get(gemini_reason or "", DEFAULT_FINISH)


def legacy_function_call(call: dict[str, Any]) -> dict[str, Any]:
    """The legacy ``function_call`` of an OpenAI tool call (no id: the legacy shape has none)."""
    return {"name": call["function"]["name"], "arguments": call["function"]["arguments"]}


def logprobs_to_openai(result: Any) -> dict[str, Any] | None:
    """OpenAI ``choice.logprobs`` from a Gemini ``logprobsResult``; None when Gemini sent none.

    ``chosenCandidates[i]`` is the token sampled at step i and ``topCandidates[i]`` the
    alternatives at that step; proto3 JSON omits a ``logProbability`` of 0 and an empty token.
    """
    if not isinstance(result, dict):
        return None
    tops = result.get("topCandidates") or []
    content = []
    for step, chosen in enumerate(result.get("chosenCandidates") or []):
        top = tops[step] if step < len(tops) and isinstance(tops[step], dict) else {}
        alternatives = top.get("candidates") or []
        content.append({**_token_logprob(chosen), "top_logprobs": [_token_logprob(t) for t in alternatives]})
    return {"content": content, "refusal": None}


def _token_logprob(candidate: dict[str, Any]) -> dict[str, Any]:
    token = str(candidate.get("token") or "")
    return {"token": token, "logprob": float(candidate.get("logProbability") or 0.0), "bytes": list(token.encode("utf-8"))}


def usage_to_openai(usage_metadata: dict[str, Any] | None) -> dict[str, Any]:
    """OpenAI usage from Gemini usageMetadata; every count optional (proto3 omits 0)."""
    meta = usage_metadata or {}
    prompt = int(meta.get("promptTokenCount", 0)) + int(meta.get("toolUsePromptTokenCount", 0))
    candidates = int(meta.get("candidatesTokenCount", 0))
    thoughts = int(meta.get("thoughtsTokenCount", 0))
    total = meta.get("totalTokenCount")
    # candidatesTokenCount normally excludes thoughts; some responses already
    # include them (prompt + candidates == total), so don't count them twice
    # (litellm is_candidate_token_count_inclusive).
    inclusive = thoughts > 0 and total is not None and prompt + candidates == int(total)
    completion = candidates if inclusive else candidates + thoughts
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": int(meta.get("cachedContentTokenCount", 0))},
        "completion_tokens_details": {"reasoning_tokens": thoughts},
    }


def tool_call_from_part(part: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI tool call (arguments as a string) from a functionCall part."""
    call = part["functionCall"]
    return {
        "id": encode_call_id(call.get("id"), part.get("thoughtSignature")),
        "type": "function",
        "function": {
            "name": call.get("name", ""),
            "arguments": json.dumps(call.get("args") or {}, ensure_ascii=False),
        },
    }


def split_parts(parts: list[dict[str, Any]]) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """``(answer texts, thought texts, tool calls)`` of one candidate's parts."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in parts:
        if "functionCall" in part:
            calls.append(tool_call_from_part(part))
        elif isinstance(part.get("text"), str):
            (thoughts if part.get("thought") else texts).append(part["text"])
    return texts, thoughts, calls


def gemini_to_chat_completion(
    resp: dict[str, Any], *, model: str, completion_id: str, created: int, options: TranslateOptions, legacy_functions: bool = False
) -> dict[str, Any]:
    """``legacy_functions``: the request declared legacy ``functions``; answer calls in that shape."""
    candidates = resp.get("candidates") or []
    if candidates:
        choices = [_choice(c, options, legacy_functions) for c in candidates]
    else:
        # Blocked prompt: HTTP 200 with only promptFeedback. Same shape, no text.
        blocked = bool((resp.get("promptFeedback") or {}).get("blockReason"))
        choices = [_make_choice(0, _message(None, [], None), BLOCKED_FINISH if blocked else DEFAULT_FINISH)]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": choices,
        "usage": usage_to_openai(resp.get("usageMetadata")),
    }


def _choice(candidate: dict[str, Any], options: TranslateOptions, legacy_functions: bool) -> dict[str, Any]:
    parts = (candidate.get("content") or {}).get("parts") or []
    texts, thoughts, calls = split_parts(parts)
    reasoning = "".join(thoughts) if options.expose_reasoning and thoughts else None
    message = _message("".join(texts) if texts else None, calls, reasoning, legacy_functions)
    finish = map_finish_reason(candidate.get("finishReason"), bool(calls), legacy_functions=legacy_functions)
    logprobs = logprobs_to_openai(candidate.get("logprobsResult"))
    return _make_choice(int(candidate.get("index", 0)), message, finish, logprobs)


def _message(content: str | None, calls: list[dict[str, Any]], reasoning: str | None, legacy_functions: bool = False) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if reasoning is not None:
        message["reasoning_content"] = reasoning  # non-standard, as DeepSeek/vLLM/litellm
    if calls and legacy_functions:
        # The legacy shape holds one call; Gemini may call several at once, the first one is kept.
        message["function_call"] = legacy_function_call(calls[0])
    elif calls:
        message["tool_calls"] = calls
    return message


def _make_choice(index: int, message: dict[str, Any], finish: str, logprobs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"index": index, "message": message, "logprobs": logprobs, "finish_reason": finish}


def new_completion_id() -> str:
    """A fresh `chatcmpl-...` id (each answer gets its own, cached ones included)."""
    return "chatcmpl-" + secrets.token_hex(12)
