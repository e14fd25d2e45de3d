"""to_gemini_schema: JSON Schema -> Gemini's OpenAPI subset (trap 8, docs/gemini-wire-format.md#traps)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hpn_router.core.providers.gemini.schema import ALLOWED_KEYS, clean_schema, has_open_object, to_gemini_schema, to_json_schema

# Keys Gemini rejects with 'Unknown name "X" ... Cannot find field'.
REJECTED = {
    "$schema",
    "$id",
    "$ref",
    "$defs",
    "definitions",
    "additionalProperties",
    "const",
    "oneOf",
    "allOf",
    "not",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "propertyNames",
    "patternProperties",
    "uniqueItems",
    "examples",
    "if",
    "then",
    "else",
    "strict",
    "prefixItems",
}


def walk(node: Any) -> list[dict]:
    """Every schema node (not property-name maps)."""
    if not isinstance(node, dict):
        return []
    nodes = [node]
    for name in node.get("properties", {}):
        nodes += walk(node["properties"][name])
    nodes += walk(node.get("items"))
    for branch in node.get("anyOf", []):
        nodes += walk(branch)
    return nodes


def assert_gemini_valid(schema: dict) -> None:
    for node in walk(schema):
        assert set(node) <= ALLOWED_KEYS, node
        assert not set(node) & REJECTED
        if "anyOf" in node:
            assert set(node) <= {"anyOf", "description"}, node
            continue
        assert node["type"] in {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}, node
        if "enum" in node:
            assert node["type"] == "STRING" and all(isinstance(v, str) for v in node["enum"])
        if node["type"] == "ARRAY":
            assert "items" in node
        if "properties" in node:
            assert node["properties"], "empty properties are rejected"
            assert set(node.get("required", [])) <= set(node["properties"])
        if node["type"] == "STRING" and "format" in node:
            assert node["format"] in {"enum", "date-time"}


def test_openai_strict_schema() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "strict": True,
        "properties": {
            "name": {"type": "string", "format": "email", "pattern": "^.+$"},
            "when": {"type": "string", "format": "date-time"},
            "n": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10, "multipleOf": 2, "format": "int32"},
            "list": {
                "type": "array",
                "items": {"type": "object", "properties": {"x": {"type": "number"}}, "additionalProperties": False, "required": ["x"]},
                "uniqueItems": True,
            },
        },
        "required": ["name", "when", "n", "list"],
    }
    out = to_gemini_schema(schema)
    assert_gemini_valid(out)
    assert out == {
        "type": "OBJECT",
        "properties": {
            "name": {"type": "STRING", "pattern": "^.+$"},
            "when": {"type": "STRING", "format": "date-time"},
            "n": {"type": "INTEGER", "format": "int32", "minimum": 0, "maximum": 10},
            "list": {"type": "ARRAY", "items": {"type": "OBJECT", "properties": {"x": {"type": "NUMBER"}}, "required": ["x"]}},
        },
        "required": ["name", "when", "n", "list"],
    }


def test_input_not_modified() -> None:
    schema = {"type": "object", "$defs": {"A": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/A"}}}
    original = copy.deepcopy(schema)
    to_gemini_schema(schema)
    assert schema == original


def test_ref_inlining_with_sibling_override_and_definitions() -> None:
    schema = {
        "type": "object",
        "definitions": {
            "Pet": {"type": "object", "description": "A pet", "properties": {"kind": {"$ref": "#/definitions/Kind"}}},
            "Kind": {"enum": ["cat", "dog"]},
        },
        "properties": {"pet": {"$ref": "#/definitions/Pet", "description": "Your pet"}},
    }
    out = to_gemini_schema(schema)
    assert out["properties"]["pet"] == {
        "type": "OBJECT",
        "description": "Your pet",
        "properties": {"kind": {"type": "STRING", "enum": ["cat", "dog"]}},
    }
    assert_gemini_valid(out)


def test_ref_cycle_is_cut() -> None:
    schema = {
        "$defs": {
            "A": {"type": "object", "properties": {"b": {"$ref": "#/$defs/B"}}},
            "B": {"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}, "v": {"type": "integer"}}},
        },
        "$ref": "#/$defs/A",
    }
    out = to_gemini_schema(schema)
    assert_gemini_valid(out)
    inner = out["properties"]["b"]["properties"]
    assert inner["v"] == {"type": "INTEGER"}
    assert inner["a"]["type"] == "STRING" and "recursive" in inner["a"]["description"]


def test_same_definition_used_twice_is_not_a_cycle() -> None:
    schema = {
        "type": "object",
        "$defs": {"P": {"type": "object", "properties": {"x": {"type": "number"}}}},
        "properties": {"from": {"$ref": "#/$defs/P"}, "to": {"$ref": "#/$defs/P"}},
    }
    out = to_gemini_schema(schema)
    assert out["properties"]["from"] == out["properties"]["to"] == {"type": "OBJECT", "properties": {"x": {"type": "NUMBER"}}}


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"type": ["string", "null"]}, {"type": "STRING", "nullable": True}),
        ({"type": ["null", "integer"], "description": "d"}, {"type": "INTEGER", "description": "d", "nullable": True}),
        ({"anyOf": [{"type": "string"}, {"type": "null"}], "description": "d"}, {"type": "STRING", "description": "d", "nullable": True}),
        ({"oneOf": [{"type": "null"}, {"$ref": "#/$defs/S"}]}, {"type": "STRING", "enum": ["x"], "nullable": True}),
        (
            {"anyOf": [{"type": "string"}, {"type": "integer"}], "title": "t", "description": "d"},
            {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}], "description": "d"},
        ),
        (
            {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]},
            {"anyOf": [{"type": "STRING", "nullable": True}, {"type": "INTEGER", "nullable": True}]},
        ),
        ({"type": ["string", "number"]}, {"anyOf": [{"type": "STRING"}, {"type": "NUMBER"}]}),
        ({"anyOf": [{"type": "null"}]}, {"type": "STRING", "nullable": True}),
    ],
)
def test_nullable_unions(node: dict, expected: dict) -> None:
    schema = {"type": "object", "$defs": {"S": {"const": "x"}}, "properties": {"f": node}}
    out = to_gemini_schema(schema)
    assert out["properties"]["f"] == expected
    assert_gemini_valid(out)


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"type": "string", "enum": ["a", "b"]}, {"type": "STRING", "enum": ["a", "b"]}),
        ({"enum": ["a", "b"]}, {"type": "STRING", "enum": ["a", "b"]}),
        ({"const": "only"}, {"type": "STRING", "enum": ["only"]}),
        ({"type": "integer", "enum": [1, 2, 3]}, {"type": "INTEGER", "description": "Allowed values: 1, 2, 3"}),
        ({"type": "integer", "enum": [1, 2], "description": "Level"}, {"type": "INTEGER", "description": "Level (Allowed values: 1, 2)"}),
        ({"type": "number", "const": 1.5}, {"type": "NUMBER", "description": "Allowed values: 1.5"}),
        ({"type": "boolean", "const": True}, {"type": "BOOLEAN", "description": "Allowed values: true"}),
        ({"enum": ["a", None]}, {"type": "STRING", "enum": ["a"], "nullable": True}),
        ({"enum": ["a", 1]}, {"type": "STRING", "description": 'Allowed values: "a", 1'}),
    ],
)
def test_enums(node: dict, expected: dict) -> None:
    out = to_gemini_schema({"type": "object", "properties": {"f": node}})
    assert out["properties"]["f"] == expected
    assert_gemini_valid(out)


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"type": "array"}, {"type": "ARRAY", "items": {"type": "STRING"}}),
        ({"type": "array", "items": {}}, {"type": "ARRAY", "items": {"type": "STRING"}}),
        ({"items": {"type": "integer"}}, {"type": "ARRAY", "items": {"type": "INTEGER"}}),
        (
            {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
            {"type": "ARRAY", "items": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]}},
        ),
        ({"type": "object"}, {"type": "OBJECT"}),
        ({"type": "object", "properties": {}, "required": []}, {"type": "OBJECT"}),
        ({"type": "object", "additionalProperties": {"type": "string"}}, {"type": "OBJECT"}),
        (
            {"properties": {"a": {"type": "string"}}, "required": ["a", "zz"]},
            {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}, "required": ["a"]},
        ),
        ({}, {"type": "STRING"}),
        ({"description": "anything"}, {"type": "STRING", "description": "anything"}),
        ({"type": "STRING", "minLength": 2}, {"type": "STRING", "minLength": 2}),
        ({"type": "string", "items": {"type": "string"}, "properties": {"a": {}}}, {"type": "STRING"}),
    ],
)
def test_types_items_and_empty_objects(node: dict, expected: dict) -> None:
    out = to_gemini_schema({"type": "object", "properties": {"f": node}})
    assert out["properties"]["f"] == expected
    assert_gemini_valid(out)


def test_all_of_is_merged() -> None:
    node = {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
        ],
        "description": "both",
    }
    out = to_gemini_schema(node)
    assert out == {
        "type": "OBJECT",
        "description": "both",
        "properties": {"a": {"type": "STRING"}, "b": {"type": "INTEGER"}},
        "required": ["a", "b"],
    }


def test_kept_keywords_survive() -> None:
    node = {
        "type": "object",
        "title": "T",
        "description": "D",
        "minProperties": 1,
        "maxProperties": 3,
        "propertyOrdering": ["a"],
        "properties": {
            "a": {
                "type": "array",
                "minItems": 1,
                "maxItems": 2,
                "items": {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "x", "example": "xx", "default": "x"},
            }
        },
    }
    assert to_gemini_schema(node) == {
        **node,
        "type": "OBJECT",
        "properties": {"a": {**node["properties"]["a"], "type": "ARRAY", "items": {**node["properties"]["a"]["items"], "type": "STRING"}}},
    }


def test_mcp_style_schema_is_fully_cleaned() -> None:
    schema = json.loads("""{
      "type": "object", "$schema": "http://json-schema.org/draft-07/schema#", "additionalProperties": false,
      "properties": {
        "path": {"type": "string", "description": "File path"},
        "mode": {"type": "string", "enum": ["r", "w"], "default": "r"},
        "options": {"type": "object", "properties": {
            "encoding": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null},
            "lines": {"type": ["array", "null"], "items": {"type": "integer", "minimum": 1}}},
          "additionalProperties": false},
        "tags": {"type": "array", "items": {"not": {"const": ""}}},
        "retries": {"type": "integer", "enum": [0, 1, 2]},
        "match": {"if": {"type": "string"}, "then": {"minLength": 1}, "patternProperties": {"^x": {}}}
      },
      "required": ["path"]
    }""")
    out = to_gemini_schema(schema)
    assert_gemini_valid(out)
    assert out["properties"]["options"]["properties"]["lines"] == {
        "type": "ARRAY",
        "items": {"type": "INTEGER", "minimum": 1},
        "nullable": True,
    }


@pytest.mark.parametrize(
    "schema,expected",
    [
        ({"type": "object", "properties": {"a": {"type": "string"}}}, False),
        ({"type": "object"}, False),  # the root: a no-argument tool, handled by the caller
        ({"type": "object", "properties": {"m": {"type": "object", "additionalProperties": {"type": "string"}}}}, True),
        ({"type": "object", "properties": {"l": {"type": "array", "items": {"type": "object"}}}}, True),
        ({"type": "object", "properties": {"u": {"anyOf": [{"type": "string"}, {"type": "object"}]}}}, True),
        ({"type": "object", "properties": {"n": {"type": "object", "properties": {"x": {"type": "object", "properties": {}}}}}}, True),
    ],
)
def test_has_open_object_finds_free_form_maps_below_the_root(schema: dict, expected: bool) -> None:
    assert has_open_object(to_gemini_schema(schema)) is expected


def test_to_json_schema_keeps_the_schema_but_its_draft_url_and_strict() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "strict": True,
        "type": "object",
        "$defs": {"A": {"type": "string"}},
        "properties": {"a": {"$ref": "#/$defs/A"}},
        "additionalProperties": False,
    }
    out = to_json_schema(schema)
    assert out == {k: v for k, v in schema.items() if k not in ("$schema", "strict")}
    out["properties"]["a"]["$ref"] = "changed"
    assert schema["properties"]["a"]["$ref"] == "#/$defs/A"


TREE = {
    "$defs": {
        "Node": {
            "type": "object",
            "properties": {"label": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
            "required": ["label", "children"],
        }
    },
    "$ref": "#/$defs/Node",
}


@pytest.mark.parametrize(
    ("schema", "losses"),
    [
        (TREE, ["recursive reference #/$defs/Node"]),
        ({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]}, ["prefixItems", "tuple items"]),
        ({"type": "array", "items": [{"type": "integer"}, {"type": "string"}]}, ["tuple items"]),
        ({"type": "integer", "enum": [1, 2]}, ["enum of non-strings"]),
        ({"const": 2}, ["enum of non-strings"]),
        ({"type": "number", "exclusiveMinimum": 0}, ["exclusiveMinimum"]),
        ({"type": "number", "minimum": 0, "exclusiveMinimum": True}, ["exclusiveMinimum"]),  # draft-04 spelling
        ({"type": "string", "format": "email"}, ["format email"]),
        ({"type": "integer", "multipleOf": 5}, ["multipleOf"]),
        ({"type": "array", "items": {"type": "string"}, "uniqueItems": True}, ["uniqueItems"]),
        ({"type": "object", "properties": {"a": {"type": "string"}}, "patternProperties": {"^x": {}}}, ["patternProperties"]),
        ({"type": "string", "not": {"enum": ["x"]}}, ["not"]),
    ],
)
def test_clean_schema_names_what_the_subset_cannot_express(schema: dict, losses: list[str]) -> None:
    wrapped = {"type": "object", "properties": {"f": schema}, "$defs": schema.get("$defs", {})}
    assert clean_schema(wrapped).losses == losses


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "format": "date-time", "minLength": 1, "pattern": "^2"},
        {"type": "integer", "format": "int32", "minimum": 1, "maximum": 5},
        {"type": "string", "enum": ["a", "b", None]},
        {"const": "fixed"},
        {"type": ["string", "null"], "title": "T", "examples": ["x"], "$comment": "c"},
        {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False},
        {"$ref": "#/$defs/Missing"},  # broken for the client too: a described STRING, as before
        {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}}, {"required": ["a"]}]},
    ],
)
def test_clean_schema_loses_nothing_a_validator_checks_on_ordinary_schemas(schema: dict) -> None:
    assert clean_schema({"type": "object", "properties": {"f": schema}}).losses == []


def test_clean_schema_reports_only_reachable_definitions() -> None:
    schema = {"type": "object", "$defs": {"Unused": {"type": "integer", "multipleOf": 2}}, "properties": {"a": {"type": "string"}}}
    assert clean_schema(schema).losses == []


def test_to_json_schema_spells_ref_siblings_and_const_with_documented_keywords() -> None:
    schema = {
        "type": "object",
        "$defs": {"Node": TREE["$defs"]["Node"]},
        "properties": {
            "root": {"$ref": "#/$defs/Node", "description": "The root"},
            "kind": {"const": "tree", "description": "Always tree"},
            "plain": {"$ref": "#/$defs/Node"},
            "data": {"type": "object", "properties": {"$ref": {"type": "string"}}, "default": {"$ref": "not a schema", "x": 1}},
        },
    }
    out = to_json_schema(schema)
    assert out["properties"]["root"] == {"anyOf": [{"$ref": "#/$defs/Node"}], "description": "The root"}
    assert out["properties"]["kind"] == {"enum": ["tree"], "description": "Always tree"}
    assert out["properties"]["plain"] == {"$ref": "#/$defs/Node"}
    assert out["properties"]["data"] == schema["properties"]["data"]  # a property named $ref, and data, untouched
    assert out["$defs"] == schema["$defs"]
