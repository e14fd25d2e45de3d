"""JSON Schema → the OpenAPI 3.0 subset Gemini accepts in ``parameters`` (docs/gemini-wire-format.md#schema-cleanup).

OpenAI/MCP tool schemas sent verbatim fail with ``Unknown name "additionalProperties"``
and friends (trap 8, docs/gemini-wire-format.md#traps). The cleanup follows litellm ``build_vertex_schema`` and
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

Some schemas have no counterpart in the subset, and a cleaned copy would let the model
produce arguments the client's own validator rejects. ``clean_schema`` reports what the
cleanup could not keep (``losses``): recursion through ``$ref`` (a tree), tuples
(``prefixItems``), enums and ``const`` on non-strings, exclusive bounds, string formats other
than ``enum``/``date-time`` (email, uuid, date...), and constraint
keywords the subset lacks (``multipleOf``, ``uniqueItems``, ``not``, ``if``...). A free-form
object (a map such as ``{"type": "object", "additionalProperties": {"type": "string"}}``,
pydantic's ``dict[str, str]``) cleans to an OBJECT without properties, which Gemini rejects
(``should be non-empty for OBJECT type``); ``has_open_object`` finds it. In all these cases
the caller sends the real JSON Schema as ``parametersJsonSchema`` instead (``to_json_schema``),
which every Gemini model the API still serves (2.5 and later) accepts: never a lossy copy.
Annotations (``title``, ``examples``, ``$comment``), ``additionalProperties: false`` and
``oneOf`` (sent as ``anyOf``) lose nothing a validator would check on the model's output.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

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
# JSON Schema 2020 numeric exclusive bounds → inclusive bounds (slightly looser: a loss).
EXCLUSIVE_BOUNDS = {"exclusiveMinimum": "minimum", "exclusiveMaximum": "maximum"}
# Constraints on the value that the subset has no keyword for (dropping one is a loss).
LOST_CONSTRAINTS = frozenset({
    "multipleOf", "uniqueItems", "not", "if", "then", "else", "patternProperties", "propertyNames",
    "dependentRequired", "dependentSchemas", "dependencies", "contains", "minContains", "maxContains",
    "unevaluatedProperties", "unevaluatedItems", "additionalItems", "prefixItems",
})  # fmt: skip
# Keys whose values are data, not subschemas (to_json_schema does not look inside them).
DATA_KEYS = frozenset({"enum", "const", "default", "examples", "example"})

Schema = dict[str, Any]


class Cleaned(NamedTuple):
    schema: Schema  # in Gemini's OpenAPI subset
    losses: list[str]  # what the subset could not express; empty when nothing was lost


@dataclass
class _Context:
    defs: Schema
    losses: list[str] = field(default_factory=list)

    def lose(self, what: str) -> None:
        if what not in self.losses:
            self.losses.append(what)


def clean_schema(schema: Mapping[str, Any]) -> Cleaned:
    """A cleaned copy of ``schema`` and what it lost; the input is never modified."""
    schema = copy.deepcopy(schema)
    ctx = _Context({})
    for key in ("definitions", "$defs"):
        if isinstance(schema.get(key), dict):
            ctx.defs.update(schema[key])
    cleaned = _clean(schema, ctx, ())
    return Cleaned(cleaned, ctx.losses)


def to_gemini_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A cleaned copy of ``schema`` (see ``clean_schema`` for what it may lose)."""
    return clean_schema(schema).schema


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


def to_json_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a JSON Schema for ``parametersJsonSchema``/``responseJsonSchema``: ``$schema``
    (a draft URL, not a constraint) and OpenAI's ``strict`` flag are left out. Two spellings
    outside Gemini's documented keywords become equivalent ones: ``const`` a one-value ``enum``,
    and a ``$ref`` with sibling keywords (a ``$ref`` node may hold only ``$`` keys)
    ``{"anyOf": [{"$ref": ...}], <siblings>}``."""
    spelled: dict[str, Any] = _documented_spelling({k: v for k, v in schema.items() if k not in ("$schema", "strict")})
    return spelled


def _documented_spelling(node: Any) -> Any:
    if isinstance(node, list):
        return [_documented_spelling(item) for item in node]
    if not isinstance(node, dict):
        return copy.deepcopy(node)
    out = {k: (copy.deepcopy(v) if k in DATA_KEYS else _documented_spelling(v)) for k, v in node.items()}
    if "const" in out and "enum" not in out:
        out["enum"] = [out.pop("const")]
    siblings = [k for k in out if not k.startswith("$")]
    if isinstance(out.get("$ref"), str) and siblings:
        refs = {k: v for k, v in out.items() if k.startswith("$")}
        return {"anyOf": [refs], **{k: out[k] for k in siblings}}
    return out


def _clean(node: Any, ctx: _Context, seen: tuple[str, ...]) -> Schema:
    """Clean one node; ``seen`` holds the definitions being expanded above it."""
    if not isinstance(node, dict):
        return {"type": "STRING"}  # `true` and other odd schemas: accept text
    while isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        name = ref.rsplit("/", 1)[-1]
        if name in seen or not isinstance(ctx.defs.get(name), dict):
            why = "recursive" if name in seen else "unresolvable"
            if name in seen:  # an unresolvable one is broken for the client's validator too
                ctx.lose(f"recursive reference {ref}")
            return {"type": "STRING", "description": f"({why} reference {ref} omitted)"}
        # Sibling keys (description, default) override the referenced definition.
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        node = {**copy.deepcopy(ctx.defs[name]), **siblings}
        seen = (*seen, name)
    node = _merge_all_of(node)
    branches = _union_branches(node)
    if branches is not None:
        return _clean_union(node, branches, ctx, seen)
    return _clean_plain(node, ctx, seen)


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


def _clean_union(node: Schema, branches: list[Any], ctx: _Context, seen: tuple[str, ...]) -> Schema:
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
        out = _clean(single, ctx, seen)
        if nullable:
            out["nullable"] = True
        return out
    cleaned = [_clean(b, ctx, seen) for b in kept]
    if nullable:
        for branch in cleaned:
            branch["nullable"] = True
    out = {"anyOf": cleaned}
    # An anyOf node may carry only anyOf (+description) on Gemini.
    if isinstance(rest.get("description"), str):
        out["description"] = rest["description"]
    return out


def _clean_plain(node: Schema, ctx: _Context, seen: tuple[str, ...]) -> Schema:
    node = dict(node)
    for source, target in EXCLUSIVE_BOUNDS.items():
        value = node.get(source)
        if value is not None and value is not False:
            ctx.lose(source)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            node.setdefault(target, value)
    for keyword in LOST_CONSTRAINTS & node.keys():
        ctx.lose(keyword)
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if "items" not in node and isinstance(node.get("prefixItems"), list):
        node["items"] = node["prefixItems"]
    out: Schema = {k: v for k, v in node.items() if k in ALLOWED_KEYS}
    out["type"] = _gemini_type(out)
    _clean_enum(out, ctx)
    _clean_format(out, ctx)
    if out["type"] == "OBJECT":
        _clean_object(out, ctx, seen)
    else:
        out.pop("properties", None)
        out.pop("required", None)
    if out["type"] == "ARRAY":
        items = out.get("items")
        if isinstance(items, list):  # tuple form: any of the positions
            ctx.lose("tuple items")
            items = {"anyOf": items} if len(items) > 1 else (items[0] if items else None)
        out["items"] = _clean(items if items is not None else {"type": "string"}, ctx, seen)
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


def _clean_enum(out: Schema, ctx: _Context) -> None:
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
        ctx.lose("enum of non-strings")
        hint = "Allowed values: " + ", ".join(json.dumps(v, ensure_ascii=False) for v in values)
        description = out.get("description")
        out["description"] = f"{description} ({hint})" if isinstance(description, str) and description else hint


def _clean_format(out: Schema, ctx: _Context) -> None:
    fmt = out.get("format")
    if not isinstance(fmt, str) or (out["type"] == "STRING" and fmt not in STRING_FORMATS):
        if isinstance(fmt, str) and out["type"] == "STRING":
            ctx.lose(f"format {fmt}")
        out.pop("format", None)


def _clean_object(out: Schema, ctx: _Context, seen: tuple[str, ...]) -> None:
    props = out.get("properties")
    if not isinstance(props, dict) or not props:
        out.pop("properties", None)
        out.pop("required", None)
        out.pop("propertyOrdering", None)
        return
    out["properties"] = {str(name): _clean(sub, ctx, seen) for name, sub in props.items()}
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
