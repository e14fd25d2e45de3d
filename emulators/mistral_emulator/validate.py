"""Strict validation of Mistral request bodies (pure): each check returns a MistralError or None.

Two layers, like La Plateforme:

1. Schema (FastAPI/Pydantic with `extra="forbid"`): any field outside the allow-lists below,
   anywhere in the body, answers 422 `extra_forbidden` (`max_completion_tokens`, `seed`, `user`,
   `stream_options`, `name` on a user message, `reasoning_content` on an assistant message...);
   missing required fields and wrong JSON types answer 422 too. All problems are reported at once.
2. Chat rules (mistral-common's validator), 400: tool call ids of exactly 9 letters or digits
   (code 3280), role order (code 3230: no `user` right after `tool`, a `tool` only after an
   assistant's calls or another tool message), as many tool messages as calls, the last message
   `user` or `tool` (or an assistant with `prefix: true`), assistant content or tool calls, not
   none.

Usage:
    error = validate_chat(body, models)
"""

from __future__ import annotations

import re
from typing import Any

from . import errors
from .answers import text_tokens
from .errors import MistralError, Problem
from .scenario import ModelInfo

CHAT_FIELDS = frozenset(
    {
        "model",
        "messages",
        "temperature",
        "top_p",
        "max_tokens",
        "stream",
        "stop",
        "random_seed",
        "metadata",
        "response_format",
        "tools",
        "tool_choice",
        "presence_penalty",
        "frequency_penalty",
        "n",
        "prediction",
        "parallel_tool_calls",
        "prompt_mode",
        "reasoning_effort",
        "safe_prompt",
        "guardrails",
        "prompt_cache_key",
    }
)
MESSAGE_FIELDS = {
    "system": frozenset({"role", "content"}),
    "user": frozenset({"role", "content"}),
    "assistant": frozenset({"role", "content", "tool_calls", "prefix"}),
    "tool": frozenset({"role", "content", "tool_call_id", "name"}),
}
CHUNK_FIELDS = {
    "text": frozenset({"type", "text"}),
    "image_url": frozenset({"type", "image_url"}),
    "document_url": frozenset({"type", "document_url", "document_name"}),
    "input_audio": frozenset({"type", "input_audio"}),
    "file": frozenset({"type", "file_id"}),
    "reference": frozenset({"type", "reference_ids"}),
    "thinking": frozenset({"type", "thinking", "signature", "closed"}),
}
TOOL_CALL_FIELDS = frozenset({"id", "type", "function", "index"})
CALL_FUNCTION_FIELDS = frozenset({"name", "arguments"})
TOOL_FIELDS = frozenset({"type", "function"})
FUNCTION_FIELDS = frozenset({"name", "description", "parameters", "strict"})
RESPONSE_FORMAT_FIELDS = frozenset({"type", "json_schema"})
JSON_SCHEMA_FIELDS = frozenset({"name", "description", "schema", "strict"})
TOOL_CHOICE_FIELDS = frozenset({"type", "function"})
# One embeddings request holds at most this many tokens across its inputs (mistralai/client-python#46).
MAX_REQUEST_TOKENS = 16_384
EMBEDDING_FIELDS = frozenset({"model", "input", "output_dimension", "output_dtype", "encoding_format", "metadata"})
TOOL_CHOICES = ("auto", "none", "any", "required")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")
OUTPUT_DTYPES = ("float", "int8", "uint8", "binary", "ubinary")
ENCODING_FORMATS = ("float", "base64")
_TOOL_ID = re.compile(r"^[a-zA-Z0-9]{9}$")
# mistral-common's order rule: the roles allowed right after each role.
NEXT_ROLES = {
    "system": ("user", "assistant", "system"),
    "user": ("assistant", "system", "user"),
    "assistant": ("assistant", "user", "tool"),
    "tool": ("assistant", "tool"),
}
Loc = tuple[str | int, ...]


def validate_chat(body: Any, models: dict[str, ModelInfo]) -> MistralError | None:
    problems = chat_schema_problems(body)
    if problems:
        return errors.unprocessable(problems)
    info = models.get(body["model"])
    if info is None or info.embedding:
        return errors.invalid_model(body["model"])
    return chat_rule_error(body["messages"])


def validate_embeddings(body: Any, models: dict[str, ModelInfo]) -> MistralError | None:
    problems = embedding_schema_problems(body)
    if problems:
        return errors.unprocessable(problems)
    info = models.get(body["model"])
    if info is None or not info.embedding:
        return errors.invalid_model(body["model"])
    if body.get("output_dimension") is not None and not body["model"].startswith("codestral-embed"):
        # mistral-embed makes 1024 dimensions only (codestral-embed takes output_dimension).
        return errors.invalid_request(f"output_dimension is not supported for model {body['model']}")
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    if sum(text_tokens(t) for t in texts) > MAX_REQUEST_TOKENS:
        return errors.too_many_tokens()
    return None


# --- layer 1: the schema ----------------------------------------------------------------------


def _extra(obj: dict[str, Any], allowed: frozenset[str], loc: Loc) -> list[Problem]:
    return [errors.extra_forbidden((*loc, name), value) for name, value in obj.items() if name not in allowed]


def _type(value: Any, kinds: tuple[type, ...], loc: Loc, error: str, msg: str) -> list[Problem]:
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    return [] if ok else [Problem(error, loc, msg, value)]


def _literal(value: Any, allowed: tuple[str, ...], loc: Loc) -> list[Problem]:
    if value in allowed:
        return []
    expected = ", ".join(f"'{a}'" for a in allowed[:-1]) + f" or '{allowed[-1]}'"
    return [Problem("literal_error" if isinstance(value, str) else "enum", loc, f"Input should be {expected}", value)]


def chat_schema_problems(body: Any) -> list[Problem]:
    if not isinstance(body, dict):
        return [Problem("model_attributes_type", (), "Input should be a valid dictionary or object to extract fields from", body)]
    problems = _extra(body, CHAT_FIELDS, ())
    problems += [errors.missing((name,), body) for name in ("model", "messages") if name not in body]
    if "model" in body:
        problems += _type(body["model"], (str,), ("model",), "string_type", "Input should be a valid string")
    messages = body.get("messages")
    if "messages" in body:
        if not isinstance(messages, list):
            problems.append(Problem("list_type", ("messages",), "Input should be a valid list", messages))
        elif not messages:
            problems.append(Problem("too_short", ("messages",), "List should have at least 1 item after validation, not 0", messages))
        else:
            for i, message in enumerate(messages):
                problems += _message_problems(message, ("messages", i))
    for name in ("max_tokens", "random_seed", "n"):
        if body.get(name) is not None:
            problems += _type(body[name], (int,), (name,), "int_type", "Input should be a valid integer")
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        if body.get(name) is not None:
            problems += _type(body[name], (int, float), (name,), "float_type", "Input should be a valid number")
    for name in ("stream", "safe_prompt", "parallel_tool_calls"):
        if name in body:
            problems += _type(body[name], (bool,), (name,), "bool_type", "Input should be a valid boolean")
    problems += _tools_problems(body.get("tools"))
    problems += _tool_choice_problems(body.get("tool_choice"))
    problems += _response_format_problems(body.get("response_format"))
    return problems


def _message_problems(message: Any, loc: Loc) -> list[Problem]:
    if not isinstance(message, dict):
        return [Problem("model_attributes_type", loc, "Input should be a valid dictionary or object to extract fields from", message)]
    role = message.get("role")
    if role not in MESSAGE_FIELDS:
        tag = "union_tag_not_found" if role is None else "union_tag_invalid"
        msg = (
            "Unable to extract tag using discriminator 'role'"
            if role is None
            else f"Input tag '{role}' found using 'role' does not match any of the expected tags: 'assistant', 'system', 'tool', 'user'"
        )
        return [Problem(tag, loc, msg, message)]
    where = (*loc, role)
    problems = _extra(message, MESSAGE_FIELDS[role], where)
    content = message.get("content")
    if role in ("user", "system") and "content" not in message:
        problems.append(errors.missing((*where, "content"), message))
    if isinstance(content, list):
        for j, chunk in enumerate(content):
            problems += _chunk_problems(chunk, (*where, "content", j))
    elif content is not None and not isinstance(content, str):
        problems.append(Problem("string_type", (*where, "content"), "Input should be a valid string", content))
    if role == "assistant" and message.get("tool_calls") is not None:
        calls = message["tool_calls"]
        if not isinstance(calls, list):
            return [*problems, Problem("list_type", (*where, "tool_calls"), "Input should be a valid list", calls)]
        for j, call in enumerate(calls):
            problems += _call_problems(call, (*where, "tool_calls", j))
    if role == "assistant" and "prefix" in message:
        problems += _type(message["prefix"], (bool,), (*where, "prefix"), "bool_type", "Input should be a valid boolean")
    return problems


def _chunk_problems(chunk: Any, loc: Loc) -> list[Problem]:
    kind = chunk.get("type") if isinstance(chunk, dict) else None
    if kind not in CHUNK_FIELDS:
        expected = ", ".join(f"'{k}'" for k in CHUNK_FIELDS)
        return [
            Problem(
                "union_tag_invalid",
                loc,
                f"Input tag '{kind}' found using 'type' does not match any of the expected tags: {expected}",
                chunk,
            )
        ]
    return _extra(chunk, CHUNK_FIELDS[kind], (*loc, kind))


def _call_problems(call: Any, loc: Loc) -> list[Problem]:
    if not isinstance(call, dict):
        return [Problem("model_type", loc, "Input should be a valid dictionary or instance of ToolCall", call)]
    problems = _extra(call, TOOL_CALL_FIELDS, loc)
    function = call.get("function")
    if not isinstance(function, dict):
        return [*problems, errors.missing((*loc, "function"), call)]
    problems += _extra(function, CALL_FUNCTION_FIELDS, (*loc, "function"))
    problems += [errors.missing((*loc, "function", n), function) for n in ("name", "arguments") if n not in function]
    return problems


def _tools_problems(tools: Any) -> list[Problem]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        return [Problem("list_type", ("tools",), "Input should be a valid list", tools)]
    problems: list[Problem] = []
    for i, tool in enumerate(tools):
        loc: Loc = ("tools", i)
        if not isinstance(tool, dict) or not isinstance(tool.get("function"), dict):
            problems.append(errors.missing((*loc, "function"), tool))
            continue
        problems += _extra(tool, TOOL_FIELDS, loc) + _extra(tool["function"], FUNCTION_FIELDS, (*loc, "function"))
        if "name" not in tool["function"]:
            problems.append(errors.missing((*loc, "function", "name"), tool["function"]))
    return problems


def _tool_choice_problems(choice: Any) -> list[Problem]:
    if choice is None or isinstance(choice, str):
        return [] if choice is None else _literal(choice, TOOL_CHOICES, ("tool_choice",))
    if not isinstance(choice, dict) or not isinstance(choice.get("function"), dict):
        return [errors.missing(("tool_choice", "function"), choice)]
    return _extra(choice, TOOL_CHOICE_FIELDS, ("tool_choice",)) + _extra(
        choice["function"], frozenset({"name"}), ("tool_choice", "function")
    )


def _response_format_problems(fmt: Any) -> list[Problem]:
    if fmt is None:
        return []
    if not isinstance(fmt, dict):
        return [Problem("model_type", ("response_format",), "Input should be a valid dictionary or instance of ResponseFormat", fmt)]
    problems = _extra(fmt, RESPONSE_FORMAT_FIELDS, ("response_format",))
    if "type" in fmt:
        problems += _literal(fmt["type"], RESPONSE_FORMATS, ("response_format", "type"))
    schema = fmt.get("json_schema")
    if isinstance(schema, dict):
        problems += _extra(schema, JSON_SCHEMA_FIELDS, ("response_format", "json_schema"))
        problems += [errors.missing(("response_format", "json_schema", n), schema) for n in ("name", "schema") if n not in schema]
    elif fmt.get("type") == "json_schema":
        problems.append(errors.missing(("response_format", "json_schema"), fmt))
    return problems


def embedding_schema_problems(body: Any) -> list[Problem]:
    if not isinstance(body, dict):
        return [Problem("model_attributes_type", (), "Input should be a valid dictionary or object to extract fields from", body)]
    problems = _extra(body, EMBEDDING_FIELDS, ())
    problems += [errors.missing((name,), body) for name in ("model", "input") if name not in body]
    if "model" in body:
        problems += _type(body["model"], (str,), ("model",), "string_type", "Input should be a valid string")
    given = body.get("input")
    texts = given if isinstance(given, list) else [given]
    if "input" in body and not all(isinstance(t, str) for t in texts):
        problems.append(Problem("string_type", ("input",), "Input should be a valid string", given))
    if body.get("output_dimension") is not None:
        problems += _type(body["output_dimension"], (int,), ("output_dimension",), "int_type", "Input should be a valid integer")
    if body.get("output_dtype") is not None:
        problems += _literal(body["output_dtype"], OUTPUT_DTYPES, ("output_dtype",))
    if body.get("encoding_format") is not None:
        problems += _literal(body["encoding_format"], ENCODING_FORMATS, ("encoding_format",))
    return problems


# --- layer 2: the chat rules ------------------------------------------------------------------


def chat_rule_error(messages: list[dict[str, Any]]) -> MistralError | None:
    return _order_error(messages) or _calls_answered_error(messages) or _content_error(messages)


def _order_error(messages: list[dict[str, Any]]) -> MistralError | None:
    for previous, current in zip(messages, messages[1:], strict=False):
        if current["role"] not in NEXT_ROLES[previous["role"]]:
            return errors.unexpected_role(current["role"], previous["role"])
    last = messages[-1]
    if last["role"] not in ("user", "tool") and not (last["role"] == "assistant" and last.get("prefix")):
        return errors.last_role(last["role"])
    return None


def _calls_answered_error(messages: list[dict[str, Any]]) -> MistralError | None:
    """Each assistant turn with N tool calls is followed by exactly N tool messages."""
    expected = 0
    for message in [*messages, {"role": "user"}]:
        if message["role"] == "tool":
            expected -= 1
            continue
        if expected != 0:
            return errors.message_order(errors.CALLS_AND_RESPONSES)
        expected = len(message.get("tool_calls") or []) if message["role"] == "assistant" else 0
    return None


def _content_error(messages: list[dict[str, Any]]) -> MistralError | None:
    for index, message in enumerate(messages):
        if message["role"] == "tool" and not _TOOL_ID.match(str(message.get("tool_call_id"))):
            return errors.tool_call_id(str(message.get("tool_call_id")))
        if message["role"] != "assistant":
            continue
        calls, content = message.get("tool_calls") or [], message.get("content")
        if calls and content:
            return errors.invalid_request(errors.BOTH_ASSISTANT)
        if not calls and not content:
            return errors.invalid_request(errors.EMPTY_ASSISTANT)
        for call in calls:
            if not _TOOL_ID.match(str(call.get("id"))):
                return errors.tool_call_id(str(call.get("id")))
        if message.get("prefix") and index != len(messages) - 1:
            return errors.invalid_request(errors.PREFIX_NOT_LAST)
    return None
