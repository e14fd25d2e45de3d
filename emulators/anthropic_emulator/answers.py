"""Deterministic Anthropic answers: Message objects, their SSE events, token counts (pure).

Requests reach these functions validated. The answer echoes the last user text
(`Hello from <model>! You said: ...`); markers in it steer the answer so tests reach every
shape: `[[long]]` (~60 words), `[[max_tokens]]` (cut, stop_reason max_tokens), `[[refusal]]`
(stop_reason refusal, no content), `[[parallel]]` (up to three tool calls at once),
`[[no_tools]]` (text although tools are given). When custom tools are given, tool_choice is
not `none` and the last user turn is text, the model calls a tool (the one the text names, or the
first; the forced one with `tool_choice: tool`). After tool results it answers with their
contents. With thinking on, a thinking block comes first, signed so the emulator can tell
later whether it came back unmodified. `output_config.format` answers JSON built from the
schema. Stop sequences found in the text end it with stop_reason `stop_sequence`.

Usage:
    message = message_response(body, AnswerContext(info, seq=7, cache_hit=None))
    events = stream_events(message)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from dataclasses import dataclass
from typing import Any

from .scenario import ModelInfo

_SIGNING_KEY = b"hpn-anthropic-emulator"  # not a secret: signatures only need to be checkable, not unforgeable
_SIG_PREFIX = b"EMUANTH1:"
THINKING_TEXT = "Let me think about this step by step."
IMAGE_TOKENS = 1_600
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_FILLER = (
    "the quick brown fox jumps over a lazy dog while seven curious owls watch from an old oak tree and "
    "count the stars above a quiet river that winds through green hills toward a distant sea"
).split()


@dataclass(frozen=True, slots=True)
class AnswerContext:
    info: ModelInfo
    seq: int  # request number: makes ids unique per request, yet reproducible
    cache_hit: bool | None = None  # the cache_control prefix: None = none marked, False = written now, True = read


def make_id(prefix: str, seed: str) -> str:
    """Anthropic-style ids: `msg_`, `toolu_`, `req_` plus 24 base62 characters."""
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(24):
        number, digit = divmod(number, 62)
        chars.append(_ALPHABET[digit])
    return prefix + "".join(chars)


def sign(thinking: str) -> str:
    mac = hmac.new(_SIGNING_KEY, thinking.encode(), "sha256").digest()
    return base64.b64encode(_SIG_PREFIX + mac).decode()


def verify_signature(thinking: str, signature: str) -> bool:
    """True only for a signature this emulator issued for exactly this thinking text."""
    return hmac.compare_digest(signature, sign(thinking))


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _block_tokens(block: Any) -> int:
    if isinstance(block, str):
        return text_tokens(block)
    if block.get("type") == "image":
        return IMAGE_TOKENS
    if block.get("type") == "text":
        return text_tokens(block["text"])
    if block.get("type") == "tool_result" and isinstance(block.get("content"), list):
        return sum(_block_tokens(b) for b in block["content"])
    return text_tokens(json.dumps(block, separators=(",", ":"), sort_keys=True))


def _prompt_blocks(body: dict[str, Any]) -> list[Any]:
    """Everything that counts as input, in cache order: tools, system, messages."""
    system = body.get("system") or []
    blocks: list[Any] = list(body.get("tools") or [])
    blocks += [system] if isinstance(system, str) else list(system)
    for message in body["messages"]:
        content = message["content"]
        blocks += [content] if isinstance(content, str) else list(content)
    return blocks


def input_tokens(body: dict[str, Any]) -> int:
    return 3 + sum(_block_tokens(b) for b in _prompt_blocks(body))


def cache_prefix(body: dict[str, Any]) -> tuple[str, int] | None:
    """(digest, tokens) of the prompt up to the last block marked `cache_control`; None when none is."""
    blocks = _prompt_blocks(body)
    marked = [i for i, b in enumerate(blocks) if isinstance(b, dict) and b.get("cache_control")]
    if not marked:
        return None
    prefix = blocks[: marked[-1] + 1]
    digest = hashlib.sha256(json.dumps([body["model"], prefix], sort_keys=True).encode()).hexdigest()
    return digest, sum(_block_tokens(b) for b in prefix)


def count_tokens_response(body: dict[str, Any]) -> dict[str, Any]:
    return {"input_tokens": input_tokens(body)}


def last_user_text(body: dict[str, Any]) -> str:
    last = body["messages"][-1]
    if last["role"] != "user":
        return ""
    content = last["content"]
    if isinstance(content, str):
        return content
    return " ".join(b["text"] for b in content if b.get("type") == "text")


def tool_results(body: dict[str, Any]) -> list[Any]:
    last = body["messages"][-1]
    if last["role"] != "user" or isinstance(last["content"], str):
        return []
    return [b.get("content") for b in last["content"] if b.get("type") == "tool_result"]


def usage(body: dict[str, Any], output: int, ctx: AnswerContext) -> dict[str, Any]:
    total = input_tokens(body)
    cached = cache_prefix(body)
    created = read = 0
    if cached is not None and ctx.cache_hit is not None:
        read, created = (cached[1], 0) if ctx.cache_hit else (0, cached[1])
    return {
        "input_tokens": total - created - read,
        "cache_creation_input_tokens": created,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": created, "ephemeral_1h_input_tokens": 0},
        "output_tokens": max(1, output),  # never 0, even for an empty answer
        "service_tier": "standard",
    }


def message_response(body: dict[str, Any], ctx: AnswerContext) -> dict[str, Any]:
    """The Message object for a validated request."""
    said = last_user_text(body)
    content: list[dict[str, Any]] = []
    if (body.get("thinking") or {}).get("type") in ("enabled", "adaptive"):
        content.append({"type": "thinking", "thinking": THINKING_TEXT, "signature": sign(THINKING_TEXT)})
    stop_reason, stop_sequence = "end_turn", None
    calls = plan_calls(body, said)
    if "[[refusal]]" in said:
        stop_reason = "refusal"
    elif calls:
        content += [
            {"type": "tool_use", "id": make_id("toolu_", f"{ctx.seq}:{i}"), "name": name, "input": args}
            for i, (name, args) in enumerate(calls)
        ]
        stop_reason = "tool_use"
    else:
        text, stop_reason, stop_sequence = _text(body, ctx, said)
        if text:
            content.append({"type": "text", "text": text})
    output = sum(text_tokens(json.dumps(b, separators=(",", ":"))) for b in content)
    return {
        "id": make_id("msg_", f"{ctx.info.id}:{ctx.seq}"),
        "type": "message",
        "role": "assistant",
        "model": ctx.info.id,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage(body, output, ctx),
    }


def plan_calls(body: dict[str, Any], said: str) -> list[tuple[str, dict[str, Any]]]:
    """Which custom tools to call: none unless tools are given and the last user turn is text."""
    tools = [t for t in body.get("tools") or [] if t.get("type", "custom") == "custom"]
    choice = body.get("tool_choice") or {"type": "auto"}
    if not tools or choice["type"] == "none" or not said or tool_results(body):
        return []
    if "[[no_tools]]" in said and choice["type"] == "auto":
        return []
    if choice["type"] == "tool":
        chosen = [next(t for t in tools if t["name"] == choice["name"])]
    elif "[[parallel]]" in said and not choice.get("disable_parallel_tool_use"):
        chosen = tools[:3]
    else:  # prefer a tool the user named, so demos can pick one by mentioning it
        chosen = [next((t for t in tools if t["name"] in said), tools[0])]
    return [(t["name"], _example(t["input_schema"], fill_all=False)) for t in chosen]


def _example(schema: Any, *, fill_all: bool) -> Any:
    """A value matching a JSON schema: required properties only (all with fill_all), first enum value."""
    if not isinstance(schema, dict):
        return "example"
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        wanted = properties if fill_all else [p for p in schema.get("required") or [] if p in properties]
        return {name: _example(properties[name], fill_all=fill_all) for name in wanted}
    examples = {"integer": 1, "number": 1.5, "boolean": True, "null": None}
    if kind == "array":
        return [_example(schema.get("items"), fill_all=fill_all)]
    return examples.get(str(kind), "example")


def _text(body: dict[str, Any], ctx: AnswerContext, said: str) -> tuple[str, str, str | None]:
    results = tool_results(body)
    if results:
        text = "Tool results received: " + json.dumps(results, separators=(",", ":"), ensure_ascii=False)
    else:
        text = f"Hello from {ctx.info.id}! You said: {said[:200]}"
        if "[[long]]" in said:
            text += " " + " ".join(_FILLER[i % len(_FILLER)] for i in range(55))
    schema = ((body.get("output_config") or {}).get("format") or {}).get("schema")
    if schema is not None:
        return json.dumps(_example(schema, fill_all=True), ensure_ascii=False), "end_turn", None
    for stop in body.get("stop_sequences") or []:
        if stop in text:
            return text[: text.index(stop)], "stop_sequence", stop
    if "[[max_tokens]]" in said:
        words = text.split(" ")
        return " ".join(words[: max(1, len(words) // 2)]), "max_tokens", None
    if text_tokens(text) > body["max_tokens"]:
        return text[: body["max_tokens"] * 4], "max_tokens", None
    return text, "end_turn", None


def split_text(text: str, pieces: int = 3) -> list[str]:
    """Cut text into a few non-empty pieces (at most `pieces`) that join back to it."""
    size = max(1, math.ceil(len(text) / pieces))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def stream_events(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The (event name, data) sequence of a streamed Message: start, blocks with deltas, delta, stop."""
    usage_start = {**message["usage"], "output_tokens": 1}
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage_start}
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        block_events = _block_events(index, block)
        if index == 0:  # the API pings right after opening the first block
            block_events.insert(1, ("ping", {"type": "ping"}))
        events += block_events
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}
    final_usage = {
        k: message["usage"][k] for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")
    }
    events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": final_usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def _block_events(index: int, block: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    kind = block["type"]
    if kind == "text":
        opened: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in split_text(block["text"])]
    elif kind == "thinking":
        opened = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": piece} for piece in split_text(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind == "redacted_thinking":  # whole in its start event: no deltas
        opened, deltas = dict(block), []
    else:  # tool_use: input arrives as JSON fragments, the first one empty
        opened = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        arguments = json.dumps(block["input"], separators=(",", ":"), ensure_ascii=False)
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in ["", *split_text(arguments)]]
    events = [("content_block_start", {"type": "content_block_start", "index": index, "content_block": opened})]
    events += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
    events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events
