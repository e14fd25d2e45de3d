"""ChatRequest -> Gemini ``generateContent`` body (docs/gemini-wire-format.md#request-mapping).

Pure: the model in, a dict out. The same body serves ``streamGenerateContent``; the
model goes in the URL, so ``gemini_model`` only steers model-specific limits.
``messages`` -> ``contents``/``systemInstruction`` lives in ``chat_contents``.

What differs between model families is decided from the model name, and only from an
explicit version (``model_family``): a moving alias such as ``gemini-flash-latest`` may point at
Gemini 2.5 one month and Gemini 3 the next, so for aliases and names not seen yet the router sends
only what both families take (a thinking budget, Google's placeholder signature, no penalties).

Usage:
    request = parse_chat_request(json.loads(raw))     # core/inbound/openai_chat_request.py
    gemini_body = chat_request_to_gemini(request, "gemini-2.5-flash", TranslateOptions())
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...model.request import ChatRequest, OutputFormat, Tool, ToolChoice
from .chat_contents import messages_to_contents
from .schema import clean_schema, has_open_object, to_json_schema

__all__ = [
    "FAMILY_2",
    "FAMILY_3",
    "FAMILY_UNKNOWN",
    "TranslateOptions",
    "chat_request_to_gemini",
    "ignored_params",
    "model_family",
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

# ChatRequest field -> generationConfig key, copied as is when set (candidate_count 1 is the default, see below).
DIRECT_PARAMS = {"temperature": "temperature", "top_p": "topP", "candidate_count": "candidateCount"}
# Gemini 3 rejects penalties (litellm drops them), so they are sent only to Gemini 1.x/2.x.
# The model's names for them are OpenAI's, so the names the client is told are its own.
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


def ignored_params(request: ChatRequest, gemini_model: str) -> list[str]:
    """The request's parameters that are not sent to this model (the router tells the client)."""
    if model_family(gemini_model) == FAMILY_2:
        return []
    return [name for name in PENALTY_PARAMS if getattr(request, name) is not None]


def chat_request_to_gemini(request: ChatRequest, gemini_model: str, options: TranslateOptions) -> dict[str, Any]:
    """The generateContent body for `request`.

    Not sent (no Gemini equivalent): the end user, parallel_tool_calls, a tool's strictness,
    an image's detail, reasoning handed back, and the fields in `request.extra`.
    """
    family = model_family(gemini_model)
    # Gemini 3 refuses a call turn without a signature; Gemini 2.5 ignores the placeholder.
    system, contents = messages_to_contents(request.messages, placeholder_signatures=family != FAMILY_2)
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    declarations, tool_config = _tools(request.tools, request.tool_choice)
    if declarations:
        out["tools"] = [{"functionDeclarations": declarations}]
    if tool_config:
        out["toolConfig"] = {"functionCallingConfig": tool_config}
    config = _generation_config(request, gemini_model, family, options)
    if config:
        out["generationConfig"] = config
    return out


def _generation_config(request: ChatRequest, gemini_model: str, family: str, options: TranslateOptions) -> dict[str, Any]:
    config: dict[str, Any] = {}
    params = {**DIRECT_PARAMS, **PENALTY_PARAMS} if family == FAMILY_2 else DIRECT_PARAMS
    for name, target in params.items():
        value = getattr(request, name)
        if value is not None and not (name == "candidate_count" and value == 1):
            config[target] = value
    if request.seed is not None:
        # OpenAI seeds are 64-bit, Gemini's is int32: fold deterministically.
        config["seed"] = (request.seed + INT32) % (2 * INT32) - INT32
    stops = [s for s in request.stop if s]
    if stops:
        config["stopSequences"] = stops
    if request.max_output_tokens is not None:
        config["maxOutputTokens"] = request.max_output_tokens  # Gemini counts thinking in it, as OpenAI does
    config.update(_response_format(request.output_format))
    if request.logprobs:
        config["responseLogprobs"] = True
        if request.top_logprobs:
            config["logprobs"] = request.top_logprobs
    thinking = _thinking_config(request.reasoning_effort, gemini_model, family, options)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _response_format(fmt: OutputFormat | None) -> dict[str, Any]:
    kind = fmt.kind if fmt else None
    if kind == "json":
        return {"responseMimeType": JSON_MIME}
    if kind == "json_schema":
        schema = fmt.schema if fmt else None
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


def _tools(tools: tuple[Tool, ...], choice: ToolChoice | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """``(functionDeclarations, functionCallingConfig or None)``."""
    declarations = [_declaration(t) for t in tools]
    if choice is None or not declarations:
        return declarations, None
    if not choice.allowed:
        return declarations, {"mode": TOOL_CHOICE_MODES[choice.mode]}
    names = list(choice.allowed)
    if choice.mode == "auto":
        # Names are only allowed with ANY, so "auto among these" = declare only these.
        return [d for d in declarations if d["name"] in names], {"mode": "AUTO"}
    return declarations, {"mode": "ANY", "allowedFunctionNames": names}


def _declaration(tool: Tool) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": tool.name}
    if tool.description:
        declaration["description"] = tool.description
    schema = tool.parameters
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
