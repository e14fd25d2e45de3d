"""Strict validation of Gemini request bodies (pure): each check returns a GoogleError or None.

Two layers, like Google's front end:

1. JSON -> proto parsing (`parse`): unknown field names anywhere in the known message
   types, JSON values of the wrong type, bad enum values, bad base64. These 400s carry
   `google.rpc.BadRequest.fieldViolations` with proto (snake_case) paths such as
   `tools[0].function_declarations[1].parameters.properties[0].value`.
2. Semantic checks on the parsed, lowerCamel-normalised request: parts, roles, turn order,
   schema rules, generationConfig ranges, thought signatures. These 400s have no details
   and use Google's `* GenerateContentRequest.<path>: <problem>` lines or its fixed sentences.

Usage:
    error = validate_generate(body, ValidationContext("gemini-2.5-flash", info, gemini3=False))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import errors
from .answers import verify_signature
from .errors import GoogleError
from .protos import parse, snake
from .scenario import ModelInfo

EMPTY_TEXT = "Unable to submit request because it has an empty text parameter. Add a value to the parameter and try again."
BAD_ROLE = "Please use a valid role: user, model."
CALL_AFTER = "Please ensure that function call turn comes immediately after a user turn or after a function response turn."
RESPONSE_AFTER = "Please ensure that function response turn comes immediately after a function call turn."
RESPONSE_COUNT = (
    "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn."
)
MISSING_SIGNATURE = (
    "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly,"
    " and missing thought_signature may lead to degraded model performance. Additional data, function call "
    "`default_api:{name}` , position {position}. Please refer to https://ai.google.dev/gemini-api/docs/thought-"
    "signatures for more details."
)
BAD_FUNCTION_NAME = (
    "Invalid function name. Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, "
    "0-9), underscores (_), dots (.), colons (:), or dashes (-), with a maximum length of 64."
)
MIME_TYPES = ("text/plain", "application/json", "application/xml", "application/yaml", "text/x.enum")
SAFETY_CATEGORIES = (
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_CIVIC_INTEGRITY",
)
DATA_FIELDS = ("text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode", "codeExecutionResult")
_FUNCTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
_CACHED_NAME = re.compile(r"^cachedContents/[A-Za-z0-9_-]+$")
_STRING_FORMATS = ("enum", "date-time")
_JSON_SCHEMA_DATA = ("enum", "const", "default", "examples", "example")  # values, not subschemas
Lines = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class ValidationContext:
    model: str
    info: ModelInfo
    gemini3: bool
    signature_check: str = "all"  # "all" model turns, or only the "current" turn (scenario.signature_check)
    logprobs: bool = False  # the model accepts responseLogprobs (scenario.logprobs_models)


class _Reject(Exception):
    """Internal: stop at the first semantic problem; `lines` are `* Prefix.path: problem` entries."""

    def __init__(self, error: GoogleError | None = None, lines: Lines | None = None) -> None:
        super().__init__()
        self.error, self.lines = error, lines or []


def _fail(message: str) -> _Reject:
    return _Reject(errors.invalid_argument(message))


def _run(check: Any, prefix: str, *args: Any) -> GoogleError | None:
    try:
        check(*args)
    except _Reject as reject:
        if reject.error is not None:
            return reject.error
        return errors.invalid_argument("".join(f"* {prefix}.{path}: {problem}\n" for path, problem in reject.lines))
    return None


def validate_generate(body: Any, ctx: ValidationContext) -> GoogleError | None:
    request, violations = parse(body, "GenerateContentRequest")
    if violations:
        return errors.bad_request(violations)
    return _run(_check_generate, "GenerateContentRequest", request, ctx)


def validate_count_tokens(body: Any, ctx: ValidationContext) -> GoogleError | None:
    request, violations = parse(body, "CountTokensRequest")
    if violations:
        return errors.bad_request(violations)
    inner = request.get("generateContentRequest")
    if inner is not None:
        if not str(inner.get("model", "")).startswith("models/"):
            return errors.invalid_argument("* CountTokensRequest.generate_content_request.model: unexpected model name format\n")
        return _run(_check_generate, "CountTokensRequest.generate_content_request", inner, ctx)
    return _run(_check_contents, "CountTokensRequest", request.get("contents") or [])


def validate_embed(body: Any, model: str, *, batch: bool) -> GoogleError | None:
    request, violations = parse(body, "BatchEmbedContentsRequest" if batch else "EmbedContentRequest")
    if violations:
        return errors.bad_request(violations)
    if not batch:
        return _run(_check_embed, "EmbedContentRequest", request, "")
    items = request.get("requests") or []
    if len(items) > 100:
        return errors.batch_too_large()
    for i, item in enumerate(items):
        if item.get("model") != f"models/{model}":
            return errors.invalid_argument(
                f"* BatchEmbedContentsRequest.requests[{i}].model: the model of each request"
                f" must be the model of the batch, models/{model}\n"
            )
        problem = _run(_check_embed, "BatchEmbedContentsRequest", item, f"requests[{i}].")
        if problem:
            return problem
    return None


def _check_embed(request: dict[str, Any], where: str) -> None:
    content = request.get("content") or {}
    texts = [p.get("text") for p in content.get("parts") or []]
    if not texts or not all(texts):
        raise _Reject(lines=[(f"{where}content.parts", "content must contain non-empty text parts")])
    dims = request.get("outputDimensionality") or 0
    if dims and not 128 <= dims <= 3072:
        raise _Reject(lines=[(f"{where}output_dimensionality", "must be between 128 and 3072")])


def _check_generate(request: dict[str, Any], ctx: ValidationContext) -> None:
    cached = request.get("cachedContent")
    if cached:  # the emulator holds no caches, so a well-formed name is simply not found
        if not _CACHED_NAME.match(cached):
            raise _Reject(lines=[("cached_content", "cached_content name must be like cachedContents/{id}")])
        raise _Reject(errors.cached_content_not_found())
    contents = request.get("contents") or []
    if not contents:
        raise _Reject(lines=[("contents", "contents is not specified")])
    _check_contents(contents)
    if request.get("systemInstruction") is not None:
        _check_parts(request["systemInstruction"].get("parts") or [], "system_instruction")
    _check_tools(request)
    _check_generation_config(request.get("generationConfig") or {}, ctx)
    for i, setting in enumerate(request.get("safetySettings") or []):
        if setting.get("category") not in SAFETY_CATEGORIES:
            allowed = ", ".join(f"HarmCategory.{c}" for c in SAFETY_CATEGORIES)
            raise _Reject(lines=[(f"safety_settings[{i}]", f"element predicate failed: $.category in ({allowed})")])
    _check_turns(contents)
    if ctx.gemini3:
        _check_signatures(contents, ctx.signature_check)


def _check_contents(contents: list[dict[str, Any]]) -> None:
    for i, content in enumerate(contents):
        if content.get("role") not in (None, "", "user", "model"):
            raise _fail(BAD_ROLE)
        _check_parts(content.get("parts") or [], f"contents[{i}]")


def _check_parts(parts: list[dict[str, Any]], where: str) -> None:
    if not parts:
        raise _Reject(lines=[(f"{where}.parts", "contents.parts must not be empty.")])
    for j, part in enumerate(parts):
        _check_part(part, f"{where}.parts[{j}]")


def _check_part(part: dict[str, Any], where: str) -> None:
    data = [name for name in DATA_FIELDS if part.get(name) is not None]
    if not data:
        raise _Reject(lines=[(f"{where}.data", "required oneof field 'data' must have one initialized field")])
    if len(data) > 1:
        text = f"Invalid value at '{where}' (oneof), oneof field 'data' is already set. Cannot set '{data[1]}'"
        raise _Reject(errors.bad_request([(where, text)]))
    if part.get("text") == "":
        raise _fail(EMPTY_TEXT)
    required = {
        "inlineData": ("mimeType", "data"),
        "fileData": ("mimeType", "fileUri"),
        "functionCall": ("name",),
        "functionResponse": ("name", "response"),
    }.get(data[0], ())
    for name in required:
        if part[data[0]].get(name) in (None, ""):
            raise _Reject(lines=[(f"{where}.{snake(data[0])}.{snake(name)}", "missing field.")])


def _check_turns(contents: list[dict[str, Any]]) -> None:
    """Google's function-calling turn rules (docs/gemini-wire-format.md#messages-to-contents, rules 3 and 5)."""
    previous_calls, previous_role = 0, None
    for content in contents:
        role = content.get("role") or "user"
        parts = content.get("parts") or []
        calls = sum("functionCall" in p for p in parts)
        responses = sum("functionResponse" in p for p in parts)
        if calls and role == "model" and previous_role != "user":
            raise _fail(CALL_AFTER)
        if responses and not previous_calls:
            raise _fail(RESPONSE_AFTER)
        if previous_calls and responses != previous_calls:
            raise _fail(RESPONSE_COUNT)
        previous_calls, previous_role = (calls if role == "model" else 0), role


def _check_signatures(contents: list[dict[str, Any]], scope: str) -> None:
    """Gemini 3: the first functionCall part of each (or each current) model turn must carry our signature."""
    start = 0
    if scope == "current":  # the current turn starts after the last user turn holding text
        for i, content in enumerate(contents):
            parts = content.get("parts") or []
            if (content.get("role") or "user") == "user" and not any("functionResponse" in p for p in parts):
                start = i + 1
    for position in range(start, len(contents)):
        content = contents[position]
        calls = [p for p in content.get("parts") or [] if "functionCall" in p]
        if content.get("role") != "model" or not calls:
            continue
        signature = calls[0].get("thoughtSignature")
        if not signature:
            raise _fail(MISSING_SIGNATURE.format(name=calls[0]["functionCall"].get("name"), position=position))
        if not verify_signature(signature):
            raise _fail("Corrupted thought signature.")


def _check_tools(request: dict[str, Any]) -> None:
    lines: Lines = []
    for t, tool in enumerate(request.get("tools") or []):
        for d, declaration in enumerate(tool.get("functionDeclarations") or []):
            where = f"tools[{t}].function_declarations[{d}]"
            if not _FUNCTION_NAME.match(declaration.get("name") or ""):
                lines.append((f"{where}.name", BAD_FUNCTION_NAME))
            parameters, json_schema = declaration.get("parameters"), declaration.get("parametersJsonSchema")
            if parameters is not None and json_schema is not None:
                lines.append((where, "parameters and parameters_json_schema must not both be set"))
            if parameters is not None:
                check_schema(parameters, f"{where}.parameters", lines)
            if json_schema is not None and not isinstance(json_schema, dict):
                lines.append((f"{where}.parameters_json_schema", "must be a JSON object"))
            elif json_schema is not None:
                check_json_schema(json_schema, f"{where}.parameters_json_schema", lines)
    if lines:
        raise _Reject(lines=lines)
    calling = (request.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if calling.get("allowedFunctionNames") and calling.get("mode") not in ("ANY", "VALIDATED"):
        raise _Reject(
            lines=[
                (
                    "tool_config.function_calling_config.allowed_function_names",
                    "allowed_function_names may only be set when the mode is ANY or VALIDATED",
                )
            ]
        )


def check_schema(node: Any, where: str, lines: Lines) -> None:
    """Semantic rules of Gemini's OpenAPI subset; unknown keywords were already caught by `parse`."""
    if not isinstance(node, dict):
        return
    kind = str(node.get("type") or "").upper()
    if not kind and not node.get("anyOf"):
        lines.append((f"{where}.type", "must be specified when not using one_of or any_of"))
    if node.get("enum") and kind != "STRING":
        lines.append((f"{where}.enum", "only allowed for STRING type"))
    if kind == "STRING" and node.get("format") and node["format"] not in _STRING_FORMATS:
        lines.append((f"{where}.format", "only 'enum' and 'date-time' are supported for STRING type"))
    if kind == "OBJECT" and not node.get("properties"):
        lines.append((f"{where}.properties", "should be non-empty for OBJECT type"))
    if kind == "ARRAY" and not node.get("items"):
        lines.append((f"{where}.items", "missing field."))
    for name, child in (node.get("properties") or {}).items():
        check_schema(child, f"{where}.properties[{name}]", lines)
    if node.get("items") is not None:
        check_schema(node["items"], f"{where}.items", lines)
    for k, child in enumerate(node.get("anyOf") or []):
        check_schema(child, f"{where}.any_of[{k}]", lines)


def check_json_schema(node: Any, where: str, lines: Lines) -> None:
    """`parametersJsonSchema`/`responseJsonSchema` take real JSON Schema ($ref, $defs, prefixItems,
    anyOf...), with one documented rule: a `$ref` node may hold only other `$` keys."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            check_json_schema(item, f"{where}[{i}]", lines)
        return
    if not isinstance(node, dict):
        return
    others = sorted(k for k in node if not str(k).startswith("$"))
    if isinstance(node.get("$ref"), str) and others:
        lines.append((where, f"a schema with $ref may not have other keywords (found {', '.join(others)})"))
    for key, child in node.items():
        if key not in _JSON_SCHEMA_DATA:
            check_json_schema(child, f"{where}.{key}", lines)


def _check_generation_config(config: dict[str, Any], ctx: ValidationContext) -> None:
    _range(config, "temperature", 0, 2.0001)
    _range(config, "topP", 0, 1.0001)
    _range(config, "candidateCount", 1, 9, zero_is_unset=True)
    _range(config, "maxOutputTokens", 1, ctx.info.output_limit + 1, zero_is_unset=True)
    for name in ("presencePenalty", "frequencyPenalty"):
        if config.get(name) is not None and ctx.gemini3:
            raise _fail(f"{name[0].upper()}{name[1:8]} penalty is not enabled for models/{ctx.model}")
        _range(config, name, -2, 2)
    if len(config.get("stopSequences") or []) > 5:
        raise _Reject(lines=[("generation_config.stop_sequences", "at most 5 stop sequences are allowed")])
    mime = config.get("responseMimeType")
    if mime and mime not in MIME_TYPES:
        raise _Reject(
            lines=[
                (
                    "generation_config.response_mime_type",
                    "allowed mimetypes are `text/plain`, `application/json`, `application/xml`, `application/yaml` and `text/x.enum`.",
                )
            ]
        )
    _check_response_schema(config, mime)
    _check_thinking(config.get("thinkingConfig") or {}, ctx)
    if config.get("responseLogprobs") and not ctx.logprobs:
        raise _fail(f"Logprobs is not enabled for models/{ctx.model}")
    _range(config, "logprobs", 0, 21)  # top alternatives per step: 0..20


def _range(config: dict[str, Any], name: str, low: float, high: float, *, zero_is_unset: bool = False) -> None:
    value = config.get(name)
    if value is None or (zero_is_unset and value == 0) or low <= value < high:
        return
    raise _fail(
        f"Unable to submit request because it has a {name} value of {_num(value)} but the supported range is"
        f" from {_num(low)} (inclusive) to {_num(high)} (exclusive). Update the value and try again."
    )


def _check_response_schema(config: dict[str, Any], mime: str | None) -> None:
    schema, json_schema = config.get("responseSchema"), config.get("responseJsonSchema")
    where = "generation_config"
    if schema is not None and json_schema is not None:
        raise _Reject(lines=[(where, "response_schema and response_json_schema must not both be set")])
    if schema is not None and mime not in ("application/json", "text/x.enum"):
        raise _Reject(
            lines=[
                (
                    f"{where}.response_mime_type",
                    "response_mime_type must be one of ['application/json', 'text/x.enum'] when response_schema is set.",
                )
            ]
        )
    if json_schema is not None and mime != "application/json":
        raise _Reject(
            lines=[(f"{where}.response_mime_type", "response_mime_type must be application/json when response_json_schema is set.")]
        )
    if json_schema is not None and not isinstance(json_schema, dict):
        raise _Reject(lines=[(f"{where}.response_json_schema", "must be a JSON object")])
    lines: Lines = []
    check_schema(schema, f"{where}.response_schema", lines)
    check_json_schema(json_schema, f"{where}.response_json_schema", lines)
    if lines:
        raise _Reject(lines=lines)


def _check_thinking(config: dict[str, Any], ctx: ValidationContext) -> None:
    budget, level = config.get("thinkingBudget"), config.get("thinkingLevel")
    if budget is not None and level is not None:
        raise _fail("You can only set only one of thinking budget and thinking level.")
    if level is not None and not ctx.gemini3:
        raise _fail("Thinking level is not supported for this model.")
    if level is not None and level not in ctx.info.levels:
        raise _fail(f"Thinking level {level} is not supported for this model.")
    if budget is None or budget == -1 or ctx.gemini3:  # Gemini 3 accepts (and caps by) a legacy budget
        return
    low, high, zero_ok = ctx.info.budget
    if budget == 0 and not zero_ok:
        raise _fail("Budget 0 is invalid. This model only works in thinking mode.")
    if budget != 0 and not low <= budget <= high:
        raise _fail(f"The thinking budget {budget} is invalid. Please choose a value between {low} and {high}.")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
