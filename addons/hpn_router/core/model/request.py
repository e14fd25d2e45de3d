"""ChatRequest: one chat request as the router understands it, whatever API it came in by.

Each inbound API translates its body into a ChatRequest once (core/inbound/), each upstream
provider translates a ChatRequest into its own body once (core/providers/): adding an API or a
provider is one translator, not one per pair. The cache key, cost and metrics read this model,
never a raw body.

Names are neutral, not any one API's: `max_output_tokens` (OpenAI's max_tokens and
max_completion_tokens), `candidate_count` (OpenAI's n), `output_format` (response_format),
`stop` (a string or a list there). Values are as the client sent them (validated, not clamped
or folded): what one provider cannot take is the provider translator's business, so a
64-bit seed stays 64-bit here and Gemini's translator folds it.

Frozen and slotted: built once per request, shared by every addon, never copied.

Usage:
    request = parse_chat_request(json.loads(raw))          # core/inbound/openai_chat_request.py
    body = chat_request_to_gemini(request, "gemini-2.5-flash", TranslateOptions())
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "developer", "user", "assistant", "tool"]
MediaKind = Literal["image", "audio", "file"]
ToolMode = Literal["none", "auto", "required"]
OutputKind = Literal["text", "json", "json_schema"]
# Reasoning effort, lowest first; a provider maps it to its own budget or level.
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str


@dataclass(frozen=True, slots=True)
class MediaPart:
    """An image, audio clip or document: inline base64 `data` (with its `mime_type` when the
    client gave or implied one), or a `url` the provider fetches itself (the router never does)."""

    kind: MediaKind
    mime_type: str | None = None
    data: str | None = None
    url: str | None = None
    filename: str | None = None
    detail: str | None = None  # an image's resolution hint (OpenAI's "low" | "high" | "auto")


@dataclass(frozen=True, slots=True)
class Signature:
    """An opaque token a provider attached to its reasoning or to a call, to be handed back to
    the same provider only (`origin`, e.g. "gemini"): another provider cannot verify it."""

    value: str
    origin: str


@dataclass(frozen=True, slots=True)
class ReasoningPart:
    """Thinking a model produced earlier in the conversation, handed back (Anthropic's thinking
    blocks, Gemini's thought parts): its text, and the signature that lets its maker trust it."""

    text: str = ""
    signature: Signature | None = None
    redacted: bool = False  # the provider sent it encrypted: `signature` holds it all


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the assistant made. `id` is the client's id for it (None: a legacy OpenAI
    `function_call`, matched by name); `provider_id` the upstream's own id, when the client's
    id carries one back; `arguments` the decoded JSON object."""

    name: str
    arguments: Mapping[str, Any]
    id: str | None = None
    provider_id: str | None = None
    signature: Signature | None = None  # belongs to this call's part (Gemini)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The result of a call: matched by `call_id`, or by `name` when there is no id (legacy
    OpenAI `function` messages). `content` as the client sent it (texts, or media)."""

    content: tuple[Part, ...]
    call_id: str | None = None
    name: str | None = None
    is_error: bool = False


Part = TextPart | MediaPart | ReasoningPart | ToolResult


@dataclass(frozen=True, slots=True)
class Message:
    """One turn. System and developer messages stay in place (an API with a top-level system
    prompt puts one first); tool results travel in `tool` messages."""

    role: Role
    content: tuple[Part, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    name: str | None = None  # a participant's name (OpenAI's `name` on user/assistant turns)


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call; `parameters` is its JSON Schema as the client wrote it."""

    name: str
    description: str | None = None
    parameters: Mapping[str, Any] | None = None
    strict: bool | None = None


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """`required` with one name forces that call; `allowed` limits which tools count (empty: all)."""

    mode: ToolMode
    allowed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """Plain text, any JSON object, or JSON matching `schema`."""

    kind: OutputKind
    schema: Mapping[str, Any] | None = None
    name: str | None = None
    strict: bool | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str  # the model name the client asked for (mapped to a provider's model later)
    messages: tuple[Message, ...]
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    output_format: OutputFormat | None = None
    # Generation options: None = the provider's default.
    temperature: float | None = None
    top_p: float | None = None
    candidate_count: int | None = None
    max_output_tokens: int | None = None  # thinking included, as both OpenAI and Gemini count it
    stop: tuple[str, ...] = ()
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    reasoning_effort: str | None = None  # one of REASONING_EFFORTS
    logprobs: bool = False
    top_logprobs: int | None = None
    # Delivery: how the answer goes back, not what it says.
    stream: bool = False
    include_usage: bool = False  # a stream ends with a usage event
    legacy_functions: bool = False  # declared with OpenAI's old `functions`: answer with `function_call`
    # Who the answer is for, inside the client's app (OpenAI's `user`): never shared across users.
    end_user: str | None = None
    # Top-level fields no translator reads but that may change the answer (an SDK's extra_body
    # keys, a provider option not modelled yet): kept so the cache tells such requests apart.
    extra: Mapping[str, Any] = field(default_factory=dict)


def prompt_text(request: ChatRequest) -> str:
    """The prose of the request (message texts and call arguments, space-separated), for
    estimating prompt tokens when a provider reports none."""
    texts: list[str] = []
    for message in request.messages:
        _collect(message.content, texts)
        texts += [json.dumps(call.arguments, ensure_ascii=False) for call in message.tool_calls if call.arguments]
    return " ".join(t for t in texts if t)


def _collect(parts: tuple[Part, ...], texts: list[str]) -> None:
    for part in parts:
        if isinstance(part, TextPart | ReasoningPart):
            texts.append(part.text)
        elif isinstance(part, ToolResult):
            _collect(part.content, texts)
