"""OpenAI Responses API request body (`POST /v1/responses`) -> ChatRequest (core/model/request.py).

The Responses body differs from a chat body in shape, not in meaning: `input` is a string or a
flat list of items (messages, `function_call`, `function_call_output`, ...), `instructions` is
the system prompt, tools are flat (`{type: "function", name, parameters}`), structured output is
`text.format` and reasoning is `reasoning.effort`. Each is read into the same model a chat
request becomes, so the Gemini translator, the cache key and cost serve both unchanged.

What the router cannot do is refused with a 400 naming the field, never dropped silently:
OpenAI's hosted tools (`web_search`, `file_search`, `code_interpreter`, ...), uploaded file ids,
stored prompts, background runs and `conversation`. `previous_response_id` needs the stored
conversation it names (core/inbound/openai_responses_store.py) passed in as `history`: without
one it is answered as OpenAI answers an unknown id. The input items are read by
core/inbound/openai_responses_input.py, the tools by core/inbound/openai_responses_tools.py:
Codex's `custom` (freeform) tools become functions with one string parameter, `input`, whose
calls go back as `custom_tool_call` items (core/inbound/openai_responses_answer.py); a
`namespace` tool's tools become functions named `namespace.name`, whose calls come back in the
input as the tool's own name with the `namespace` field.

Usage:
    request = parse_responses_request(json.loads(raw))     # raises InvalidRequest
    request.chat          # the ChatRequest
    request.echo          # the request fields the Response object repeats
    request.conversation  # history + input as messages, for the next turn to continue
    parse_responses_request(body, history=stored.conversation)   # a previous_response_id found
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidRequest
from ..fieldcheck import UNSUPPORTED, fail, is_int, is_number
from ..model.request import ChatRequest, Message, OutputFormat, TextPart
from .openai_responses_input import parse_input
from .openai_responses_tools import parse_tool_choice, parse_tools

# The Responses API spells efforts past "xhigh" "max"; the model's top level is xhigh.
REASONING_EFFORTS = {
    "none": "none",
    "minimal": "minimal",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "xhigh",
}
TEXT_FORMATS = {"text": "text", "json_object": "json", "json_schema": "json_schema"}
# Read into the model or echoed only; every other top-level field lands in ChatRequest.extra.
READ_FIELDS = frozenset(
    {
        "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "text", "reasoning",
        "max_output_tokens", "temperature", "top_p", "stream", "user", "safety_identifier", "previous_response_id",
        "conversation", "background", "prompt",
    }
)  # fmt: skip
# Bookkeeping that never changes the answer: not kept, so it cannot split the cache.
BOOKKEEPING_FIELDS = frozenset({"metadata", "store", "include", "service_tier", "truncation", "stream_options", "prompt_cache_retention"})
# The fields of the request the Response object repeats back (OpenAI's response.py).
ECHO_FIELDS = ("instructions", "max_output_tokens", "metadata", "parallel_tool_calls", "temperature", "tool_choice", "tools", "top_p")


@dataclass(frozen=True, slots=True)
class ResponsesRequest:
    chat: ChatRequest
    echo: Mapping[str, Any] = field(default_factory=dict)  # what the Response object repeats
    custom_tools: frozenset[str] = frozenset()  # names of the client's custom (freeform) tools
    namespaced: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # function name -> (namespace, tool name)
    reasoning_summary: str | None = None
    conversation: tuple[Message, ...] = ()  # the history, then the input (not the instructions)
    previous_response_id: str | None = None
    store: bool = True  # OpenAI's default: a response is kept unless the request says `store: false`


def parse_responses_request(body: object, history: tuple[Message, ...] | None = None) -> ResponsesRequest:
    """Validate `body` (the parsed JSON) and read it; raise InvalidRequest naming the field.
    `history` is the stored conversation its `previous_response_id` names (None: not found)."""
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    model = _model(body)
    previous = previous_response_id(body)
    if previous is not None and history is None:
        raise previous_not_found(previous)
    _refuse_server_state(body)
    _check_scalars(body)
    tools, custom, namespaced = parse_tools(body.get("tools"))
    system = _instructions(body)
    conversation = parse_input(body.get("input"), custom, history if previous is not None and history else ())
    reasoning = _object(body, "reasoning")
    effort = _reasoning_effort(reasoning)
    chat = ChatRequest(
        model=model,
        messages=system + conversation,
        tools=tools,
        tool_choice=parse_tool_choice(body.get("tool_choice"), {t.name for t in tools}),
        parallel_tool_calls=body.get("parallel_tool_calls"),
        output_format=_output_format(_object(body, "text").get("format")),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        max_output_tokens=body.get("max_output_tokens"),
        reasoning_effort=effort,
        stream=body.get("stream") is True,
        end_user=_end_user(body),
        extra={k: v for k, v in body.items() if k not in READ_FIELDS and k not in BOOKKEEPING_FIELDS},
    )
    summary = reasoning.get("summary")
    return ResponsesRequest(
        chat=chat,
        echo={name: body[name] for name in ECHO_FIELDS if body.get(name) is not None} | _echo_nested(body),
        custom_tools=frozenset(custom),
        namespaced=namespaced,
        reasoning_summary=summary if isinstance(summary, str) else None,
        conversation=conversation,
        previous_response_id=previous,
        store=body.get("store") is not False,
    )


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise fail("model", "must be a non-empty string")
    return model


def _instructions(body: dict[str, Any]) -> tuple[Message, ...]:
    """`instructions`, as the system message that comes first (none when absent or empty)."""
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise fail("instructions", "must be a string")
    return (Message("system", (TextPart(instructions),)),) if instructions else ()


def _reasoning_effort(reasoning: dict[str, Any]) -> str | None:
    effort = reasoning.get("effort")
    if effort is not None and effort not in REASONING_EFFORTS:
        raise fail("reasoning.effort", f"unknown value {effort!r}; expected one of {', '.join(REASONING_EFFORTS)}")
    return REASONING_EFFORTS[effort] if effort else None


def previous_response_id(body: dict[str, Any]) -> str | None:
    """The id a request continues from, checked (a string), or None."""
    previous = body.get("previous_response_id")
    if previous is not None and (not isinstance(previous, str) or not previous):
        raise fail("previous_response_id", "must be a non-empty string")
    return previous


def previous_not_found(response_id: str) -> InvalidRequest:
    """OpenAI's answer to an unknown, expired or unstored id, word for word."""
    message = f"Previous response with id '{response_id}' not found."
    return InvalidRequest(message, param="previous_response_id", code="previous_response_not_found")


def _echo_nested(body: dict[str, Any]) -> dict[str, Any]:
    echo: dict[str, Any] = {}
    if isinstance(body.get("text"), dict):
        echo["text"] = body["text"]
    if isinstance(body.get("reasoning"), dict):
        echo["reasoning"] = body["reasoning"]
    return echo


def _refuse_server_state(body: dict[str, Any]) -> None:
    """What needs conversations, prompts or runs kept on the server: the router keeps none."""
    conversation = body.get("conversation")
    if conversation is not None:
        shown = conversation.get("id") if isinstance(conversation, dict) else conversation
        raise InvalidRequest(f"Conversation with id '{shown}' not found.", param="conversation", code="conversation_not_found")
    if body.get("background") is True:
        raise fail("background", "background responses are not supported: the router keeps no responses; omit it", UNSUPPORTED)
    if body.get("prompt") is not None:
        raise fail("prompt", "stored prompt templates live on OpenAI's servers and are not supported; send input instead", UNSUPPORTED)


def _check_scalars(body: dict[str, Any]) -> None:
    for key, (low, high) in {"temperature": (0, 2), "top_p": (0, 1)}.items():
        value = body.get(key)
        if value is not None and not (is_number(value) and low <= value <= high):
            raise fail(key, f"must be a number between {low} and {high}")
    limit = body.get("max_output_tokens")
    if limit is not None and not (is_int(limit) and limit >= 1):
        raise fail("max_output_tokens", "must be an integer >= 1")
    for key in ("stream", "parallel_tool_calls", "store", "background"):
        if body.get(key) is not None and not isinstance(body[key], bool):
            raise fail(key, "must be a boolean")
    for key in ("user", "safety_identifier", "prompt_cache_key"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise fail(key, "must be a string")


def _object(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise fail(key, "must be an object")
    return value


def _end_user(body: dict[str, Any]) -> str | None:
    """Who the answer is for: `safety_identifier` replaced `user` in the Responses API."""
    return body.get("safety_identifier") or body.get("user") or None


def _output_format(fmt: object) -> OutputFormat | None:
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") not in TEXT_FORMATS:
        raise fail("text.format.type", f"must be one of {', '.join(TEXT_FORMATS)}")
    kind = TEXT_FORMATS[fmt["type"]]
    if kind != "json_schema":
        return OutputFormat(kind)  # type: ignore[arg-type]
    schema, name, strict = fmt.get("schema"), fmt.get("name"), fmt.get("strict")
    if not isinstance(schema, dict):
        raise fail("text.format.schema", "must be a JSON Schema object")
    if not isinstance(name, str) or not name:
        raise fail("text.format.name", "must be a non-empty string")
    return OutputFormat("json_schema", schema=schema, name=name, strict=strict if isinstance(strict, bool) else None)
