"""The model's answer as OpenAI's chat.completion (a Gemini answer read into the model first):
reasoning shown only when exposed, the legacy `function_call` shape, OpenAI's finish reasons and usage."""

from __future__ import annotations

import pytest
from chatpath import gemini_to_chat_completion
from hpn_router.core.inbound.openai_chat_answer import finish_reason, usage_to_openai
from hpn_router.core.providers.gemini.chat_answer import map_finish, usage_from_gemini


def complete(resp: dict, legacy_functions: bool = False, **options: bool) -> dict:
    return gemini_to_chat_completion(
        resp,
        model="gemini-2.5-flash",
        completion_id="chatcmpl-test",
        created=1764133800,
        legacy_functions=legacy_functions,
        **options,
    )


def test_thoughts_dropped_unless_exposed() -> None:
    resp = {"candidates": [{"content": {"parts": [{"text": "hmm", "thought": True}]}, "finishReason": "STOP"}]}
    hidden = complete(resp)["choices"][0]["message"]
    assert hidden["content"] is None and "reasoning_content" not in hidden
    shown = complete(resp, expose_reasoning=True)["choices"][0]["message"]
    assert shown["content"] is None and shown["reasoning_content"] == "hmm"


def test_legacy_functions_zero_arg_call() -> None:
    resp = {"candidates": [{"content": {"parts": [{"functionCall": {"name": "now"}}]}, "finishReason": "STOP"}]}
    choice = complete(resp, legacy_functions=True)["choices"][0]
    assert choice["message"]["function_call"] == {"name": "now", "arguments": "{}"} and "tool_calls" not in choice["message"]
    assert choice["finish_reason"] == "function_call"


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("STOP", "stop"),
        (None, "stop"),
        ("FINISH_REASON_UNSPECIFIED", "stop"),
        ("MAX_TOKENS", "length"),
        ("CONTINUATION", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("LANGUAGE", "content_filter"),
        ("OTHER", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("NO_IMAGE", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
        ("UNEXPECTED_TOOL_CALL", "stop"),
        ("TOO_MANY_TOOL_CALLS", "stop"),
        ("MISSING_THOUGHT_SIGNATURE", "stop"),
        ("MALFORMED_RESPONSE", "stop"),
        ("BRAND_NEW_REASON", "stop"),
    ],
)
def test_map_finish_reason(reason: str | None, expected: str) -> None:
    """Gemini's reason through the model's to OpenAI's."""
    assert finish_reason(map_finish(reason, False)) == expected
    assert finish_reason(map_finish(reason, True)) == "tool_calls"
    assert finish_reason(map_finish(reason, False), legacy_functions=True) == expected
    assert finish_reason(map_finish(reason, True), legacy_functions=True) == "function_call"


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        (None, (0, 0, 0, 0, 0)),
        ({}, (0, 0, 0, 0, 0)),
        ({"promptTokenCount": 6, "candidatesTokenCount": 5, "totalTokenCount": 11}, (6, 5, 11, 0, 0)),
        # thoughts are excluded from candidatesTokenCount: add them
        ({"promptTokenCount": 41, "candidatesTokenCount": 9, "thoughtsTokenCount": 120, "totalTokenCount": 170}, (41, 129, 170, 0, 120)),
        # some responses count thoughts inside candidates (prompt + candidates == total): don't double
        ({"promptTokenCount": 10, "candidatesTokenCount": 50, "thoughtsTokenCount": 30, "totalTokenCount": 60}, (10, 50, 60, 0, 30)),
        # tool-use prompt tokens are prompt tokens; cached tokens are reported, not subtracted
        (
            {
                "promptTokenCount": 100,
                "toolUsePromptTokenCount": 20,
                "cachedContentTokenCount": 64,
                "candidatesTokenCount": 5,
                "totalTokenCount": 125,
            },
            (120, 5, 125, 64, 0),
        ),
        # thinking ate the budget: no candidatesTokenCount at all
        ({"promptTokenCount": 12, "thoughtsTokenCount": 100, "totalTokenCount": 112}, (12, 100, 112, 0, 100)),
    ],
)
def test_usage_to_openai(meta: dict | None, expected: tuple[int, int, int, int, int]) -> None:
    usage = usage_to_openai(usage_from_gemini(meta))
    got = (
        usage["prompt_tokens"],
        usage["completion_tokens"],
        usage["total_tokens"],
        usage["prompt_tokens_details"]["cached_tokens"],
        usage["completion_tokens_details"]["reasoning_tokens"],
    )
    assert got == expected
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
