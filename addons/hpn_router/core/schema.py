"""JSON Schema → the OpenAPI 3.0 subset Gemini accepts in ``parameters`` (wire-formats §3.4).

OpenAI/MCP tool schemas sent verbatim fail with ``Unknown name "additionalProperties"``
and friends (trap §4.8). The cleanup follows litellm ``build_vertex_schema`` and
python-genai ``process_schema``:

- ``$ref`` into ``$defs``/``definitions`` is inlined; a reference back into its own
  expansion (a cycle) becomes a described STRING instead of recursing forever;
- ``type: [X, "null"]`` and ``anyOf/oneOf`` with a ``null`` branch → ``nullable``;
  a single remaining branch is collapsed into the node;
- ``const`` → one-value ``enum``; enums exist only on STRING, so non-string enums
  are removed and their values moved into the description (the tool still
  receives numbers, not strings);
- every node gets a ``type`` (OBJECT with properties, ARRAY with items, STRING
  when nothing says otherwise), arrays get ``items``, objects without
  properties lose the empty ``properties`` (Gemini: "should be non-empty");
- keys outside the accepted subset are dropped, recursively.

One shape has no counterpart in the subset: a free-form object (a map such as
``{"type": "object", "additionalProperties": {"type": "string"}}``, pydantic's
``dict[str, str]``) cleans to an OBJECT without properties, which Gemini rejects
(``should be non-empty for OBJECT type``). ``has_open_object`` finds it, and the
caller then sends the tool's real JSON Schema as ``parametersJsonSchema``
instead (``to_json_schema``), which every Gemini model the API still serves
(2.5 and later) accepts.
"""

from __future__ import annotations

import copy
import json
from typing import Any

ALLOWED_KEYS = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "items",
    "minItems", "maxItems", "properties", "required", "minProperties",
    "maxProperties", "minLength", "maxLength", "pattern", "minimum", "maximum",
    "example", "default", "anyOf", "propertyOrdering",
})  # fmt: skip
# Gemini rejects other string formats (litellm drops them); numeric formats
# such as int32/double are fine.
STRING_FORMATS = frozenset({"enum", "date-time"})
GEMINI_TYPES = frozenset({"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"})
# JSON Schema 2020 numeric exclusive bounds → inclusive bounds (slightly looser).
EXCLUSIVE_BOUNDS = {"exclusiveMinimum": "minimum", "exclusiveMaximum": "maximum"}

Schema = dict[str, Any]


def to_gemini_schema(schema: dict) -> dict:
    """A cleaned copy of ``schema``; the input is never modified."""
    schema = copy.deepcopy(schema)
    defs: Schema = {}
    for key in ("definitions", "$defs"):
        if isinstance(schema.get(key), dict):
            defs.update(schema[key])
    return _clean(schema, defs, ())


def has_open_object(cleaned: Schema) -> bool:
    """True when a nested OBJECT of a cleaned schema has no properties left."""
    stack: list[Any] = [*(cleaned.get("properties") or {}).values(), cleaned.get("items"), *(cleaned.get("anyOf") or [])]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        if node.get("type") == "OBJECT" and not node.get("properties"):
            return True
        stack += [*(node.get("properties") or {}).values(), node.get("items"), *(node.get("anyOf") or [])]
    return False


def to_json_schema(schema: dict) -> dict:
    """A copy of a tool's JSON Schema for ``parametersJsonSchema``: ``$schema`` (a
    draft URL, not a constraint) and OpenAI's ``strict`` flag are left out."""
    return {k: copy.deepcopy(v) for k, v in schema.items() if k not in ("$schema", "strict")}


def _clean(node: Any, defs: Schema, seen: tuple[str, ...]) -> Schema:
    """Clean one node; ``seen`` holds the definitions being expanded above it."""
    if not isinstance(node, dict):
        return {"type": "STRING"}  # `true` and other odd schemas: accept text
    while isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        name = ref.rsplit("/", 1)[-1]
        if name in seen or not isinstance(defs.get(name), dict):
            why = "recursive" if name in seen else "unresolvable"
            return {"type": "STRING", "description": f"({why} reference {ref} omitted)"}
        # Sibling keys (description, default) override the referenced definition.
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        node = {**copy.deepcopy(defs[name]), **siblings}
        seen = (*seen, name)
    node = _merge_all_of(node)
    branches = _union_branches(node)
    if branches is not None:
        return _clean_union(node, branches, defs, seen)
    return _clean_plain(node, defs, seen)


def _merge_all_of(node: Schema) -> Schema:
    parts = node.get("allOf")
    if not isinstance(parts, list):
        return node
    merged: Schema = {}
    rest = {k: v for k, v in node.items() if k != "allOf"}
    for part in [*parts, rest]:
        if not isinstance(part, dict):
            continue
        for key, value in part.items():
            if key == "properties" and isinstance(value, dict):
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                merged["required"] = [*merged.get("required", []), *value]
            else:
                merged[key] = value
    return merged


def _union_branches(node: Schema) -> list[Any] | None:
    for key in ("anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            return list(node[key])
    kind = node.get("type")
    if isinstance(kind, list):
        rest = {k: v for k, v in node.items() if k != "type"}
        return [{**rest, "type": t} for t in kind]
    return None


def _is_null(branch: Any) -> bool:
    return isinstance(branch, dict) and str(branch.get("type", "")).lower() == "null"


def _clean_union(node: Schema, branches: list[Any], defs: Schema, seen: tuple[str, ...]) -> Schema:
    nullable = any(_is_null(b) for b in branches) or node.get("nullable") is True
    kept = [b for b in branches if not _is_null(b)]
    rest = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf", "type")}
    if isinstance(node.get("type"), list):
        # type: ["string", "null"] -> branches already carry the sibling keys.
        rest = {}
    if len(kept) <= 1:
        single = kept[0] if kept else {"type": "STRING"}
        if isinstance(single, dict):
            single = {**rest, **single}  # explicit branch keys win
        out = _clean(single, defs, seen)
        if nullable:
            out["nullable"] = True
        return out
    cleaned = [_clean(b, defs, seen) for b in kept]
    if nullable:
        for branch in cleaned:
            branch["nullable"] = True
    out: Schema = {"anyOf": cleaned}
    # An anyOf node may carry only anyOf (+description) on Gemini.
    if isinstance(rest.get("description"), str):
        out["description"] = rest["description"]
    return out


def _clean_plain(node: Schema, defs: Schema, seen: tuple[str, ...]) -> Schema:
    node = dict(node)
    for source, target in EXCLUSIVE_BOUNDS.items():
        value = node.get(source)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            node.setdefault(target, value)
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if "items" not in node and isinstance(node.get("prefixItems"), list):
        node["items"] = node["prefixItems"]
    out: Schema = {k: v for k, v in node.items() if k in ALLOWED_KEYS}
    out["type"] = _gemini_type(out)
    _clean_enum(out)
    _clean_format(out)
    if out["type"] == "OBJECT":
        _clean_object(out, defs, seen)
    else:
        out.pop("properties", None)
        out.pop("required", None)
    if out["type"] == "ARRAY":
        items = out.get("items")
        if isinstance(items, list):  # tuple form: any of the positions
            items = {"anyOf": items} if len(items) > 1 else (items[0] if items else None)
        out["items"] = _clean(items if items is not None else {"type": "string"}, defs, seen)
    else:
        out.pop("items", None)
    return out


def _gemini_type(node: Schema) -> str:
    kind = node.get("type")
    if isinstance(kind, str) and kind.upper() in GEMINI_TYPES:
        return kind.upper()
    if "properties" in node:
        return "OBJECT"
    if "items" in node:
        return "ARRAY"
    return "STRING"


def _clean_enum(out: Schema) -> None:
    values = out.pop("enum", None)
    if not isinstance(values, list):
        return
    if None in values:
        out["nullable"] = True
        values = [v for v in values if v is not None]
    if values and all(isinstance(v, str) for v in values) and out["type"] == "STRING":
        out["enum"] = values
        return
    if values:
        # Enums are STRING-only on Gemini; keep the constraint as a hint instead.
        hint = "Allowed values: " + ", ".join(json.dumps(v, ensure_ascii=False) for v in values)
        description = out.get("description")
        out["description"] = f"{description} ({hint})" if isinstance(description, str) and description else hint


def _clean_format(out: Schema) -> None:
    fmt = out.get("format")
    if not isinstance(fmt, str) or (out["type"] == "STRING" and fmt not in STRING_FORMATS):
        out.pop("format", None)


def _clean_object(out: Schema, defs: Schema, seen: tuple[str, ...]) -> None:
    props = out.get("properties")
    if not isinstance(props, dict) or not props:
        out.pop("properties", None)
        out.pop("required", None)
        out.pop("propertyOrdering", None)
        return
    out["properties"] = {str(name): _clean(sub, defs, seen) for name, sub in props.items()}
    required = out.get("required")
    if isinstance(required, list):
        # Gemini rejects required names that are not declared properties.
        names = [r for r in dict.fromkeys(required) if isinstance(r, str) and r in props]
        if names:
            out["required"] = names
        else:
            out.pop("required")
    else:
        out.pop("required", None)
