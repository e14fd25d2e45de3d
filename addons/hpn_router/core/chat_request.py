"""OpenAI Chat Completions request → Gemini ``generateContent`` body (wire-formats §3.1).

Pure: dicts in, dict out. The same body serves ``streamGenerateContent``; the
model goes in the URL, so ``gemini_model`` only steers model-specific limits.
``messages`` → ``contents``/``systemInstruction`` lives in ``chat_messages``;
validation in ``chat_validate`` (re-exported here for the router).

Usage:
    body = validate_chat_request(json.loads(raw))
    gemini_body = chat_request_to_gemini(body, "gemini-2.5-flash", TranslateOptions())
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .chat_messages import messages_to_contents
from .chat_validate import validate_chat_request
from .schema import has_open_object, to_gemini_schema, to_json_schema

__all__ = [
    "TranslateOptions",
    "chat_request_to_gemini",
    "is_streaming",
    "uses_legacy_functions",
    "validate_chat_request",
    "wants_usage_in_stream",
]

# OpenAI key -> generationConfig key, copied as is when present (n=1 is the default, see below).
DIRECT_PARAMS = {"temperature": "temperature", "top_p": "topP", "n": "candidateCount"}
# Gemini 3 rejects penalties (litellm drops them), so they are kept only for older models.
PENALTY_PARAMS = {"presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty"}
# Gemini 3 cannot switch thinking off, so "none" asks for the least there is.
THINKING_LEVELS = {
    "none": "MINIMAL", "minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH", "xhigh": "HIGH",
}  # fmt: skip
# Gemini 2.5 budgets as Google's own OpenAI-compatible endpoint maps them.
THINKING_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 24576}
# 2.5 Pro cannot turn thinking off (budget 128..32768): "none" becomes its minimum.
PRO_MIN_BUDGET = 128
TOOL_CHOICE_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
JSON_MIME = "application/json"
INT32 = 2**31


@dataclass(frozen=True)
class TranslateOptions:
    """Per-request switches the router derives from config and the target model."""

    gemini3: bool = False  # Gemini 3.x: thinkingLevel, no penalties, signatures required
    expose_reasoning: bool = False  # thought text -> message.reasoning_content (asks includeThoughts)


def is_streaming(body: dict) -> bool:
    return body.get("stream") is True


def wants_usage_in_stream(body: dict) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def uses_legacy_functions(body: dict) -> bool:
    """Declared with the deprecated ``functions`` (no ``tools``): such clients read only ``function_call``."""
    return bool(body.get("functions")) and not body.get("tools")


def chat_request_to_gemini(body: dict, gemini_model: str, options: TranslateOptions) -> dict:
    """Translate a validated request; raises InvalidRequest for inconsistent history.

    Dropped on purpose (no Gemini equivalent): user, metadata, store,
    service_tier, prediction, logit_bias, parallel_tool_calls, modalities,
    verbosity, and any unknown top-level key.
    """
    system, contents = messages_to_contents(body["messages"], gemini3=options.gemini3)
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    declarations, tool_config = _tools(body)
    if declarations:
        out["tools"] = [{"functionDeclarations": declarations}]
    if tool_config:
        out["toolConfig"] = {"functionCallingConfig": tool_config}
    config = _generation_config(body, gemini_model, options)
    if config:
        out["generationConfig"] = config
    return out


def _generation_config(body: dict, gemini_model: str, options: TranslateOptions) -> dict:
    config: dict[str, Any] = {}
    params = DIRECT_PARAMS if options.gemini3 else {**DIRECT_PARAMS, **PENALTY_PARAMS}
    for key, target in params.items():
        if body.get(key) is not None and not (key == "n" and body[key] == 1):
            config[target] = body[key]
    if body.get("seed") is not None:
        # OpenAI seeds are 64-bit, Gemini's is int32: fold deterministically.
        config["seed"] = (body["seed"] + INT32) % (2 * INT32) - INT32
    stop = body.get("stop")
    stops = [s for s in ([stop] if isinstance(stop, str) else stop or []) if s]
    if stops:
        config["stopSequences"] = stops
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if limit is not None:
        config["maxOutputTokens"] = limit  # Gemini counts thinking in it, as OpenAI does
    config.update(_response_format(body.get("response_format")))
    if body.get("logprobs") is True:
        config["responseLogprobs"] = True
        if body.get("top_logprobs"):
            config["logprobs"] = body["top_logprobs"]
    thinking = _thinking_config(body.get("reasoning_effort"), gemini_model, options)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _response_format(fmt: dict | None) -> dict:
    kind = fmt.get("type") if fmt else None
    if kind == "json_object":
        return {"responseMimeType": JSON_MIME}
    if kind == "json_schema":
        schema = (fmt or {}).get("json_schema", {}).get("schema")
        # responseJsonSchema takes real JSON Schema; name/strict are OpenAI-only wrappers.
        return {"responseMimeType": JSON_MIME, **({"responseJsonSchema": schema} if schema else {})}
    return {}


def _thinking_config(effort: str | None, gemini_model: str, options: TranslateOptions) -> dict:
    thinking: dict[str, Any] = {}
    if effort is not None and options.gemini3:
        thinking["thinkingLevel"] = THINKING_LEVELS[effort]
    elif effort is not None:
        budget = THINKING_BUDGETS[effort]
        if budget == 0 and "pro" in gemini_model.lower():
            budget = PRO_MIN_BUDGET
        thinking["thinkingBudget"] = budget
    if options.expose_reasoning:
        thinking["includeThoughts"] = True
    return thinking


def _tools(body: dict) -> tuple[list[dict], dict | None]:
    """``(functionDeclarations, functionCallingConfig or None)``."""
    functions = [t["function"] for t in body.get("tools") or []] + list(body.get("functions") or [])
    declarations = [_declaration(f) for f in functions]
    choice = body.get("tool_choice")
    if choice is None and body.get("function_call") is not None:
        legacy = body["function_call"]  # legacy: "none" | "auto" | {"name": ...}
        choice = legacy if isinstance(legacy, str) else {"type": "function", "function": legacy}
    if choice is None or not declarations:
        return declarations, None
    if isinstance(choice, str):
        return declarations, {"mode": TOOL_CHOICE_MODES[choice]}
    if choice.get("type") == "allowed_tools":
        allowed = choice["allowed_tools"]
        names = [t["function"]["name"] for t in allowed["tools"]]
        if allowed["mode"] == "auto":
            # Names are only allowed with ANY, so "auto among these" = declare only these.
            return [d for d in declarations if d["name"] in names], {"mode": "AUTO"}
        return declarations, {"mode": "ANY", "allowedFunctionNames": names}
    return declarations, {"mode": "ANY", "allowedFunctionNames": [choice["function"]["name"]]}


def _declaration(function: dict) -> dict:
    declaration: dict[str, Any] = {"name": function["name"]}
    if function.get("description"):
        declaration["description"] = function["description"]
    schema = function.get("parameters")
    if schema:
        parameters = to_gemini_schema(schema)
        open_root = parameters.get("type") == "OBJECT" and "properties" not in parameters
        if has_open_object(parameters) or (open_root and schema.get("additionalProperties") not in (None, False)):
            # A free-form map the OpenAPI subset cannot express: send the real JSON Schema.
            declaration["parametersJsonSchema"] = to_json_schema(schema)
        elif not open_root:  # a no-argument tool sends no parameters (an empty OBJECT is a 400)
            parameters.pop("nullable", None)
            declaration["parameters"] = parameters
    return declaration
