"""OpenAI Chat Completions request → Gemini ``generateContent`` body (docs/gemini-wire-format.md#request-mapping).

Pure: dicts in, dict out. The same body serves ``streamGenerateContent``; the
model goes in the URL, so ``gemini_model`` only steers model-specific limits.
``messages`` → ``contents``/``systemInstruction`` lives in ``chat_messages``;
validation in ``chat_validate`` (re-exported here for the router).

What differs between model families is decided from the model name, and only from an
explicit version (``model_family``): a moving alias such as ``gemini-flash-latest`` may point at
Gemini 2.5 one month and Gemini 3 the next, so for aliases and names not seen yet the router sends
only what both families take (a thinking budget, Google's placeholder signature, no penalties).

Usage:
    body = validate_chat_request(json.loads(raw))
    gemini_body = chat_request_to_gemini(body, "gemini-2.5-flash", TranslateOptions())
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .chat_messages import messages_to_contents
from .chat_validate import validate_chat_request
from .schema import clean_schema, has_open_object, to_json_schema

__all__ = [
    "FAMILY_2",
    "FAMILY_3",
    "FAMILY_UNKNOWN",
    "TranslateOptions",
    "chat_request_to_gemini",
    "ignored_params",
    "is_streaming",
    "model_family",
    "uses_legacy_functions",
    "validate_chat_request",
    "wants_usage_in_stream",
]

# Model families (model_family). Gemini 1.x/2.x: thinking budgets, penalties, signatures optional.
FAMILY_2 = "gemini-2"
# Gemini 3.x: thinking levels (a budget is still accepted), no penalties, signatures required.
FAMILY_3 = "gemini-3"
# Aliases and names not seen yet: only what both families accept.
FAMILY_UNKNOWN = "unknown"
_FAMILY_2_NAME = re.compile(r"^gemini-[12](\.|-)")
_FAMILY_3_NAME = re.compile(r"^gemini-3(\.|-)")
_PRO_NAME = re.compile(r"(^|-)pro(-|$)")

# OpenAI key -> generationConfig key, copied as is when present (n=1 is the default, see below).
DIRECT_PARAMS = {"temperature": "temperature", "top_p": "topP", "n": "candidateCount"}
# Gemini 3 rejects penalties (litellm drops them), so they are sent only to Gemini 1.x/2.x.
PENALTY_PARAMS = {"presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty"}
# Gemini 3 cannot switch thinking off, so "none" asks for the least there is.
THINKING_LEVELS = {
    "none": "MINIMAL", "minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH", "xhigh": "HIGH",
}  # fmt: skip
# Gemini 3 Pro takes only LOW and HIGH: round the others to the nearer of the two.
PRO_THINKING_LEVELS = {"MINIMAL": "LOW", "LOW": "LOW", "MEDIUM": "HIGH", "HIGH": "HIGH"}
# Gemini 2.5 budgets as Google's own OpenAI-compatible endpoint maps them. Every one of them
# is also valid on every 2.5 model (Flash 0..24576, Flash-Lite 0 or 512..24576, Pro 128..32768,
# with "none" raised for Pro below) and on Gemini 3, which caps its thinking by a budget.
THINKING_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 24576}
# 2.5 Pro cannot turn thinking off (budget 128..32768): "none" becomes its minimum.
PRO_MIN_BUDGET = 128
TOOL_CHOICE_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
JSON_MIME = "application/json"
INT32 = 2**31


@dataclass(frozen=True)
class TranslateOptions:
    """Per-request switches the router derives from config."""

    expose_reasoning: bool = False  # thought text -> message.reasoning_content (asks includeThoughts)


def model_family(gemini_model: str) -> str:
    """FAMILY_2 or FAMILY_3 for an explicitly versioned name, else FAMILY_UNKNOWN: never a
    guess at what an alias (``gemini-flash-latest``) or a new name points at."""
    name = gemini_model.removeprefix("models/")
    if _FAMILY_3_NAME.match(name):
        return FAMILY_3
    if _FAMILY_2_NAME.match(name):
        return FAMILY_2
    return FAMILY_UNKNOWN


def ignored_params(body: dict[str, Any], gemini_model: str) -> list[str]:
    """The request's parameters that are not sent to this model (the router tells the client)."""
    if model_family(gemini_model) == FAMILY_2:
        return []
    return [key for key in PENALTY_PARAMS if body.get(key) is not None]


def is_streaming(body: dict[str, Any]) -> bool:
    return body.get("stream") is True


def wants_usage_in_stream(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def uses_legacy_functions(body: dict[str, Any]) -> bool:
    """Declared with the deprecated ``functions`` (no ``tools``): such clients read only ``function_call``."""
    return bool(body.get("functions")) and not body.get("tools")


def chat_request_to_gemini(body: dict[str, Any], gemini_model: str, options: TranslateOptions) -> dict[str, Any]:
    """Translate a validated request; raises InvalidRequest for inconsistent history.

    Dropped on purpose (no Gemini equivalent): user, metadata, store,
    service_tier, prediction, logit_bias, parallel_tool_calls, modalities,
    verbosity, and any unknown top-level key.
    """
    family = model_family(gemini_model)
    # Gemini 3 refuses a call turn without a signature; Gemini 2.5 ignores the placeholder.
    system, contents = messages_to_contents(body["messages"], placeholder_signatures=family != FAMILY_2)
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    declarations, tool_config = _tools(body)
    if declarations:
        out["tools"] = [{"functionDeclarations": declarations}]
    if tool_config:
        out["toolConfig"] = {"functionCallingConfig": tool_config}
    config = _generation_config(body, gemini_model, family, options)
    if config:
        out["generationConfig"] = config
    return out


def _generation_config(body: dict[str, Any], gemini_model: str, family: str, options: TranslateOptions) -> dict[str, Any]:
    config: dict[str, Any] = {}
    params = {**DIRECT_PARAMS, **PENALTY_PARAMS} if family == FAMILY_2 else DIRECT_PARAMS
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
    thinking = _thinking_config(body.get("reasoning_effort"), gemini_model, family, options)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _response_format(fmt: dict[str, Any] | None) -> dict[str, Any]:
    kind = fmt.get("type") if fmt else None
    if kind == "json_object":
        return {"responseMimeType": JSON_MIME}
    if kind == "json_schema":
        schema = (fmt or {}).get("json_schema", {}).get("schema")
        # responseJsonSchema takes real JSON Schema (recursion, tuples...), so nothing is lost;
        # name/strict are OpenAI-only wrappers.
        return {"responseMimeType": JSON_MIME, **({"responseJsonSchema": to_json_schema(schema)} if schema else {})}
    return {}


def _thinking_config(effort: str | None, gemini_model: str, family: str, options: TranslateOptions) -> dict[str, Any]:
    """A level for Gemini 3; a budget for 2.5 and for unknown families, since Gemini 3 takes a
    budget too while 2.5 refuses a level ("Thinking level is not supported for this model")."""
    thinking: dict[str, Any] = {}
    pro = bool(_PRO_NAME.search(gemini_model.lower()))
    if effort is not None and family == FAMILY_3:
        level = THINKING_LEVELS[effort]
        thinking["thinkingLevel"] = PRO_THINKING_LEVELS[level] if pro else level
    elif effort is not None:
        budget = THINKING_BUDGETS[effort]
        thinking["thinkingBudget"] = PRO_MIN_BUDGET if budget == 0 and pro else budget
    if options.expose_reasoning:
        thinking["includeThoughts"] = True
    return thinking


def _tools(body: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
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


def _declaration(function: dict[str, Any]) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": function["name"]}
    if function.get("description"):
        declaration["description"] = function["description"]
    schema = function.get("parameters")
    if schema:
        parameters, losses = clean_schema(schema)
        open_root = parameters.get("type") == "OBJECT" and "properties" not in parameters
        if losses or has_open_object(parameters) or (open_root and schema.get("additionalProperties") not in (None, False)):
            # The OpenAPI subset cannot express it (recursion, tuples, a free-form map...): a
            # cleaned copy would let the model answer what the client's validator rejects.
            declaration["parametersJsonSchema"] = to_json_schema(schema)
        elif not open_root:  # a no-argument tool sends no parameters (an empty OBJECT is a 400)
            parameters.pop("nullable", None)
            declaration["parameters"] = parameters
    return declaration
