"""Gemini's answers as the router's model: a ``GenerateContentResponse`` becomes a `ChatAnswer`,
a ``streamGenerateContent?alt=sse`` stream becomes `StreamEvent`s, one upstream event at a time.

The mapping: docs/gemini-wire-format.md#response-mapping, docs/gemini-wire-format.md#streaming-translation
and docs/gemini-wire-format.md#usage; the traps by number: docs/gemini-wire-format.md#traps.
Nothing here assumes ``candidates[0].content.parts[0].text`` exists (trap 6): blocked prompts
have no candidates, thinking-MAX_TOKENS answers have no parts, zero-argument calls have no
``args``, and proto3 JSON omits ``index: 0`` and zero counts. A choice that emitted a
functionCall finishes with `Finish.TOOL_CALLS` even when Gemini says ``STOP`` (trap 5). Usage is
cumulative in a stream, so each report replaces the last (trap 3). Gemini sends calls whole,
one event each. A call's id is Gemini's own, made safe for any client (``fc_``/``fx_``), or a
fresh ``call_…`` when Gemini sent none (core/toolids.py); its ``thoughtSignature`` travels beside it.

Usage:
    answer = gemini_answer(json.loads(body))
    decoder = GeminiStreamDecoder()
    for chunk in upstream: events = decoder.feed(chunk)
    events = decoder.finish()          # or decoder.fail("connection lost") on a broken upstream
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ...model.answer import (
    ChatAnswer,
    Choice,
    ChoiceEnd,
    ChoiceStart,
    Finish,
    ReasoningDelta,
    StepLogprob,
    StreamEvent,
    TextDelta,
    TokenLogprob,
    ToolCall,
    ToolCallEvent,
    Usage,
)
from ...toolids import encode_call_id
from ..streaming import StreamDecoder

PROVIDER = "gemini"

# Gemini finishReason -> the model's finish, when the choice emitted no call. Tool-call failures
# are TOOL_ERROR (the answer is usually empty); anything unknown is OTHER, absent is STOP.
FINISH_REASONS = {
    "STOP": Finish.STOP,
    "FINISH_REASON_UNSPECIFIED": Finish.STOP,
    "MAX_TOKENS": Finish.LENGTH,
    "CONTINUATION": Finish.LENGTH,
    "SAFETY": Finish.CONTENT_FILTER,
    "RECITATION": Finish.CONTENT_FILTER,
    "LANGUAGE": Finish.CONTENT_FILTER,
    "OTHER": Finish.CONTENT_FILTER,
    "BLOCKLIST": Finish.CONTENT_FILTER,
    "PROHIBITED_CONTENT": Finish.CONTENT_FILTER,
    "SPII": Finish.CONTENT_FILTER,
    "IMAGE_SAFETY": Finish.CONTENT_FILTER,
    "IMAGE_PROHIBITED_CONTENT": Finish.CONTENT_FILTER,
    "IMAGE_OTHER": Finish.CONTENT_FILTER,
    "IMAGE_RECITATION": Finish.CONTENT_FILTER,
    "NO_IMAGE": Finish.CONTENT_FILTER,
    "MALFORMED_FUNCTION_CALL": Finish.TOOL_ERROR,
    "UNEXPECTED_TOOL_CALL": Finish.TOOL_ERROR,
    "TOO_MANY_TOOL_CALLS": Finish.TOOL_ERROR,
    "MISSING_THOUGHT_SIGNATURE": Finish.TOOL_ERROR,
    "MALFORMED_RESPONSE": Finish.OTHER,
}


def map_finish(gemini_reason: str | None, has_tool_calls: bool) -> Finish:
    if has_tool_calls:
        return Finish.TOOL_CALLS
    if not gemini_reason:
        return Finish.STOP
    return FINISH_REASONS.get(gemini_reason, Finish.OTHER)


def usage_from_gemini(usage_metadata: Any) -> Usage:
    """The model's usage from Gemini's usageMetadata; every count optional (proto3 omits 0)."""
    meta = usage_metadata if isinstance(usage_metadata, dict) else {}
    prompt = int(meta.get("promptTokenCount", 0)) + int(meta.get("toolUsePromptTokenCount", 0))
    candidates = int(meta.get("candidatesTokenCount", 0))
    thoughts = int(meta.get("thoughtsTokenCount", 0))
    total = meta.get("totalTokenCount")
    # candidatesTokenCount normally excludes thoughts; some responses already include them
    # (prompt + candidates == total), so they are not counted twice (litellm
    # is_candidate_token_count_inclusive).
    inclusive = thoughts > 0 and total is not None and prompt + candidates == int(total)
    output = candidates if inclusive else candidates + thoughts
    return Usage(
        input_tokens=prompt, output_tokens=output, reasoning_tokens=thoughts, cached_tokens=int(meta.get("cachedContentTokenCount", 0))
    )


def logprobs_from_gemini(result: Any) -> tuple[StepLogprob, ...] | None:
    """The steps of a Gemini ``logprobsResult``; None when Gemini sent none.

    ``chosenCandidates[i]`` is the token sampled at step i and ``topCandidates[i]`` the
    alternatives at that step; proto3 JSON omits a ``logProbability`` of 0 and an empty token.
    """
    if not isinstance(result, dict):
        return None
    tops = result.get("topCandidates") or []
    steps = []
    for step, chosen in enumerate(result.get("chosenCandidates") or []):
        top = tops[step] if step < len(tops) and isinstance(tops[step], dict) else {}
        token, logprob = _token(chosen)
        steps.append(StepLogprob(token, logprob, tuple(TokenLogprob(*_token(t)) for t in top.get("candidates") or [])))
    return tuple(steps)


def _token(candidate: dict[str, Any]) -> tuple[str, float]:
    return str(candidate.get("token") or ""), float(candidate.get("logProbability") or 0.0)


def tool_call_from_part(part: dict[str, Any]) -> ToolCall:
    """The model's tool call from a functionCall part (arguments as JSON text)."""
    call = part["functionCall"]
    signature = part.get("thoughtSignature") or None
    return ToolCall(
        id=encode_call_id(call.get("id"), None),
        name=call.get("name", ""),
        arguments=json.dumps(call.get("args") or {}, ensure_ascii=False),
        signature=signature,
        signature_provider=PROVIDER if signature else None,
    )


def split_parts(parts: list[dict[str, Any]]) -> tuple[list[str], list[str], list[ToolCall]]:
    """``(answer texts, thought texts, tool calls)`` of one candidate's parts."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCall] = []
    for part in parts:
        if "functionCall" in part:
            calls.append(tool_call_from_part(part))
        elif isinstance(part.get("text"), str):
            (thoughts if part.get("thought") else texts).append(part["text"])
    return texts, thoughts, calls


def gemini_answer(resp: dict[str, Any]) -> ChatAnswer:
    """A whole generateContent response as the model's answer."""
    candidates = resp.get("candidates") or []
    if candidates:
        choices = tuple(_choice(c) for c in candidates)
    else:
        # Blocked prompt: HTTP 200 with only promptFeedback. One choice, no text.
        blocked = bool((resp.get("promptFeedback") or {}).get("blockReason"))
        choices = (Choice(index=0, finish=Finish.CONTENT_FILTER if blocked else Finish.STOP),)
    return ChatAnswer(choices=choices, usage=usage_from_gemini(resp.get("usageMetadata")), provider=PROVIDER)


def _choice(candidate: dict[str, Any]) -> Choice:
    texts, thoughts, calls = split_parts(_parts(candidate))
    return Choice(
        index=int(candidate.get("index", 0)),
        text="".join(texts) if texts else None,
        reasoning="".join(thoughts) if thoughts else None,
        tool_calls=tuple(calls),
        finish=map_finish(candidate.get("finishReason"), bool(calls)),
        logprobs=logprobs_from_gemini(candidate.get("logprobsResult")),
    )


def _parts(candidate: dict[str, Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = (candidate.get("content") or {}).get("parts") or []
    return parts


@dataclass(slots=True)
class _Candidate:
    calls: int = 0  # tool calls sent so far
    finished: bool = False


class GeminiStreamDecoder(StreamDecoder):
    """One Gemini SSE stream, fed in any split, as the model's stream events.

    An in-band ``{"error": …}``, a malformed event or a stream that is not SSE at all (a JSON
    array: the URL lacked ``?alt=sse``, trap 2) ends it with one `StreamError`; nothing follows.
    A choice still open when Gemini ends gets its `ChoiceEnd`; an empty stream still answers
    one (empty) choice. Gemini's usage is cumulative: one `UsageReport`, the last, comes just
    before `StreamEnd`; `usage` has it at any time (a broken stream's too).
    """

    def __init__(self) -> None:
        super().__init__()
        self._candidates: dict[int, _Candidate] = {}
        self._usage_metadata: dict[str, Any] | None = None  # the last one: read once, at the end

    @property
    def usage(self) -> Usage | None:
        """The last usage Gemini reported, or None."""
        return None if self._usage_metadata is None else usage_from_gemini(self._usage_metadata)

    def _at_end(self) -> list[StreamEvent]:
        """Close the open choices; an empty stream still answers one (empty) choice."""
        out: list[StreamEvent] = [] if self._candidates else self._start(0)
        for index, candidate in sorted(self._candidates.items()):
            if not candidate.finished:
                out += self._end(index, None)  # Gemini ended without a finishReason: still close it
        return out

    def _event(self, event: dict[str, Any]) -> list[StreamEvent]:
        if "error" in event:
            error = event["error"] if isinstance(event["error"], dict) else {}
            return self.fail(str(error.get("message") or "upstream error"))
        if isinstance(event.get("usageMetadata"), dict):
            self._usage_metadata = event["usageMetadata"]
        out: list[StreamEvent] = []
        candidates = event.get("candidates") or []
        for candidate in candidates:
            out += self._candidate(candidate)
        blocked = (event.get("promptFeedback") or {}).get("blockReason")
        if not candidates and blocked and not (0 in self._candidates and self._candidates[0].finished):
            out += self._start(0)
            out += self._end(0, None, blocked=True)
        return out

    def _candidate(self, candidate: dict[str, Any]) -> list[StreamEvent]:
        index = int(candidate.get("index", 0))
        out = self._start(index)
        state = self._candidates[index]
        if state.finished:
            return out  # nothing belongs to a choice after its end
        texts, thoughts, calls = split_parts(_parts(candidate))
        logprobs = logprobs_from_gemini(candidate.get("logprobsResult"))
        out += [ReasoningDelta(index, t) for t in thoughts if t]
        for text in texts:
            if text:
                out.append(TextDelta(index, text, logprobs))
                logprobs = None  # the event's tokens go out once, with its first text
        out += [ToolCallEvent(index, call) for call in calls]
        state.calls += len(calls)
        if candidate.get("finishReason"):
            out += self._end(index, candidate["finishReason"], logprobs=logprobs)
        elif logprobs:
            out.append(TextDelta(index, "", logprobs))  # tokens without text: still reported
        return out

    def _start(self, index: int) -> list[StreamEvent]:
        if index in self._candidates:
            return []
        self._candidates[index] = _Candidate()
        return [ChoiceStart(index)]

    def _end(
        self, index: int, reason: str | None, *, blocked: bool = False, logprobs: tuple[StepLogprob, ...] | None = None
    ) -> list[StreamEvent]:
        state = self._candidates[index]
        state.finished = True
        finish = Finish.CONTENT_FILTER if blocked else map_finish(reason, state.calls > 0)
        return [ChoiceEnd(index, finish, logprobs)]
