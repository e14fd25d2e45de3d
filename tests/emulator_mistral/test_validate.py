"""Each trap of Mistral's chat API answers the real status and body (pure checks, no server)."""

from __future__ import annotations

from typing import Any

import pytest
from mistral_emulator.scenario import BUILTIN_MODELS
from mistral_emulator.validate import validate_chat, validate_embeddings

MODELS = {m.id: m for m in BUILTIN_MODELS}
CALL = {"id": "abcDEF123", "type": "function", "function": {"name": "weather", "arguments": "{}"}}


def chat(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": "mistral-small-latest", "messages": list(messages), **fields}


def user(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"role": "user", "content": text, **extra}


def assistant_calls(*ids: str) -> dict[str, Any]:
    return {"role": "assistant", "content": "", "tool_calls": [{**CALL, "id": i} for i in ids]}


def tool(call_id: str = "abcDEF123") -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "name": "weather", "content": "sunny"}


def test_a_plain_request_passes() -> None:
    assert validate_chat(chat(user(), max_tokens=10, random_seed=3, safe_prompt=False), MODELS) is None


@pytest.mark.parametrize(
    ("body", "loc", "value"),
    [
        (chat(user(), max_completion_tokens=100), ["body", "max_completion_tokens"], 100),
        (chat(user(), seed=7), ["body", "seed"], 7),
        (chat(user(), stream_options={"include_usage": True}), ["body", "stream_options"], {"include_usage": True}),
        (chat(user(name="bob")), ["body", "messages", 0, "user", "name"], "bob"),
        (chat(user(tool_calls=[])), ["body", "messages", 0, "user", "tool_calls"], []),
        (
            chat(user(), {"role": "assistant", "content": "x", "reasoning_content": "r", "prefix": True}),
            ["body", "messages", 1, "assistant", "reasoning_content"],
            "r",
        ),
    ],
)
def test_unknown_fields_answer_422_extra_forbidden(body: dict[str, Any], loc: list[Any], value: Any) -> None:
    error = validate_chat(body, MODELS)
    assert error is not None and error.status == 422
    assert error.body == {
        "object": "error",
        "message": {"detail": [{"type": "extra_forbidden", "loc": loc, "msg": "Extra inputs are not permitted", "input": value}]},
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_every_schema_problem_is_reported_at_once() -> None:
    error = validate_chat({"messages": [user(name="x")], "user": "u"}, MODELS)
    assert error is not None
    assert [(d["type"], d["loc"][-1]) for d in error.body["message"]["detail"]] == [
        ("extra_forbidden", "user"),
        ("missing", "model"),
        ("extra_forbidden", "name"),
    ]


def test_name_is_allowed_on_tool_messages() -> None:
    assert validate_chat(chat(user(), assistant_calls("abcDEF123"), tool()), MODELS) is None


@pytest.mark.parametrize("bad", ["call_abc123", "abc", "abcdefghij", "abc_ef123"])
def test_tool_call_ids_must_be_nine_letters_or_digits(bad: str) -> None:
    for body in (chat(user(), assistant_calls(bad), tool("abcDEF123")), chat(user(), assistant_calls("abcDEF123"), tool(bad))):
        error = validate_chat(body, MODELS)
        assert error is not None and error.status == 400
        assert error.body == {
            "object": "error",
            "message": f"Tool call id was {bad} but must be a-z, A-Z, 0-9, with a length of 9.",
            "type": "invalid_function_call",
            "param": None,
            "code": "3280",
        }


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([user(), assistant_calls("abcDEF123"), tool(), user()], "Unexpected role 'user' after role 'tool'"),
        ([user(), tool()], "Unexpected role 'tool' after role 'user'"),
        (
            [user(), {"role": "assistant", "content": "ok"}],
            "Expected last role User or Tool (or Assistant with prefix True) for serving but got assistant",
        ),
        (
            [{"role": "system", "content": "be nice"}],
            "Expected last role User or Tool (or Assistant with prefix True) for serving but got system",
        ),
        ([user(), assistant_calls("abcDEF123", "ghiJKL456"), tool()], "Not the same number of function calls and responses"),
    ],
)
def test_role_order_answers_400_code_3230(messages: list[dict[str, Any]], message: str) -> None:
    error = validate_chat(chat(*messages), MODELS)
    assert error is not None and error.status == 400
    assert error.body == {"object": "error", "message": message, "type": "invalid_request_message_order", "param": None, "code": "3230"}


def test_an_assistant_bridge_after_tool_results_is_accepted() -> None:
    assert validate_chat(chat(user(), assistant_calls("abcDEF123"), tool(), {"role": "assistant", "content": "ok"}, user()), MODELS) is None


def test_a_final_assistant_with_prefix_is_accepted() -> None:
    assert validate_chat(chat(user(), {"role": "assistant", "content": "Sure", "prefix": True}), MODELS) is None


@pytest.mark.parametrize(
    ("message", "text"),
    [
        ({"role": "assistant", "content": ""}, "Assistant message must have either content or tool_calls, but not none."),
        ({"role": "assistant", "content": None}, "Assistant message must have either content or tool_calls, but not none."),
        ({**assistant_calls("abcDEF123"), "content": "calling"}, "Assistant message must have either content or tool_calls, but not both."),
    ],
)
def test_assistant_content_rules(message: dict[str, Any], text: str) -> None:
    messages = [user(), message, *([tool()] if message.get("tool_calls") else []), *([] if message.get("tool_calls") else [user()])]
    error = validate_chat(chat(*messages), MODELS)
    assert error is not None and error.status == 400
    assert error.body == {"object": "error", "message": text, "type": "invalid_request_error", "param": None, "code": None}


def test_prefix_must_be_on_the_last_message() -> None:
    error = validate_chat(chat(user(), {"role": "assistant", "content": "x", "prefix": True}, user()), MODELS)
    assert error is not None and error.body["message"] == "Assistant message with prefix True must be last message"


def test_unknown_role_is_a_union_tag_error() -> None:
    error = validate_chat(chat({"role": "developer", "content": "x"}), MODELS)
    assert error is not None and error.status == 422
    assert error.body["message"]["detail"][0]["type"] == "union_tag_invalid"


def test_unknown_and_embedding_models_answer_invalid_model() -> None:
    for model in ("gpt-4o", "mistral-embed"):
        error = validate_chat({**chat(user()), "model": model}, MODELS)
        assert error is not None and error.status == 400
        assert error.body == {
            "object": "error",
            "message": f"Invalid model: {model}",
            "type": "invalid_model",
            "param": None,
            "code": "1500",
        }


def test_empty_messages_and_bad_types() -> None:
    error = validate_chat(chat(max_tokens="10", stream="yes"), MODELS)
    assert error is not None
    assert [d["type"] for d in error.body["message"]["detail"]] == ["too_short", "int_type", "bool_type"]


def test_tool_choice_and_response_format_are_checked() -> None:
    error = validate_chat(
        chat(user(), tool_choice="sometimes", response_format={"type": "json_schema", "json_schema": {"schema": {}}}), MODELS
    )
    assert error is not None
    assert [(d["type"], d["loc"]) for d in error.body["message"]["detail"]] == [
        ("literal_error", ["body", "tool_choice"]),
        ("missing", ["body", "response_format", "json_schema", "name"]),
    ]


def test_embeddings_checks() -> None:
    assert validate_embeddings({"model": "mistral-embed", "input": ["a", "b"]}, MODELS) is None
    extra = validate_embeddings({"model": "mistral-embed", "input": "a", "dimensions": 8}, MODELS)
    assert extra is not None and extra.status == 422 and extra.body["message"]["detail"][0]["loc"] == ["body", "dimensions"]
    chat_model = validate_embeddings({"model": "mistral-small-latest", "input": "a"}, MODELS)
    assert chat_model is not None and chat_model.body["type"] == "invalid_model"


def test_embeddings_over_the_request_token_limit_are_refused_as_mistral_does() -> None:
    models = MODELS
    error = validate_embeddings({"model": "mistral-embed", "input": ["x" * 40_000, "y" * 30_000]}, models)
    assert error is not None and error.status == 400
    assert (error.body["type"], error.body["code"], error.body["message"]) == (
        "invalid_request_prompt",
        "3210",
        "Too many tokens overall, split into more batches.",
    )
    assert validate_embeddings({"model": "mistral-embed", "input": ["x" * 40_000]}, models) is None


def test_mistral_embed_takes_no_output_dimension() -> None:
    models = MODELS
    error = validate_embeddings({"model": "mistral-embed", "input": "x", "output_dimension": 256}, models)
    assert error is not None and error.status == 400 and "output_dimension" in error.body["message"]
