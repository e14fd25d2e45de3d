"""The JSON -> proto layer of Google's front end, for the request messages the emulator serves (pure).

`parse(body, "GenerateContentRequest")` walks a decoded JSON body against the message
tables below and returns a lowerCamel-normalised copy plus every parse violation as
`(field_path, description)`, worded like Google's ("Invalid JSON payload received. Unknown
name ... Cannot find field."). Both lowerCamel and snake_case names are accepted; paths use
proto (snake_case) names, and map entries appear as `properties[i].value`, as Google shows them.

Kinds: a message name; `string bytes int float bool`; `struct` (a JSON object); `value` (any
JSON); `enum:<Name>`; `[<kind>` a repeated field; `{<kind>` a map with string keys.

`example_value(schema)` goes the other way: a simple value that conforms to a Schema (or a
real JSON Schema), which the answers use for function arguments and JSON-mode replies.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_SCHEMA = {
    "type": "enum:Type",
    "format": "string",
    "title": "string",
    "description": "string",
    "nullable": "bool",
    "enum": "[string",
    "items": "Schema",
    "minItems": "int",
    "maxItems": "int",
    "properties": "{Schema",
    "required": "[string",
    "minProperties": "int",
    "maxProperties": "int",
    "minLength": "int",
    "maxLength": "int",
    "pattern": "string",
    "minimum": "float",
    "maximum": "float",
    "example": "value",
    "default": "value",
    "anyOf": "[Schema",
    "propertyOrdering": "[string",
}
MESSAGES: dict[str, dict[str, str]] = {
    "GenerateContentRequest": {
        "model": "string",
        "contents": "[Content",
        "systemInstruction": "Content",
        "tools": "[Tool",
        "toolConfig": "ToolConfig",
        "safetySettings": "[SafetySetting",
        "generationConfig": "GenerationConfig",
        "cachedContent": "string",
    },
    "Content": {"role": "string", "parts": "[Part"},
    "Part": {
        "text": "string",
        "inlineData": "Blob",
        "fileData": "FileData",
        "functionCall": "FunctionCall",
        "functionResponse": "FunctionResponse",
        "executableCode": "ExecutableCode",
        "codeExecutionResult": "CodeExecutionResult",
        "thought": "bool",
        "thoughtSignature": "bytes",
        "mediaResolution": "PartMediaResolution",
        "videoMetadata": "VideoMetadata",
    },
    "Blob": {"mimeType": "string", "data": "bytes"},
    "FileData": {"mimeType": "string", "fileUri": "string"},
    "FunctionCall": {"id": "string", "name": "string", "args": "struct"},
    "FunctionResponse": {"id": "string", "name": "string", "response": "struct", "willContinue": "bool", "scheduling": "enum:Scheduling"},
    "ExecutableCode": {"language": "enum:Language", "code": "string"},
    "CodeExecutionResult": {"outcome": "enum:Outcome", "output": "string"},
    "PartMediaResolution": {"level": "enum:MediaResolution", "numTokens": "int"},
    "VideoMetadata": {"startOffset": "string", "endOffset": "string", "fps": "float"},
    "Tool": {
        "functionDeclarations": "[FunctionDeclaration",
        "googleSearch": "struct",
        "googleSearchRetrieval": "struct",
        "codeExecution": "struct",
        "urlContext": "struct",
        "googleMaps": "struct",
        "fileSearch": "struct",
        "computerUse": "struct",
    },
    "FunctionDeclaration": {
        "name": "string",
        "description": "string",
        "parameters": "Schema",
        "parametersJsonSchema": "value",
        "response": "Schema",
        "responseJsonSchema": "value",
        "behavior": "enum:Behavior",
    },
    "Schema": _SCHEMA,
    "ToolConfig": {"functionCallingConfig": "FunctionCallingConfig", "retrievalConfig": "struct"},
    "FunctionCallingConfig": {"mode": "enum:Mode", "allowedFunctionNames": "[string"},
    "SafetySetting": {"category": "enum:HarmCategory", "threshold": "enum:HarmBlockThreshold"},
    "GenerationConfig": {
        "stopSequences": "[string",
        "responseMimeType": "string",
        "responseSchema": "Schema",
        "responseJsonSchema": "value",
        "responseModalities": "[enum:Modality",
        "candidateCount": "int",
        "maxOutputTokens": "int",
        "temperature": "float",
        "topP": "float",
        "topK": "int",
        "seed": "int",
        "presencePenalty": "float",
        "frequencyPenalty": "float",
        "responseLogprobs": "bool",
        "logprobs": "int",
        "enableEnhancedCivicAnswers": "bool",
        "speechConfig": "struct",
        "thinkingConfig": "ThinkingConfig",
        "imageConfig": "struct",
        "mediaResolution": "enum:MediaResolution",
    },
    "ThinkingConfig": {"includeThoughts": "bool", "thinkingBudget": "int", "thinkingLevel": "enum:ThinkingLevel"},
    "CountTokensRequest": {"contents": "[Content", "generateContentRequest": "GenerateContentRequest"},
    "EmbedContentRequest": {
        "model": "string",
        "content": "Content",
        "taskType": "enum:TaskType",
        "title": "string",
        "outputDimensionality": "int",
    },
    "BatchEmbedContentsRequest": {"requests": "[EmbedContentRequest"},
}
ENUMS: dict[str, tuple[str, ...]] = {
    "Type": ("TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"),
    "Mode": ("MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"),
    "HarmCategory": (
        "HARM_CATEGORY_UNSPECIFIED",
        "HARM_CATEGORY_DEROGATORY",
        "HARM_CATEGORY_TOXICITY",
        "HARM_CATEGORY_VIOLENCE",
        "HARM_CATEGORY_SEXUAL",
        "HARM_CATEGORY_MEDICAL",
        "HARM_CATEGORY_DANGEROUS",
        "HARM_CATEGORY_HARASSMENT",
        "HARM_CATEGORY_HATE_SPEECH",
        "HARM_CATEGORY_SEXUALLY_EXPLICIT",
        "HARM_CATEGORY_DANGEROUS_CONTENT",
        "HARM_CATEGORY_CIVIC_INTEGRITY",
    ),
    "HarmBlockThreshold": (
        "HARM_BLOCK_THRESHOLD_UNSPECIFIED",
        "BLOCK_LOW_AND_ABOVE",
        "BLOCK_MEDIUM_AND_ABOVE",
        "BLOCK_ONLY_HIGH",
        "BLOCK_NONE",
        "OFF",
    ),
    "ThinkingLevel": ("THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH"),
    "Language": ("LANGUAGE_UNSPECIFIED", "PYTHON"),
    "Outcome": ("OUTCOME_UNSPECIFIED", "OUTCOME_OK", "OUTCOME_FAILED", "OUTCOME_DEADLINE_EXCEEDED"),
    "Modality": ("MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO"),
    "MediaResolution": (
        "MEDIA_RESOLUTION_UNSPECIFIED",
        "MEDIA_RESOLUTION_LOW",
        "MEDIA_RESOLUTION_MEDIUM",
        "MEDIA_RESOLUTION_HIGH",
        "MEDIA_RESOLUTION_ULTRA_HIGH",
    ),
    "Behavior": ("UNSPECIFIED", "BLOCKING", "NON_BLOCKING"),
    "Scheduling": ("SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE", "INTERRUPT"),
    "TaskType": (
        "TASK_TYPE_UNSPECIFIED",
        "RETRIEVAL_QUERY",
        "RETRIEVAL_DOCUMENT",
        "SEMANTIC_SIMILARITY",
        "CLASSIFICATION",
        "CLUSTERING",
        "QUESTION_ANSWERING",
        "FACT_VERIFICATION",
        "CODE_RETRIEVAL_QUERY",
    ),
}
_CASE_INSENSITIVE_ENUMS = {"Type"}  # Google documents `type` "in any case"
_SCALAR_LABELS = {"string": "TYPE_STRING", "bytes": "TYPE_BYTES", "int": "TYPE_INT32", "float": "TYPE_FLOAT", "bool": "TYPE_BOOL"}
_TYPE_URL = "type.googleapis.com/google.ai.generativelanguage.v1beta."
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]*={0,2}$")
_INTEGER = re.compile(r"^-?\d+$")
Violations = list[tuple[str | None, str]]


def parse(body: Any, message: str) -> tuple[dict[str, Any], Violations]:
    """Normalised copy of `body` as `message`, plus parse violations (empty when the body parses)."""
    out: Violations = []
    if not isinstance(body, dict):
        return {}, [(None, "Invalid JSON payload received. Root element must be a message.")]
    return _message(body, message, "", out) or {}, out


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _message(value: Any, name: str, path: str, out: Violations) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        out.append(_invalid(path, _TYPE_URL + name, value))
        return None
    fields, result = MESSAGES[name], {}
    for key, item in value.items():
        field = key if key in fields else camel(key) if camel(key) in fields and "_" in key else None
        if field is None:
            out.append(_unknown(key, path, "Cannot find field."))
            continue
        kind = fields[field]
        if isinstance(item, list) and not kind.startswith("[") and kind != "value":
            out.append(_unknown(key, path, "Proto field is not repeating, cannot start list."))
        elif isinstance(item, dict) and (kind in _SCALAR_LABELS or kind.startswith("enum:")):
            out.append(_unknown(key, path, "Starting an object on a scalar field"))
        elif item is not None:  # JSON null means "default" in proto3: the field is simply absent
            result[field] = _value(item, kind, f"{path}.{snake(field)}" if path else snake(field), out)
    return result


def _value(value: Any, kind: str, path: str, out: Violations) -> Any:
    if kind.startswith("["):
        if not isinstance(value, list):
            out.append(_invalid(path, _label(kind[1:]), value))
            return []
        return [_value(v, kind[1:], f"{path}[{i}]", out) for i, v in enumerate(value) if v is not None]
    if kind.startswith("{"):
        if not isinstance(value, dict):
            out.append(_invalid(path, _label(kind[1:]), value))
            return {}
        return {k: _value(v, kind[1:], f"{path}[{i}].value", out) for i, (k, v) in enumerate(value.items())}
    if kind in MESSAGES:
        return _message(value, kind, path, out)
    return _scalar(value, kind, path, out)


def _scalar(value: Any, kind: str, path: str, out: Violations) -> Any:
    ok, normal = _convert(value, kind)
    if ok:
        return normal
    if kind == "bytes" and isinstance(value, str):
        out.append((path, f"Invalid value at '{path}' (TYPE_BYTES), Base64 decoding failed for \"{value}\""))
    else:
        out.append(_invalid(path, _label(kind), value))
    return None


def _convert(value: Any, kind: str) -> tuple[bool, Any]:
    """(accepted, normalised value) under proto3 JSON rules: ints and floats may arrive as strings."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str), value
    if kind == "bytes":
        return isinstance(value, str) and bool(_BASE64.match(value)) and len(value.rstrip("=")) % 4 != 1, value
    if kind == "bool":
        return isinstance(value, bool), value
    if kind == "int":
        if isinstance(value, str) and _INTEGER.match(value):
            return True, int(value)
        return number and float(value).is_integer(), int(value) if number and float(value).is_integer() else None
    if kind == "float":
        if isinstance(value, str):
            try:
                return True, float(value)
            except ValueError:
                return False, None
        return number, float(value) if number else None
    if kind == "struct":
        return isinstance(value, dict), value
    if kind == "value":
        return True, value
    values = ENUMS[kind.removeprefix("enum:")]
    text = value.upper() if isinstance(value, str) and kind[5:] in _CASE_INSENSITIVE_ENUMS else value
    if isinstance(text, int) and not isinstance(text, bool) and 0 <= text < len(values):
        return True, values[text]
    return text in values, text


def _label(kind: str) -> str:
    if kind.startswith("enum:"):
        return _TYPE_URL + kind[5:]
    if kind == "struct":
        return "type.googleapis.com/google.protobuf.Struct"
    return _SCALAR_LABELS.get(kind, _TYPE_URL + kind)


def _invalid(path: str, label: str, value: Any) -> tuple[str | None, str]:
    return path or None, f"Invalid value at '{path}' ({label}), {json.dumps(value, ensure_ascii=False)}"


def _unknown(name: str, path: str, reason: str) -> tuple[str | None, str]:
    where = f" at '{path}'" if path else ""
    return path or None, f'Invalid JSON payload received. Unknown name "{name}"{where}: {reason}'


def example_value(schema: Any, root: dict[str, Any], *, fill_all: bool, depth: int = 0) -> Any:
    """A simple value conforming to a Gemini Schema or JSON Schema node (strings are "example").

    `fill_all` fills every property (JSON answers); otherwise only required ones
    (function-call arguments), which is what makes zero-argument calls possible.
    """
    if not isinstance(schema, dict) or depth > 8:  # depth guards $ref cycles
        return None
    if isinstance(schema.get("$ref"), str):
        return example_value(_resolve_ref(schema["$ref"], root), root, fill_all=fill_all, depth=depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        branches = [b for b in schema.get(key) or [] if isinstance(b, dict) and _json_type(b) != "null"]
        if branches:
            return example_value(branches[0], root, fill_all=fill_all, depth=depth + 1)
    kind = _json_type(schema)
    if kind == "object":
        properties = schema.get("properties") or {}
        names = list(properties) if fill_all and depth < 4 else schema.get("required") or []
        return {n: example_value(properties.get(n, {}), root, fill_all=fill_all, depth=depth + 1) for n in names}
    if kind == "array":
        positions = schema.get("prefixItems")
        if isinstance(positions, list) and positions:  # a tuple: one value per position
            return [example_value(p, root, fill_all=fill_all, depth=depth + 1) for p in positions]
        # Deep down an array stays empty unless it must not be, so a recursive tree ends.
        count = max(1 if depth < 4 else 0, int(schema.get("minItems") or 0))
        if not count:
            return []
        item = example_value(schema.get("items", {}), root, fill_all=fill_all, depth=depth + 1)
        return [item] * min(count, int(schema.get("maxItems", count)))
    return _example_scalar(kind, schema)


def _json_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    return str(kind).lower()


def _resolve_ref(ref: str, root: dict[str, Any]) -> Any:
    node: Any = root
    for name in ref.removeprefix("#/").split("/") if ref.startswith("#/") else []:
        node = node.get(name, {}) if isinstance(node, dict) else {}
    return node


def _example_scalar(kind: str, schema: dict[str, Any]) -> Any:
    if kind in ("integer", "number"):
        value = float(schema.get("minimum", 1))
        value = min(value, float(schema.get("maximum", value)))
        return math.ceil(value) if kind == "integer" else value
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    text = {"date-time": "2024-01-01T00:00:00Z", "date": "2024-01-01", "email": "user@example.com", "uri": "https://example.com"}.get(
        str(schema.get("format")), "example"
    )
    text = text.ljust(int(schema.get("minLength") or 0), "x")
    return text[: int(schema["maxLength"])] if "maxLength" in schema else text
