"""ChatRequest -> Mistral's `/v1/chat/completions` body. Pure.

Mistral rejects every field it does not know with 422 `extra_forbidden`, so the body is built
from an allow-list: nothing the client sent travels unless it is named here. Its other rules:

- `seed` is `random_seed`; `max_output_tokens` is `max_tokens`; `n` is `n`.
- Tool-call ids must be exactly 9 letters or digits. An id already of that shape (Mistral's own,
  handed back by the client) is kept; any other id (`call_...`, another provider's) is replaced
  by the first 9 base-62 digits of its SHA-256, so the call and its result, in this request and
  every later one, carry the same new id.
- Role order: only an assistant turn may follow a tool turn, so an assistant bridge goes between
  a tool turn and a user (or system) turn; an assistant turn may not hold both text and calls, so
  such a turn becomes two; a conversation ending with an assistant turn asks for a continuation
  (`prefix: true`); an empty assistant turn is left out.
- `name` only on tool messages (a user's `name` is dropped).
- Reasoning handed back (thought text, Gemini's signatures) is never sent: Mistral did not make it.

Usage:
    body = chat_request_to_mistral(request, "mistral-small-latest")
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from hpn_router.core.errors import InvalidRequest
from hpn_router.core.model.request import (
    ChatRequest,
    MediaPart,
    Message,
    OutputFormat,
    Part,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
)

TOOL_ID = re.compile(r"[A-Za-z0-9]{9}")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BRIDGE_TEXT = "OK."  # what the assistant "says" between a tool result and the next user turn
# JSON Schema keywords Mistral's validator refuses or ignores at a schema's top level.
_SCHEMA_DROPPED = ("$schema", "$id")


def mistral_tool_id(client_id: str) -> str:
    """A 9-character [A-Za-z0-9] id for `client_id`: itself when it has that shape already,
    else a digest of it (deterministic, so a call and its result agree across requests)."""
    if TOOL_ID.fullmatch(client_id):
        return client_id
    number = int.from_bytes(hashlib.sha256(client_id.encode()).digest()[:8], "big")
    digits = []
    for _ in range(9):
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(digits)


# Request parameters Mistral has no field for: left out, and named to the client.
UNSENT_PARAMS = ("logprobs", "top_logprobs", "reasoning_effort")


def ignored_params(request: ChatRequest) -> list[str]:
    """The request's parameters that are not sent to Mistral (the router tells the client)."""
    return [name for name in UNSENT_PARAMS if getattr(request, name) not in (None, False)]


def chat_request_to_mistral(request: ChatRequest, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": _messages(request.messages)}
    options = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_tokens": request.max_output_tokens,
        "random_seed": request.seed,
        "n": request.candidate_count,
        "presence_penalty": request.presence_penalty,
        "frequency_penalty": request.frequency_penalty,
        "parallel_tool_calls": request.parallel_tool_calls if request.tools else None,
    }
    body.update({name: value for name, value in options.items() if value is not None})
    if request.stop:
        body["stop"] = list(request.stop)
    if request.stream:
        body["stream"] = True
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
    if request.tool_choice is not None:
        body["tool_choice"] = _tool_choice(request.tool_choice)
    if request.output_format is not None and (response_format := _response_format(request.output_format)) is not None:
        body["response_format"] = response_format
    return body


# -- messages -------------------------------------------------------------------------------


class _Calls:
    """Ids of the calls made so far, by name: a legacy result (no id) answers the latest one."""

    def __init__(self) -> None:
        self.by_name: dict[str, list[str]] = {}
        self.names: dict[str, str] = {}  # mistral id -> function name
        self.count = 0

    def made(self, call: ToolCall) -> str:
        self.count += 1
        call_id = mistral_tool_id(call.id or f"legacy-{call.name}-{self.count}")
        self.by_name.setdefault(call.name, []).append(call_id)
        self.names[call_id] = call.name
        return call_id

    def answered(self, result: ToolResult) -> tuple[str, str | None]:
        if result.call_id is not None:
            call_id = mistral_tool_id(result.call_id)
            return call_id, result.name or self.names.get(call_id)
        pending = self.by_name.get(result.name or "") or []
        return (pending.pop() if pending else mistral_tool_id(f"orphan-{result.name}")), result.name


def _messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    calls = _Calls()
    out: list[dict[str, Any]] = []
    for position, message in enumerate(messages):
        for turn in _turns(message, calls, f"messages[{position}]"):
            if out and out[-1]["role"] == "tool" and turn["role"] not in ("assistant", "tool"):
                out.append({"role": "assistant", "content": BRIDGE_TEXT})
            out.append(turn)
    if out and out[-1]["role"] == "assistant" and not out[-1].get("tool_calls"):
        out[-1]["prefix"] = True  # the client wants this turn continued
    return out


def _turns(message: Message, calls: _Calls, where: str) -> list[dict[str, Any]]:
    if message.role in ("system", "developer"):
        return [{"role": "system", "content": _plain_text(message.content, where)}]
    if message.role == "user":
        return [{"role": "user", "content": _user_content(message.content, where)}]
    if message.role == "assistant":
        return _assistant_turns(message, calls, where)
    return [_tool_turn(part, calls, where) for part in message.content if isinstance(part, ToolResult)]


def _assistant_turns(message: Message, calls: _Calls, where: str) -> list[dict[str, Any]]:
    text = "".join(part.text for part in message.content if isinstance(part, TextPart))  # reasoning stays out
    turns: list[dict[str, Any]] = []
    if text:
        turns.append({"role": "assistant", "content": text})
    if message.tool_calls:
        turns.append({"role": "assistant", "content": "", "tool_calls": [_call(call, calls) for call in message.tool_calls]})
    return turns


def _call(call: ToolCall, calls: _Calls) -> dict[str, Any]:
    arguments = json.dumps(dict(call.arguments), ensure_ascii=False)
    return {"id": calls.made(call), "type": "function", "function": {"name": call.name, "arguments": arguments}}


def _tool_turn(result: ToolResult, calls: _Calls, where: str) -> dict[str, Any]:
    call_id, name = calls.answered(result)
    turn: dict[str, Any] = {"role": "tool", "tool_call_id": call_id, "content": _plain_text(result.content, where)}
    if name:
        turn["name"] = name
    return turn


def _plain_text(parts: tuple[Part, ...], where: str) -> str:
    texts: list[str] = []
    for part in parts:
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif isinstance(part, MediaPart):
            raise InvalidRequest(f"{part.kind} content is not accepted here by Mistral models", param=f"{where}.content")
    return "".join(texts)


def _user_content(parts: tuple[Part, ...], where: str) -> str | list[dict[str, Any]]:
    if all(isinstance(part, TextPart) for part in parts):
        return "".join(part.text for part in parts if isinstance(part, TextPart))
    chunks: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            chunks.append({"type": "text", "text": part.text})
        elif isinstance(part, MediaPart) and part.kind == "image":
            url = part.url or f"data:{part.mime_type or 'image/png'};base64,{part.data}"
            chunks.append({"type": "image_url", "image_url": url})
        elif isinstance(part, MediaPart):
            raise InvalidRequest(f"{part.kind} content is not supported for Mistral models", param=f"{where}.content")
    return chunks


# -- tools and formats ----------------------------------------------------------------------


def _tool(tool: Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": _schema(tool.parameters or {"type": "object", "properties": {}})}
    if tool.description:
        function["description"] = tool.description
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _schema(schema: Any) -> dict[str, Any]:
    return {key: value for key, value in dict(schema).items() if key not in _SCHEMA_DROPPED}


def _tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    if choice.mode == "required" and len(choice.allowed) == 1:
        return {"type": "function", "function": {"name": choice.allowed[0]}}
    return {"none": "none", "auto": "auto", "required": "any"}[choice.mode]


def _response_format(output: OutputFormat) -> dict[str, Any] | None:
    if output.kind == "json":
        return {"type": "json_object"}
    if output.kind == "json_schema":
        schema: dict[str, Any] = {"name": output.name or "response", "schema": _schema(output.schema or {})}
        if output.strict is not None:
            schema["strict"] = output.strict
        return {"type": "json_schema", "json_schema": schema}
    return None
