"""ChatRequest -> Anthropic's `POST /v1/messages` body. Pure.

Anthropic refuses unknown fields and many shapes OpenAI clients send, so the body is built
from what the model holds, under Anthropic's rules (the strict emulator answers each one the
way the real API does):

- `max_tokens` is required: the client's `max_output_tokens`, else DEFAULT_MAX_TOKENS.
- System and developer messages go to the top-level `system` (joined); there is no system role.
- Roles alternate, starting with `user`: consecutive turns of one role are merged into one, and
  a conversation that starts with the assistant gets a short user turn first.
- Tool results (OpenAI's consecutive `tool` messages) become `tool_result` blocks of one user
  turn, first in it; user text that follows in the same turn comes after them.
- No empty text blocks (Anthropic answers 400): empty texts are left out, and a turn left with
  nothing says EMPTY_TEXT.
- `temperature` is clamped to 0-1 (OpenAI's range is 0-2).
- Images: a data URL (inline data) becomes a `base64` source, an http(s) URL a `url` source;
  audio and files are a 400.
- Tool-call ids must match `^[a-zA-Z0-9_-]+$`: other characters become `_`.
- `tool_choice`: auto -> auto, required -> any, required with one name -> tool, none -> none;
  `parallel_tool_calls: false` -> `disable_parallel_tool_use`.
- JSON output: `json_schema` -> `output_config.format` (`{type: json_schema, schema}`), which
  Anthropic's structured outputs take; `json_object` (no schema) -> an object schema.
- `reasoning_effort` turns extended thinking on: `thinking: {type: enabled, budget_tokens}` with
  the budget of THINKING_BUDGETS (`none` leaves it off); `max_tokens` stays above the budget (the
  client's limit when it is, else budget + that limit); `temperature` (only 1 allowed) and a
  `top_p` below 0.95 are left out and named. Not for a forced tool choice (Anthropic refuses
  thinking with one) nor for Claude 3 models before 3.7, which cannot think: named to the client.
- Anthropic's own thinking blocks come back with the first tool call of their turn (its id carries
  them, core/toolids.py) and open that assistant turn again, unmodified, as Anthropic demands in a
  tool loop. Reasoning another provider made (its thought text, Gemini's signatures) is never sent:
  Anthropic can only verify its own.
  `seed`, penalties and logprobs have no Anthropic field: named to the client.

Usage:
    body = chat_request_to_anthropic(request, "claude-sonnet-4-5")
"""

from __future__ import annotations

import json
import re
from typing import Any

from hpn_router.core.errors import InvalidRequest
from hpn_router.core.model.request import ChatRequest, MediaPart, Message, OutputFormat, Part, TextPart, Tool, ToolChoice, ToolResult
from hpn_router.core.toolids import base_call_id

DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens; every current Claude model allows this many
EMPTY_TEXT = "(empty)"  # a turn that would otherwise be empty (Anthropic refuses empty text)
OPENING_TEXT = "(continue)"  # a user turn before a conversation that starts with the assistant
_BAD_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
# Request parameters Anthropic has no field for: left out, and named to the client.
UNSENT_PARAMS = ("seed", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs")
# Extended thinking's budget per reasoning effort (Anthropic's minimum is 1024 tokens).
THINKING_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096, "xhigh": 8192}
MIN_TOP_P_WITH_THINKING = 0.95  # Anthropic refuses a lower top_p while thinking
_NO_THINKING_MODELS = re.compile(r"claude-(3-[0-6]|3-(haiku|sonnet|opus))")  # before Claude 3.7


def ignored_params(request: ChatRequest, model: str) -> list[str]:
    """The request's parameters that are not sent to Anthropic (the router tells the client)."""
    names = [name for name in UNSENT_PARAMS if getattr(request, name) not in (None, False)]
    budget = thinking_budget(request, model)
    if request.reasoning_effort not in (None, "none") and budget is None:
        names.append("reasoning_effort")
    if budget is not None and request.temperature is not None:
        names.append("temperature")
    if budget is not None and request.top_p is not None and request.top_p < MIN_TOP_P_WITH_THINKING:
        names.append("top_p")
    return names


def thinking_budget(request: ChatRequest, model: str) -> int | None:
    """The thinking budget `request` asks of `model`, or None: no thinking (see the module's notes)."""
    budget = THINKING_BUDGETS.get(request.reasoning_effort or "none")
    forced = request.tool_choice is not None and request.tool_choice.mode == "required" and bool(request.tools)
    if budget is None or forced or _NO_THINKING_MODELS.match(model):
        return None
    return budget


def anthropic_tool_id(client_id: str) -> str:
    """An id Anthropic accepts for `client_id` (its own `toolu_...` ids pass unchanged; a
    signature folded into an id the router minted is left out)."""
    return _BAD_ID_CHARS.sub("_", base_call_id(client_id)) or "call"


def chat_request_to_anthropic(request: ChatRequest, model: str) -> dict[str, Any]:
    system, turns = _split_system(request.messages)
    max_tokens = request.max_output_tokens or DEFAULT_MAX_TOKENS
    budget = thinking_budget(request, model)
    if budget is not None and max_tokens <= budget:
        max_tokens += budget  # the client's limit is for the answer; thinking comes on top
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": _messages(turns)}
    if system:
        body["system"] = system
    if budget is not None:
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    elif request.temperature is not None:
        body["temperature"] = min(max(request.temperature, 0.0), 1.0)
    if request.top_p is not None and (budget is None or request.top_p >= MIN_TOP_P_WITH_THINKING):
        body["top_p"] = request.top_p
    stops = [stop for stop in request.stop if stop.strip()]  # Anthropic refuses whitespace-only stops
    if stops:
        body["stop_sequences"] = stops
    if request.stream:
        body["stream"] = True
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
        choice = _tool_choice(request.tool_choice, request.parallel_tool_calls)
        if choice is not None:
            body["tool_choice"] = choice
    if request.output_format is not None and (output_format := _output_format(request.output_format)) is not None:
        body["output_config"] = {"format": output_format}
    return body


def count_tokens_body(request: ChatRequest, model: str) -> dict[str, Any]:
    """The `POST /v1/messages/count_tokens` body for `request`: what the message would send,
    without the fields count_tokens refuses."""
    body = chat_request_to_anthropic(request, model)
    return {k: v for k, v in body.items() if k in ("model", "messages", "system", "tools", "tool_choice", "output_config")}


# -- messages -------------------------------------------------------------------------------


def _split_system(messages: tuple[Message, ...]) -> tuple[str, list[Message]]:
    system = [m for m in messages if m.role in ("system", "developer")]
    texts = ["".join(p.text for p in m.content if isinstance(p, TextPart)) for m in system]
    return "\n\n".join(t for t in texts if t), [m for m in messages if m.role not in ("system", "developer")]


def _messages(messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for position, message in enumerate(messages):
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message, f"messages[{position}]")
        if out and out[-1]["role"] == role:
            previous = out[-1]["content"]
            # Tool results lead their turn: results that follow user text go before it.
            results = [b for b in blocks if b["type"] == "tool_result"]
            rest = [b for b in blocks if b["type"] != "tool_result"]
            lead = [b for b in previous if b["type"] == "tool_result"]
            out[-1]["content"] = lead + results + [b for b in previous if b["type"] != "tool_result"] + rest
        else:
            out.append({"role": role, "content": blocks})
    if out and out[0]["role"] == "assistant":
        out.insert(0, {"role": "user", "content": [{"type": "text", "text": OPENING_TEXT}]})
    for turn in out:
        if not turn["content"]:
            turn["content"] = [{"type": "text", "text": EMPTY_TEXT}]
    if out and out[-1]["role"] == "assistant":
        _trim_prefill(out[-1])
    return out


def _trim_prefill(turn: dict[str, Any]) -> None:
    """A final assistant turn is a prefill, which may not end with whitespace."""
    last = turn["content"][-1]
    if last["type"] == "text":
        last["text"] = last["text"].rstrip() or EMPTY_TEXT


def _blocks(message: Message, where: str) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [_tool_result(part, where) for part in message.content if isinstance(part, ToolResult)]
    blocks = [block for part in message.content if (block := _content_block(part, where)) is not None]
    if message.role == "assistant":
        blocks = _thinking_blocks(message) + blocks
        blocks += [
            {"type": "tool_use", "id": anthropic_tool_id(call.id or f"call_{call.name}"), "name": call.name, "input": dict(call.arguments)}
            for call in message.tool_calls
        ]
    return blocks


def _thinking_blocks(message: Message) -> list[dict[str, Any]]:
    """The thinking blocks Anthropic made for this turn, carried on a tool call's id, unmodified."""
    for call in message.tool_calls:
        if call.signature is not None and call.signature.origin == "anthropic":
            return thinking_blocks_from_signature(call.signature.value)
    return []


def thinking_blocks_from_signature(value: str) -> list[dict[str, Any]]:
    """The blocks as the answer packed them (chat_answer.thinking_signature); a mangled value gives none
    (Anthropic then says what it misses, rather than the router guessing)."""
    try:
        packed = json.loads(value)
    except ValueError:
        return []
    blocks: list[dict[str, Any]] = []
    for item in packed if isinstance(packed, list) else []:
        if isinstance(item, dict) and isinstance(item.get("thinking"), str) and isinstance(item.get("signature"), str):
            blocks.append({"type": "thinking", "thinking": item["thinking"], "signature": item["signature"]})
        elif isinstance(item, dict) and isinstance(item.get("data"), str):
            blocks.append({"type": "redacted_thinking", "data": item["data"]})
    return blocks


def _content_block(part: Part, where: str) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text} if part.text else None
    if isinstance(part, MediaPart):
        return _image(part, where)
    if isinstance(part, ToolResult):
        return _tool_result(part, where)
    return None  # reasoning handed back: Anthropic did not make it (see the module's notes)


def _image(part: MediaPart, where: str) -> dict[str, Any]:
    if part.kind != "image":
        raise InvalidRequest(f"{part.kind} content is not supported for Claude models", param=f"{where}.content")
    if part.url is not None:
        return {"type": "image", "source": {"type": "url", "url": part.url}}
    return {"type": "image", "source": {"type": "base64", "media_type": part.mime_type or "image/png", "data": part.data or ""}}


def _tool_result(result: ToolResult, where: str) -> dict[str, Any]:
    call_id = result.call_id or f"call_{result.name or 'tool'}"
    content = [block for part in result.content if (block := _content_block(part, where)) is not None]
    out: dict[str, Any] = {"type": "tool_result", "tool_use_id": anthropic_tool_id(call_id)}
    if content:
        out["content"] = content
    if result.is_error:
        out["is_error"] = True
    return out


# -- tools and formats ----------------------------------------------------------------------


def _tool(tool: Tool) -> dict[str, Any]:
    schema = dict(tool.parameters or {})
    schema.setdefault("type", "object")
    schema.pop("$schema", None)
    out: dict[str, Any] = {"name": tool.name, "input_schema": schema}
    if tool.description:
        out["description"] = tool.description
    return out


def _tool_choice(choice: ToolChoice | None, parallel: bool | None) -> dict[str, Any] | None:
    if choice is None:
        mapped: dict[str, Any] | None = {"type": "auto"} if parallel is False else None
    elif choice.mode == "required" and len(choice.allowed) == 1:
        mapped = {"type": "tool", "name": choice.allowed[0]}
    else:
        mapped = {"type": {"none": "none", "auto": "auto", "required": "any"}[choice.mode]}
    if mapped is not None and parallel is False and mapped["type"] != "none":
        mapped["disable_parallel_tool_use"] = True
    return mapped


def _output_format(output: OutputFormat) -> dict[str, Any] | None:
    if output.kind == "json_schema":
        schema = {k: v for k, v in dict(output.schema or {}).items() if k != "$schema"}
        return {"type": "json_schema", "schema": schema}
    if output.kind == "json":
        return {"type": "json_schema", "schema": {"type": "object", "additionalProperties": True}}
    return None
