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
one it is answered as OpenAI answers an unknown id. The tools are read by
core/inbound/openai_responses_tools.py: Codex's `custom` (freeform) tools become functions with
one string parameter, `input`, whose calls go back as `custom_tool_call` items
(core/inbound/openai_responses_answer.py); a `namespace` tool's tools become functions named
`namespace.name`, whose calls come back here as the tool's own name with the `namespace` field.

Usage:
    request = parse_responses_request(json.loads(raw))     # raises InvalidRequest
    request.chat          # the ChatRequest
    request.echo          # the request fields the Response object repeats
    request.conversation  # history + input as messages, for the next turn to continue
    parse_responses_request(body, history=stored.conversation)   # a previous_response_id found
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidRequest
from ..fieldcheck import UNSUPPORTED, fail, is_int, is_number, parse_data_url
from ..model.request import (
    ChatRequest,
    MediaPart,
    Message,
    OutputFormat,
    Part,
    TextPart,
    ToolCall,
    ToolResult,
)
from ..toolids import unpack_call_id
from .openai_responses_tools import CUSTOM_INPUT, NAMESPACE_SEPARATOR, parse_tool_choice, parse_tools

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
ROLES = ("user", "assistant", "system", "developer")
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
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise fail("model", "must be a non-empty string")
    previous = previous_response_id(body)
    if previous is not None and history is None:
        raise previous_not_found(previous)
    _refuse_server_state(body)
    _check_scalars(body)
    tools, custom, namespaced = parse_tools(body.get("tools"))
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise fail("instructions", "must be a string")
    conversation = _input(body.get("input"), custom, history if previous is not None and history else ())
    messages = ((Message("system", (TextPart(instructions),)),) if instructions else ()) + conversation
    reasoning = _object(body, "reasoning")
    effort = reasoning.get("effort")
    if effort is not None and effort not in REASONING_EFFORTS:
        raise fail("reasoning.effort", f"unknown value {effort!r}; expected one of {', '.join(REASONING_EFFORTS)}")
    chat = ChatRequest(
        model=model,
        messages=messages,
        tools=tools,
        tool_choice=parse_tool_choice(body.get("tool_choice"), {t.name for t in tools}),
        parallel_tool_calls=body.get("parallel_tool_calls"),
        output_format=_output_format(_object(body, "text").get("format")),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        max_output_tokens=body.get("max_output_tokens"),
        reasoning_effort=REASONING_EFFORTS[effort] if effort else None,
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


def output_messages(output: list[Any], history: tuple[Message, ...] = ()) -> tuple[Message, ...]:
    """A Response's output items (as the router rendered them) as the model's messages after
    `history`: they are valid input items, so they read back like a client's replay of them."""
    return _Conversation(set(), history).read(output)


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


def _input(items: object, custom: set[str], history: tuple[Message, ...]) -> tuple[Message, ...]:
    if isinstance(items, str):
        return (*history, Message("user", (TextPart(items),)))
    if not isinstance(items, list) or not items:
        raise fail("input", "must be a string or a non-empty array of input items")
    return _Conversation(custom, history).read(items)


class _Conversation:
    """Input items -> messages. Consecutive `function_call` items (and the assistant message
    right before them) are one assistant turn, as a chat history spells it; a call's output
    must answer a call made before it, in the items or in the `history` they continue."""

    def __init__(self, custom: set[str], history: tuple[Message, ...] = ()) -> None:
        self.custom = custom
        self.messages: list[Message] = list(history)
        self.calls: dict[str, str] = {c.id: c.name for m in history for c in m.tool_calls if c.id}  # call_id -> name

    def read(self, items: list[Any]) -> tuple[Message, ...]:
        for i, item in enumerate(items):
            p = f"input[{i}]"
            if not isinstance(item, dict):
                raise fail(p, "must be an object")
            kind = item.get("type", "message")
            if kind == "message":
                self._message(item, p)
            elif kind in ("function_call", "custom_tool_call"):
                self._call(item, p, kind)
            elif kind in ("function_call_output", "custom_tool_call_output"):
                self._output(item, p)
            elif kind == "reasoning":
                continue  # Gemini's thoughts cannot be handed back as text; signatures ride in call ids
            elif kind == "item_reference":
                raise fail(
                    f"{p}.id", "item references need stored responses, which the router does not keep; send the item itself", UNSUPPORTED
                )
            else:
                raise fail(f"{p}.type", f"unsupported input item type {kind!r}", UNSUPPORTED)
        return tuple(self.messages)

    def _message(self, item: dict[str, Any], p: str) -> None:
        role = item.get("role")
        if role not in ROLES:
            raise fail(f"{p}.role", f"must be one of {', '.join(ROLES)}")
        parts = _parts(item.get("content"), f"{p}.content", role)
        self.messages.append(Message(role, parts))

    def _call(self, item: dict[str, Any], p: str, kind: str) -> None:
        call_id, name = item.get("call_id"), item.get("name")
        if not isinstance(call_id, str) or not call_id:
            raise fail(f"{p}.call_id", "must be a non-empty string")
        if not isinstance(name, str) or not name:
            raise fail(f"{p}.name", "must be a non-empty string")
        namespace = item.get("namespace")
        if namespace is not None and (not isinstance(namespace, str) or not namespace):
            raise fail(f"{p}.namespace", "must be a non-empty string")
        if namespace:  # a namespace's tool is the function the request declared for it
            name = f"{namespace}{NAMESPACE_SEPARATOR}{name}"
        arguments = {CUSTOM_INPUT: _string(item, "input", p)} if kind == "custom_tool_call" else _arguments(item, p)
        provider_id, signature = unpack_call_id(call_id)
        call = ToolCall(
            name=name,
            arguments=arguments,
            id=call_id,
            provider_id=provider_id,
            signature=signature,
        )
        self.calls[call_id] = name
        last = self.messages[-1] if self.messages else None
        if last is not None and last.role == "assistant":
            self.messages[-1] = Message("assistant", last.content, (*last.tool_calls, call), last.name)
        else:
            self.messages.append(Message("assistant", (), (call,)))

    def _output(self, item: dict[str, Any], p: str) -> None:
        call_id = item.get("call_id")
        if not isinstance(call_id, str) or call_id not in self.calls:
            raise fail(f"{p}.call_id", f"{call_id!r} does not match a function_call earlier in input")
        output = item.get("output")
        if isinstance(output, str):
            content: tuple[Part, ...] = (TextPart(output),)
        elif isinstance(output, list):
            content = _parts(output, f"{p}.output", "user")
        else:
            raise fail(f"{p}.output", "must be a string or an array of content parts")
        self.messages.append(Message("tool", (ToolResult(content, call_id=call_id, name=self.calls[call_id]),)))


def _string(item: dict[str, Any], key: str, p: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise fail(f"{p}.{key}", "must be a string")
    return value


def _arguments(item: dict[str, Any], p: str) -> dict[str, Any]:
    arguments = _string(item, "arguments", p)
    if not arguments.strip():
        return {}
    try:
        parsed = json.loads(arguments)
    except ValueError as exc:
        raise fail(f"{p}.arguments", "is not valid JSON") from exc
    if not isinstance(parsed, dict):
        raise fail(f"{p}.arguments", "must encode a JSON object")
    return parsed


def _parts(content: object, p: str, role: str) -> tuple[Part, ...]:
    if isinstance(content, str):
        return (TextPart(content),) if content else ()
    if not isinstance(content, list):
        raise fail(p, "must be a string or an array of content parts")
    parts: list[Part] = []
    for k, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        q = f"{p}[{k}]"
        if kind in ("input_text", "output_text"):
            if not isinstance(part.get("text"), str):
                raise fail(f"{q}.text", "must be a string")
            if part["text"]:
                parts.append(TextPart(part["text"]))
        elif kind == "refusal":
            continue  # an assistant's refusal is not sent on (as for chat)
        elif kind == "input_image" and role != "assistant":
            parts.append(_image(part, q))
        elif kind == "input_file" and role != "assistant":
            parts.append(_file(part, q))
        else:
            raise fail(f"{q}.type", f"unsupported content part type {kind!r} here; expected input_text, input_image or input_file")
    return tuple(parts)


def _image(part: dict[str, Any], q: str) -> MediaPart:
    url = part.get("image_url")
    detail = part.get("detail") if isinstance(part.get("detail"), str) else None
    if url is None and part.get("file_id") is not None:
        raise fail(f"{q}.file_id", "uploaded file ids are not supported; send image_url as a URL or a base64 data URL", UNSUPPORTED)
    if not isinstance(url, str):
        raise fail(f"{q}.image_url", "must be an http(s) URL or a base64 data URL")
    parsed = parse_data_url(url)
    if parsed:
        return MediaPart("image", mime_type=parsed[0], data=parsed[1], detail=detail)
    if not url.startswith(("http://", "https://")):
        raise fail(f"{q}.image_url", "must be an http(s) URL or a base64 data URL", UNSUPPORTED)
    return MediaPart("image", url=url, detail=detail)


def _file(part: dict[str, Any], q: str) -> MediaPart:
    filename = part.get("filename") if isinstance(part.get("filename"), str) else None
    data, url = part.get("file_data"), part.get("file_url")
    if isinstance(data, str) and data:
        parsed = parse_data_url(data)
        if parsed:
            return MediaPart("file", mime_type=parsed[0], data=parsed[1], filename=filename)
        if data.startswith("data:"):
            raise fail(f"{q}.file_data", "data URL must be base64-encoded")
        return MediaPart("file", data=data, filename=filename)
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        return MediaPart("file", url=url, filename=filename)
    if part.get("file_id") is not None:
        raise fail(f"{q}.file_id", "uploaded file ids are not supported; send file_data as base64", UNSUPPORTED)
    raise fail(f"{q}.file_data", "must be a non-empty base64 string or data URL")
