"""The JSON -> proto layer: names, normalisation, violations; and schema example values."""

from __future__ import annotations

from gemini_emulator.protos import example_value, parse


def test_snake_case_is_normalised_to_lower_camel() -> None:
    body = {
        "contents": [{"parts": [{"inline_data": {"mime_type": "image/png", "data": "AAAA"}}]}],
        "generation_config": {"max_output_tokens": "12", "temperature": "0.5", "response_mime_type": "text/plain"},
    }
    request, violations = parse(body, "GenerateContentRequest")
    assert violations == []
    assert request["contents"][0]["parts"][0] == {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}
    assert request["generationConfig"] == {"maxOutputTokens": 12, "temperature": 0.5, "responseMimeType": "text/plain"}


def test_nulls_are_absent_and_type_is_case_insensitive() -> None:
    body = {
        "contents": None,
        "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "string"}}}}]}],
    }
    request, violations = parse(body, "GenerateContentRequest")
    assert violations == [] and "contents" not in request
    assert request["tools"][0]["functionDeclarations"][0]["parameters"]["type"] == "OBJECT"


def test_every_violation_is_reported() -> None:
    body = {
        "bogus": 1,
        "contents": [{"role": "user", "parts": [{"text": 5, "colour": "red"}]}],
        "generationConfig": {"candidateCount": 1.5, "topK": {"a": 1}},
    }
    _, violations = parse(body, "GenerateContentRequest")
    assert violations == [
        (None, 'Invalid JSON payload received. Unknown name "bogus": Cannot find field.'),
        ("contents[0].parts[0].text", "Invalid value at 'contents[0].parts[0].text' (TYPE_STRING), 5"),
        ("contents[0].parts[0]", "Invalid JSON payload received. Unknown name \"colour\" at 'contents[0].parts[0]': Cannot find field."),
        ("generation_config.candidate_count", "Invalid value at 'generation_config.candidate_count' (TYPE_INT32), 1.5"),
        (
            "generation_config",
            "Invalid JSON payload received. Unknown name \"topK\" at 'generation_config': Starting an object on a scalar field",
        ),
    ]


def test_root_must_be_an_object() -> None:
    assert parse([1], "GenerateContentRequest")[1] == [(None, "Invalid JSON payload received. Root element must be a message.")]


def test_example_values_for_gemini_and_json_schemas() -> None:
    gemini = {"type": "OBJECT", "properties": {"a": {"type": "STRING"}, "b": {"type": "NUMBER", "maximum": 0.5}}, "required": ["b"]}
    assert example_value(gemini, gemini, fill_all=False) == {"b": 0.5}
    assert example_value(gemini, gemini, fill_all=True) == {"a": "example", "b": 0.5}
    nested = {
        "type": "object",
        "properties": {"node": {"$ref": "#/$defs/Node"}},
        "required": ["node"],
        "$defs": {"Node": {"type": ["object", "null"], "properties": {"next": {"$ref": "#/$defs/Node"}}, "required": ["next"]}},
    }
    value = example_value(nested, nested, fill_all=False)  # a recursive schema still ends
    assert isinstance(value, dict) and "node" in value
    assert example_value({"anyOf": [{"type": "null"}, {"const": 7}]}, {}, fill_all=False) == 7
    assert example_value({"type": "array", "items": {"type": "boolean"}, "minItems": 2}, {}, fill_all=False) == [True, True]


def test_example_values_end_a_recursive_tree_validly_and_fill_tuples() -> None:
    tree = {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"label": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
                "required": ["label", "children"],
            }
        },
        "$ref": "#/$defs/Node",
    }
    for fill_all in (False, True):
        node, depth = example_value(tree, tree, fill_all=fill_all), 0
        while node["children"]:  # every node is a whole Node; the leaves have no children
            (node,), depth = node["children"], depth + 1
        assert node == {"label": "example", "children": []} and depth >= 1
    pair = {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "minItems": 2, "maxItems": 2}
    assert example_value(pair, pair, fill_all=False) == [1, "example"]
