"""Strict validation of Anthropic Messages request bodies (pure): each check returns an AnthropicError or None.

Anthropic answers the first problem it finds as a 400 `invalid_request_error` whose message
starts with the path (`messages.1.content.0.tool_use.id: ...`, the block type after its
index, pydantic's wording for shape errors). Checks, in order: unknown/missing fields and
types, ranges (`temperature` 0-1, `max_tokens` within the model's limit), system messages
in `messages`, role order, empty or whitespace text, blocks, tool pairing, tools and
tool_choice, thinking (budget, forced tools, temperature/top_k/top_p, the final assistant
turn's thinking block, signatures this emulator issued).

Usage:
    error = validate_messages(body, ValidationContext(info, role_check="strict"))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import errors
from .answers import verify_signature
from .errors import AnthropicError
from .scenario import ModelInfo

MESSAGE_FIELDS = {
    "model",
    "messages",
    "max_tokens",
    "system",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "service_tier",
    "output_config",
    "container",
    "context_management",
    "mcp_servers",
}
COUNT_FIELDS = {"model", "messages", "system", "tools", "tool_choice", "thinking", "output_config", "context_management", "mcp_servers"}
BLOCK_FIELDS = {
    "text": {"type", "text", "cache_control", "citations"},
    "image": {"type", "source", "cache_control"},
    "document": {"type", "source", "cache_control", "title", "context", "citations"},
    "tool_use": {"type", "id", "name", "input", "cache_control"},
    "tool_result": {"type", "tool_use_id", "content", "is_error", "cache_control"},
    "thinking": {"type", "thinking", "signature"},
    "redacted_thinking": {"type", "data"},
    "search_result": {"type", "source", "title", "content", "cache_control", "citations"},
}
USER_ONLY = {"tool_result", "image", "document", "search_result"}
ASSISTANT_ONLY = {"tool_use", "thinking", "redacted_thinking"}
MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
EFFORTS = ("low", "medium", "high", "xhigh", "max")
ID_PATTERN = "^[a-zA-Z0-9_-]+$"
NAME_PATTERN = "^[a-zA-Z0-9_-]{1,128}$"
THINKING_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
SYSTEM_ROLE = (
    'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.'
)
EMPTY_TEXT = "messages: text content blocks must be non-empty"
BLANK_TEXT = "messages: text content blocks must contain non-whitespace text"
FIRST_USER = 'messages: first message must use the "user" role'
NEEDS_TOOLS = "Requests which include `tool_use` or `tool_result` blocks must define tools."
FORCED_TOOL = "Thinking may not be enabled when tool_choice forces tool use."
TRAILING_SPACE = "messages: final assistant content cannot end with trailing whitespace"
_ID = re.compile(ID_PATTERN)
_NAME = re.compile(NAME_PATTERN)
_DICT, _LIST, _STR, _INT, _BOOL, _NUMBER = (
    "a valid dictionary",
    "a valid list",
    "a valid string",
    "a valid integer",
    "a valid boolean",
    "a valid number",
)


@dataclass(frozen=True, slots=True)
class ValidationContext:
    info: ModelInfo
    role_check: str = "strict"  # scenario.role_check: "strict" or "combine"
    count_tokens: bool = False  # POST /v1/messages/count_tokens: no max_tokens, no stream


class _Reject(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _fail(message: str) -> _Reject:
    return _Reject(message)


def validate_messages(body: Any, ctx: ValidationContext) -> AnthropicError | None:
    """None when Anthropic would accept the body, else the 400 it would answer."""
    try:
        _check_request(body, ctx)
    except _Reject as reject:
        return errors.invalid_request(reject.message)
    return None


def _check_request(body: Any, ctx: ValidationContext) -> None:
    _expect(isinstance(body, dict), "", _DICT)
    _fields(body, "", COUNT_FIELDS if ctx.count_tokens else MESSAGE_FIELDS, required=("model", "messages"))
    if not ctx.count_tokens:
        _fields(body, "", MESSAGE_FIELDS, required=("max_tokens",))
        _check_scalars(body, ctx.info)
    _check_system(body.get("system"))
    messages = body["messages"]
    _expect(isinstance(messages, list), "messages", _LIST)
    if not messages:
        raise _fail("messages: at least one message is required")
    for i, message in enumerate(messages):
        _check_message(message, i, last=i == len(messages) - 1)
    turns = _check_roles(messages, ctx.role_check)
    tools = _check_tools(body.get("tools"))
    _check_tool_choice(body.get("tool_choice"), tools)
    _check_tool_pairing(turns, has_tools=bool(tools))
    _check_output_config(body.get("output_config"))
    _check_thinking(body, turns, ctx)


def _expect(ok: bool, path: str, kind: str) -> None:
    if not ok:
        raise _fail(f"{path}: Input should be {kind}" if path else f"Input should be {kind}")


def _fields(data: dict[str, Any], path: str, allowed: set[str], required: tuple[str, ...] = ()) -> None:
    prefix = f"{path}." if path else ""
    for name in required:
        if name not in data:
            raise _fail(f"{prefix}{name}: Field required")
    for name in data:
        if name not in allowed:
            raise _fail(f"{prefix}{name}: Extra inputs are not permitted")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _range(body: dict[str, Any], name: str, low: float, high: float | None) -> None:
    value = body.get(name)
    if value is None:
        return
    _expect(_is_number(value), name, _NUMBER)
    if value < low:
        raise _fail(f"{name}: Input should be greater than or equal to {low:g}")
    if high is not None and value > high:
        raise _fail(f"{name}: Input should be less than or equal to {high:g}")


def _check_scalars(body: dict[str, Any], info: ModelInfo) -> None:
    _expect(isinstance(body["model"], str), "model", _STR)
    max_tokens = body["max_tokens"]
    _expect(_is_int(max_tokens), "max_tokens", _INT)
    if max_tokens < 1:
        raise _fail("max_tokens: Input should be greater than or equal to 1")
    if max_tokens > info.max_output:
        raise _fail(f"max_tokens: {max_tokens} > {info.max_output}, which is the maximum allowed number of output tokens for {info.id}")
    _range(body, "temperature", 0, 1)
    _range(body, "top_p", 0, 1)
    if body.get("top_k") is not None:
        _expect(_is_int(body["top_k"]), "top_k", _INT)
        _range(body, "top_k", 0, None)
    if "stream" in body:
        _expect(isinstance(body["stream"], bool), "stream", _BOOL)
    stops = body.get("stop_sequences")
    if stops is not None:
        _expect(isinstance(stops, list), "stop_sequences", _LIST)
        for i, stop in enumerate(stops):
            _expect(isinstance(stop, str), f"stop_sequences.{i}", _STR)
            if not stop.strip():
                raise _fail("stop_sequences: each stop sequence must contain non-whitespace")
    metadata = body.get("metadata")
    if metadata is not None:
        _expect(isinstance(metadata, dict), "metadata", _DICT)
        _fields(metadata, "metadata", {"user_id"})
        user_id = metadata.get("user_id")
        _expect(user_id is None or isinstance(user_id, str), "metadata.user_id", _STR)
        if isinstance(user_id, str) and len(user_id) > 256:
            raise _fail("metadata.user_id: String should have at most 256 characters")
    tier = body.get("service_tier")
    if tier is not None and tier not in ("auto", "standard_only"):
        raise _fail("service_tier: Input should be 'auto' or 'standard_only'")


def _check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    _expect(isinstance(system, list), "system", f"{_STR} or {_LIST}")
    for i, block in enumerate(system):
        path = f"system.{i}"
        _expect(isinstance(block, dict), path, _DICT)
        if block.get("type") != "text":
            raise _fail(f"{path}.type: Input should be 'text'")
        _fields(block, path, {"type", "text", "cache_control", "citations"}, required=("text",))
        _expect(isinstance(block["text"], str), f"{path}.text", _STR)
        if not block["text"]:
            raise _fail("system: text content blocks must be non-empty")


def _check_message(message: Any, i: int, *, last: bool) -> None:
    path = f"messages.{i}"
    _expect(isinstance(message, dict), path, _DICT)
    _fields(message, path, {"role", "content"}, required=("role", "content"))
    role = message["role"]
    if role == "system":
        raise _fail(SYSTEM_ROLE)
    if role not in ("user", "assistant"):
        raise _fail(f"{path}.role: Input should be 'user' or 'assistant'")
    content = message["content"]
    final_assistant = last and role == "assistant"
    if isinstance(content, str):
        if not content and not final_assistant:
            raise _fail(f"{path}: all messages must have non-empty content except for the optional final assistant message")
        if final_assistant and content != content.rstrip():
            raise _fail(TRAILING_SPACE)
        return
    _expect(isinstance(content, list), f"{path}.content", f"{_STR} or {_LIST}")
    if not content and not final_assistant:
        raise _fail(f"{path}: all messages must have non-empty content except for the optional final assistant message")
    for j, block in enumerate(content):
        _check_block(block, f"{path}.content.{j}", role)
    if final_assistant and content and content[-1].get("type") == "text" and content[-1]["text"] != content[-1]["text"].rstrip():
        raise _fail(TRAILING_SPACE)


def _check_block(block: Any, path: str, role: str) -> None:
    _expect(isinstance(block, dict), path, _DICT)
    kind = block.get("type")
    if kind not in BLOCK_FIELDS:
        tags = ", ".join(f"'{t}'" for t in BLOCK_FIELDS)
        raise _fail(f"{path}: Input tag '{kind}' found using 'type' does not match any of the expected tags: {tags}")
    if (role == "user" and kind in ASSISTANT_ONLY) or (role == "assistant" and kind in USER_ONLY):
        raise _fail(f"{path}: `{kind}` blocks are not allowed in `{role}` messages")
    where = f"{path}.{kind}"
    required = {"text": ("text",), "image": ("source",), "tool_use": ("id", "name", "input"), "tool_result": ("tool_use_id",)}
    required |= {"thinking": ("thinking", "signature"), "redacted_thinking": ("data",), "document": ("source",)}
    _fields(block, where, BLOCK_FIELDS[kind], required=required.get(kind, ()))
    if kind == "text":
        _check_text(block, where)
    elif kind == "image":
        _check_image(block["source"], f"{where}.source")
    elif kind == "tool_use":
        _check_id(block["id"], f"{where}.id")
        _expect(isinstance(block["name"], str), f"{where}.name", _STR)
        _expect(isinstance(block["input"], dict), f"{where}.input", _DICT)
    elif kind == "tool_result":
        _check_id(block["tool_use_id"], f"{where}.tool_use_id")
        _check_result_content(block.get("content"), f"{where}.content")
        if "is_error" in block:
            _expect(isinstance(block["is_error"], bool), f"{where}.is_error", _BOOL)
    elif kind == "thinking":
        _expect(isinstance(block["thinking"], str), f"{where}.thinking", _STR)
        _expect(isinstance(block["signature"], str), f"{where}.signature", _STR)
        if not verify_signature(block["thinking"], block["signature"]):
            raise _fail(f"{path}: Invalid `signature` in `thinking` block")
    elif kind == "redacted_thinking":
        _expect(isinstance(block["data"], str), f"{where}.data", _STR)


def _check_text(block: dict[str, Any], where: str) -> None:
    _expect(isinstance(block["text"], str), f"{where}.text", _STR)
    if not block["text"]:
        raise _fail(EMPTY_TEXT)
    if not block["text"].strip():
        raise _fail(BLANK_TEXT)


def _check_id(value: Any, path: str) -> None:
    _expect(isinstance(value, str), path, _STR)
    if not _ID.match(value):
        raise _fail(f"{path}: String should match pattern '{ID_PATTERN}'")


def _check_image(source: Any, path: str) -> None:
    _expect(isinstance(source, dict), path, _DICT)
    kind = source.get("type")
    if kind == "base64":
        _fields(source, f"{path}.base64", {"type", "media_type", "data"}, required=("media_type", "data"))
        if source["media_type"] not in MEDIA_TYPES:
            raise _fail(f"{path}.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'")
        _expect(isinstance(source["data"], str), f"{path}.base64.data", _STR)
    elif kind == "url":
        _fields(source, f"{path}.url", {"type", "url"}, required=("url",))
        _expect(isinstance(source["url"], str), f"{path}.url.url", _STR)
    elif kind != "file":
        raise _fail(f"{path}: Input tag '{kind}' found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'")


def _check_result_content(content: Any, path: str) -> None:
    if content is None or isinstance(content, str):
        return
    _expect(isinstance(content, list), path, f"{_STR} or {_LIST}")
    for k, block in enumerate(content):
        _expect(isinstance(block, dict), f"{path}.{k}", _DICT)
        kind = block.get("type")
        if kind not in ("text", "image", "document", "search_result"):
            raise _fail(
                f"{path}.{k}: Input tag '{kind}' found using 'type' does not match any of the expected tags:"
                " 'text', 'image', 'search_result', 'document'"
            )
        _fields(block, f"{path}.{k}.{kind}", BLOCK_FIELDS[kind])
        if kind == "text":
            _fields(block, f"{path}.{k}.text", BLOCK_FIELDS["text"], required=("text",))
            _check_text(block, f"{path}.{k}.text")


def _check_roles(messages: list[dict[str, Any]], role_check: str) -> list[tuple[int, str, list[dict[str, Any]]]]:
    """Turns as (index of their first message, role, blocks); strict mode rejects what combine mode merges."""
    turns: list[tuple[int, str, list[dict[str, Any]]]] = []
    for i, message in enumerate(messages):
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        if turns and turns[-1][1] == message["role"]:
            if role_check == "strict":
                raise _fail(
                    f'messages: roles must alternate between "user" and "assistant", but found multiple "{message["role"]}" roles in a row'
                )
            turns[-1][2].extend(blocks)
            continue
        turns.append((i, message["role"], blocks))
    if role_check == "strict" and turns[0][1] != "user":
        raise _fail(FIRST_USER)
    return turns


def _check_tools(tools: Any) -> list[str]:
    """The tool names, after checking every definition."""
    if tools is None:
        return []
    _expect(isinstance(tools, list), "tools", _LIST)
    names: list[str] = []
    for i, tool in enumerate(tools):
        _expect(isinstance(tool, dict), f"tools.{i}", _DICT)
        kind = tool.get("type", "custom")
        if kind not in ("custom", None):  # server tools (web_search_20250305, bash_20250124, ...) carry their own schema
            _expect(isinstance(tool.get("name"), str), f"tools.{i}.{kind}.name", _STR)
            names.append(tool["name"])
            continue
        path = f"tools.{i}.custom"
        _fields(tool, path, {"type", "name", "description", "input_schema", "cache_control", "strict"}, required=("name", "input_schema"))
        _expect(isinstance(tool["name"], str), f"{path}.name", _STR)
        if not _NAME.match(tool["name"]):
            raise _fail(f"{path}.name: String should match pattern '{NAME_PATTERN}'")
        if "description" in tool:
            _expect(isinstance(tool["description"], str), f"{path}.description", _STR)
        schema = tool["input_schema"]
        _expect(isinstance(schema, dict), f"{path}.input_schema", _DICT)
        if schema.get("type") != "object":
            raise _fail(f"{path}.input_schema.type: Input should be 'object'")
        names.append(tool["name"])
    if len(set(names)) != len(names):
        raise _fail("tools: Tool names must be unique.")
    return names


def _check_tool_choice(choice: Any, tools: list[str]) -> None:
    if choice is None:
        return
    _expect(isinstance(choice, dict), "tool_choice", _DICT)
    kind = choice.get("type")
    allowed = {"auto": {"type", "disable_parallel_tool_use"}, "any": {"type", "disable_parallel_tool_use"}, "none": {"type"}}
    allowed["tool"] = {"type", "name", "disable_parallel_tool_use"}
    if kind not in allowed:
        raise _fail(
            f"tool_choice: Input tag '{kind}' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'"
        )
    _fields(choice, f"tool_choice.{kind}", allowed[kind], required=("name",) if kind == "tool" else ())
    if "disable_parallel_tool_use" in choice:
        _expect(isinstance(choice["disable_parallel_tool_use"], bool), f"tool_choice.{kind}.disable_parallel_tool_use", _BOOL)
    if kind == "tool" and choice["name"] not in tools:
        raise _fail(f"Tool '{choice['name']}' not found in provided tools")
    if kind in ("any", "tool") and not tools:
        raise _fail("tool_choice: tool_choice may only be specified while providing tools.")


def _check_tool_pairing(turns: list[tuple[int, str, list[dict[str, Any]]]], *, has_tools: bool) -> None:
    seen: set[str] = set()
    uses_tools = any(b.get("type") in ("tool_use", "tool_result") for _, _, blocks in turns for b in blocks)
    if uses_tools and not has_tools:
        raise _fail(NEEDS_TOOLS)
    previous_ids: list[str] = []
    for n, (index, role, blocks) in enumerate(turns):
        if role == "assistant":
            ids = []
            for j, block in enumerate(blocks):
                if block.get("type") == "tool_use":
                    if block["id"] in seen:
                        raise _fail(f"messages.{index}.content.{j}: `tool_use` ids must be unique")
                    seen.add(block["id"])
                    ids.append(block["id"])
            if ids and n + 1 < len(turns):
                _check_results_follow(index, ids, turns[n + 1])
            previous_ids = ids
            continue
        for j, block in enumerate(blocks):
            if block.get("type") == "tool_result" and block["tool_use_id"] not in previous_ids:
                raise _fail(
                    f"messages.{index}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {block['tool_use_id']}."
                    " Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                )
        previous_ids = []


def _check_results_follow(index: int, ids: list[str], following: tuple[int, str, list[dict[str, Any]]]) -> None:
    next_index, _, blocks = following
    answered = {b["tool_use_id"] for b in blocks if b.get("type") == "tool_result"}
    missing = [i for i in ids if i not in answered]
    if missing:
        raise _fail(
            f"messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately after: {', '.join(missing)}."
            " Each `tool_use` block must have a corresponding `tool_result` block in the next message."
        )
    leading = 0
    while leading < len(blocks) and blocks[leading].get("type") == "tool_result":
        leading += 1
    if leading < len(ids):
        raise _fail(
            f"messages.{next_index}: Did not find {len(ids)} `tool_result` block(s) at the beginning of this message."
            " Messages following `tool_use` blocks must begin with a matching number of `tool_result` blocks."
        )


def _check_output_config(config: Any) -> None:
    if config is None:
        return
    _expect(isinstance(config, dict), "output_config", _DICT)
    _fields(config, "output_config", {"effort", "format"})
    if "effort" in config and config["effort"] not in EFFORTS:
        raise _fail("output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'")
    fmt = config.get("format")
    if fmt is not None:
        _expect(isinstance(fmt, dict), "output_config.format", _DICT)
        if fmt.get("type") != "json_schema":
            raise _fail("output_config.format.type: Input should be 'json_schema'")
        _fields(fmt, "output_config.format", {"type", "schema"}, required=("schema",))
        _expect(isinstance(fmt["schema"], dict), "output_config.format.schema", _DICT)


def thinking_mode(body: dict[str, Any]) -> str:
    """'enabled', 'adaptive' or 'disabled' (also when absent)."""
    thinking = body.get("thinking")
    return str(thinking.get("type")) if isinstance(thinking, dict) else "disabled"


def _check_thinking(body: dict[str, Any], turns: list[tuple[int, str, list[dict[str, Any]]]], ctx: ValidationContext) -> None:
    thinking = body.get("thinking")
    if thinking is None:
        return
    _expect(isinstance(thinking, dict), "thinking", _DICT)
    kind = thinking.get("type")
    if kind not in ("enabled", "disabled", "adaptive"):
        raise _fail(
            f"thinking: Input tag '{kind}' found using 'type' does not match any of the expected tags: 'enabled', 'disabled', 'adaptive'"
        )
    allowed = {"enabled": {"type", "budget_tokens", "display"}, "adaptive": {"type", "display"}, "disabled": {"type"}}
    _fields(thinking, f"thinking.{kind}", allowed[kind], required=("budget_tokens",) if kind == "enabled" else ())
    if kind == "disabled":
        return
    if not ctx.info.thinking:
        raise _fail(f"'{ctx.info.id}' does not support thinking.")
    if kind == "enabled":
        budget = thinking["budget_tokens"]
        _expect(_is_int(budget), "thinking.enabled.budget_tokens", _INT)
        if budget < 1024:
            raise _fail("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        if not ctx.count_tokens and budget >= body["max_tokens"]:
            raise _fail(
                "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at"
                f" {THINKING_DOCS}#max-tokens-and-context-window-size"
            )
        if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
            raise _fail(FORCED_TOOL)
    _check_sampling_with_thinking(body)
    _check_final_thinking(turns)


def _check_sampling_with_thinking(body: dict[str, Any]) -> None:
    compat = f"Please consult our documentation at {THINKING_DOCS}#feature-compatibility"
    if body.get("temperature") is not None and body["temperature"] != 1:
        raise _fail(f"`temperature` may only be set to 1 when thinking is enabled. {compat}")
    if body.get("top_k") is not None:
        raise _fail(f"`top_k` must be unset when thinking is enabled. {compat}")
    if body.get("top_p") is not None and body["top_p"] < 0.95:
        raise _fail(f"`top_p` must be unset or >= 0.95 when thinking is enabled. {compat}")


def _check_final_thinking(turns: list[tuple[int, str, list[dict[str, Any]]]]) -> None:
    """In a tool loop (the last turn answers tool_use), that assistant turn must open with its thinking block."""
    if len(turns) < 2 or turns[-1][1] != "user" or not any(b.get("type") == "tool_result" for b in turns[-1][2]):
        return
    index, _, blocks = turns[-2]
    first = blocks[0].get("type") if blocks else "nothing"
    if first not in ("thinking", "redacted_thinking"):
        raise _fail(
            f"messages.{index}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{first}`. When `thinking` is"
            " enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and"
            " `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement,"
            f" disable `thinking`. Please consult our documentation at {THINKING_DOCS}"
        )
