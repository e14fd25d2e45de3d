"""Deterministic Mistral answers: chat completions, stream chunks, embeddings (pure).

Requests reach these functions already validated. The answer echoes the last user text
(`Echo: <text>`), so tests can check what arrived. Tools: when tools are declared, the last
message is the user's and `tool_choice` is not `none`, the model calls the first tool (or the
one `tool_choice` names) with arguments built from its schema; after tool results it answers
text quoting them. Markers in the last user text steer the answer: `[[long]]` (~60 words),
`[[no_tools]]` (text although tools are declared), `[[parallel]]` (call up to three tools at
once), `[[model_length]]` (finish_reason `model_length`, which only non-streamed answers use).
`max_tokens` truncates the answer (finish_reason `length`). Usage counts ceil(chars/4) tokens.

Usage:
    response = chat_response(body, AnswerContext("mistral-small-latest", seq=7, created=1767225600))
    chunks = stream_chunks(response)
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
from dataclasses import dataclass
from typing import Any

EMBEDDING_DIMS = 1024
_FILLER = (
    "the quick brown fox jumps over a lazy dog while seven curious owls watch from an old oak tree and "
    "count the stars above a quiet river that winds through green hills toward a distant sea where small "
    "boats drift slowly under a pale morning sky"
).split()
_ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True, slots=True)
class AnswerContext:
    model: str
    seq: int  # request number: makes ids unique per request, yet reproducible
    created: int

    @property
    def completion_id(self) -> str:
        return hashlib.sha256(f"{self.model}:{self.seq}".encode()).hexdigest()[:32]


def tool_call_id(seed: str) -> str:
    """A call id the way Mistral mints them: 9 letters or digits."""
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_ALPHANUMERIC[b % len(_ALPHANUMERIC)] for b in digest[:9])


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(c.get("text", "")) for c in content if isinstance(c, dict) and c.get("type") == "text")
    return ""


def prompt_tokens(body: dict[str, Any]) -> int:
    total = 0
    for message in body["messages"]:
        total += text_tokens(content_text(message.get("content"))) + 4  # the role's control tokens
        total += sum(text_tokens(json.dumps(c, separators=(",", ":"))) for c in message.get("tool_calls") or [])
    if body.get("tools"):
        total += text_tokens(json.dumps(body["tools"], separators=(",", ":")))
    return total


def example_value(schema: Any, name: str = "value") -> Any:
    """A small instance of a JSON schema: enough for tool arguments and json_schema answers."""
    if not isinstance(schema, dict):
        return name
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {key: example_value(sub, key) for key, sub in props.items()}
    if kind == "array":
        return [example_value(schema.get("items"), name)]
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    return f"{name}-example"


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message["role"] == "user":
            return content_text(message.get("content"))
    return ""


def _wants_tools(body: dict[str, Any], text: str) -> bool:
    last = body["messages"][-1]
    return bool(body.get("tools")) and last["role"] == "user" and body.get("tool_choice") != "none" and "[[no_tools]]" not in text


def _tool_calls(body: dict[str, Any], text: str, ctx: AnswerContext) -> list[dict[str, Any]]:
    functions = [t["function"] for t in body["tools"]]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        functions = [f for f in functions if f["name"] == choice["function"].get("name")] or functions[:1]
    count = min(3, len(functions)) if "[[parallel]]" in text else 1
    calls = []
    for index, function in enumerate(functions[:count]):
        arguments = example_value(function.get("parameters") or {"type": "object"})
        calls.append(
            {
                "id": tool_call_id(f"{ctx.completion_id}:{index}"),
                "function": {"name": function["name"], "arguments": json.dumps(arguments)},
                "index": index,
            }
        )
    return calls


def _answer_text(body: dict[str, Any], text: str) -> str:
    last = body["messages"][-1]
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return json.dumps(example_value(fmt["json_schema"].get("schema")))
    if fmt.get("type") == "json_object":
        return json.dumps({"echo": text})
    if last["role"] == "tool":
        return "Tool said: " + content_text(last.get("content"))
    if "[[long]]" in text:
        return " ".join(_FILLER[i % len(_FILLER)] for i in range(60)).capitalize() + "."
    return f"Echo: {text}"


def _truncate(text: str, max_tokens: int) -> str:
    return text[: max_tokens * 4]


def chat_response(body: dict[str, Any], ctx: AnswerContext) -> dict[str, Any]:
    text = _last_user_text(body["messages"])
    message: dict[str, Any] = {"role": "assistant", "tool_calls": None, "content": ""}
    finish = "stop"
    if _wants_tools(body, text):
        message["tool_calls"] = _tool_calls(body, text, ctx)
        finish = "tool_calls"
        completion = sum(text_tokens(json.dumps(c["function"])) for c in message["tool_calls"])
    else:
        answer = _answer_text(body, text)
        max_tokens = body.get("max_tokens")
        if max_tokens is not None and text_tokens(answer) > max_tokens:
            answer, finish = _truncate(answer, max_tokens), "length"
        elif "[[model_length]]" in text:
            finish = "model_length"
        message["content"] = answer
        completion = text_tokens(answer)
    prompt = prompt_tokens(body)
    return {
        "id": ctx.completion_id,
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }


def stream_chunks(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The `chat.completion.chunk` events of a response: role first, text in word groups, then
    finish_reason with usage on the last chunk. A tool call arrives whole in one chunk."""
    head = {key: response[key] for key in ("id", "created", "model")}
    choice = response["choices"][0]
    message = choice["message"]

    def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None) -> dict[str, Any]:
        event: dict[str, Any] = {
            **head,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if usage is not None:
            event["usage"] = usage
        return event

    events = [chunk({"role": "assistant", "content": ""})]
    if message["tool_calls"]:
        events.append(chunk({"tool_calls": message["tool_calls"]}))
    else:
        words = message["content"].split(" ")
        for start in range(0, len(words), 3):
            piece = " ".join(words[start : start + 3])
            events.append(chunk({"content": piece if start == 0 else " " + piece}))
    finish = "length" if choice["finish_reason"] == "model_length" else choice["finish_reason"]  # streams have no model_length
    events.append(chunk({"content": ""}, finish, response["usage"]))
    return events


def embedding(text: str, dims: int) -> list[float]:
    """A reproducible unit vector for `text`."""
    raw: list[float] = []
    counter = 0
    while len(raw) < dims:
        block = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        raw.extend((b - 127.5) / 127.5 for b in block)
        counter += 1
    vector = raw[:dims]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [round(v / norm, 6) for v in vector]


def encode_embedding(vector: list[float], dtype: str, encoding: str) -> Any:
    """Apply `output_dtype` (float, int8, uint8, binary, ubinary) and `encoding_format` (float, base64)."""
    if dtype in ("int8", "uint8"):
        shift = 0 if dtype == "int8" else 128
        values: list[Any] = [max(-128, min(127, round(v * 127))) + shift for v in vector]
    elif dtype in ("binary", "ubinary"):
        bits = [1 if v > 0 else 0 for v in vector] + [0] * (-len(vector) % 8)
        packed = [int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8)]
        values = [p - 128 for p in packed] if dtype == "binary" else packed
    else:
        values = vector
    if encoding != "base64":
        return values
    fmt = {"int8": "b", "binary": "b", "uint8": "B", "ubinary": "B"}.get(dtype, "f")
    return base64.b64encode(struct.pack(f"<{len(values)}{fmt}", *values)).decode()


def embeddings_response(body: dict[str, Any], ctx: AnswerContext) -> dict[str, Any]:
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    dims = body.get("output_dimension") or EMBEDDING_DIMS
    dtype, encoding = body.get("output_dtype") or "float", body.get("encoding_format") or "float"
    data = [
        {"object": "embedding", "embedding": encode_embedding(embedding(t, dims), dtype, encoding), "index": i} for i, t in enumerate(texts)
    ]
    tokens = sum(text_tokens(t) for t in texts)
    return {
        "id": ctx.completion_id,
        "object": "list",
        "data": data,
        "model": ctx.model,
        "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
    }
