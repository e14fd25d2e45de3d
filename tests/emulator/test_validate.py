"""Strict request validation: Google's 400 wording for every rule the translator must respect."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from gemini_emulator import validate
from gemini_emulator.answers import make_signature
from gemini_emulator.errors import GoogleError
from gemini_emulator.scenario import BUILTIN_MODELS
from gemini_emulator.validate import ValidationContext, validate_count_tokens, validate_embed, validate_generate

INFO = {m.id: m for m in BUILTIN_MODELS}
USER = {"role": "user", "parts": [{"text": "hi"}]}
PARAMS_AT = "tools[0].function_declarations[0].parameters"


def ctx(model: str = "gemini-2.5-flash", scope: str = "all") -> ValidationContext:
    return ValidationContext(model, INFO[model], model.startswith("gemini-3"), scope)


def request(**extra: Any) -> dict[str, Any]:
    return {"contents": [USER], **extra}


def with_params(parameters: Any) -> dict[str, Any]:
    return request(tools=[{"functionDeclarations": [{"name": "f", "parameters": parameters}]}])


def check(body: Any, model: str = "gemini-2.5-flash", scope: str = "all") -> GoogleError:
    error = validate_generate(body, ctx(model, scope))
    assert error is not None, "expected a 400"
    return error


def call_turn(*names: str, signature: str | None = None) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"functionCall": {"name": n, "args": {}}} for n in names]
    if signature:
        parts[0]["thoughtSignature"] = signature
    return {"role": "model", "parts": parts}


def response_turn(*names: str) -> dict[str, Any]:
    return {"role": "user", "parts": [{"functionResponse": {"name": n, "response": {"ok": True}}} for n in names]}


def test_valid_request_in_camel_and_snake_case() -> None:
    assert validate_generate(request(generationConfig={"maxOutputTokens": 5}), ctx()) is None
    body = {
        "contents": [USER],
        "system_instruction": {"parts": [{"text": "be terse"}]},
        "generation_config": {"max_output_tokens": "5", "thinking_config": {"thinking_budget": 0}},
    }
    assert validate_generate(body, ctx()) is None


def test_unknown_top_level_field() -> None:
    error = check(request(foo=1))
    assert error.message == 'Invalid JSON payload received. Unknown name "foo": Cannot find field.'
    assert error.body["error"]["details"][0]["fieldViolations"] == [{"description": error.message}]


@pytest.mark.parametrize(
    "keyword",
    ["additionalProperties", "$ref", "$defs", "$schema", "const", "oneOf", "allOf", "exclusiveMinimum", "strict", "examples", "not"],
)
def test_rejected_schema_keywords(keyword: str) -> None:
    error = check(with_params({"type": "OBJECT", "properties": {"a": {"type": "STRING"}}, keyword: {}}))
    text = f"Invalid JSON payload received. Unknown name \"{keyword}\" at '{PARAMS_AT}': Cannot find field."
    assert error.status == 400 and error.message == text
    assert error.body["error"]["details"][0] == {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [{"field": PARAMS_AT, "description": text}],
    }


def test_nested_keyword_path_uses_map_entry_index() -> None:
    params = {
        "type": "OBJECT",
        "properties": {
            "a": {"type": "STRING"},
            "b": {"type": "OBJECT", "properties": {"c": {"type": "STRING"}}, "additional_properties": False},
        },
    }
    assert f"at '{PARAMS_AT}.properties[1].value'" in check(with_params(params)).message


def test_type_as_array() -> None:
    error = check(with_params({"type": "OBJECT", "properties": {"a": {"type": ["string", "null"]}}}))
    assert error.message == (
        f'Invalid JSON payload received. Unknown name "type" at \'{PARAMS_AT}.properties[0]'
        ".value': Proto field is not repeating, cannot start list."
    )


@pytest.mark.parametrize(
    ("params", "line"),
    [
        (
            {"type": "OBJECT", "properties": {"n": {"type": "INTEGER", "enum": ["1", "2"]}}},
            "properties[n].enum: only allowed for STRING type",
        ),
        ({"type": "OBJECT", "properties": {}}, "properties: should be non-empty for OBJECT type"),
        ({"type": "OBJECT", "properties": {"l": {"type": "ARRAY"}}}, "properties[l].items: missing field."),
        (
            {"type": "OBJECT", "properties": {"x": {"description": "no type"}}},
            "properties[x].type: must be specified when not using one_of or any_of",
        ),
        (
            {"type": "OBJECT", "properties": {"u": {"type": "STRING", "format": "uri"}}},
            "properties[u].format: only 'enum' and 'date-time' are supported for STRING type",
        ),
    ],
)
def test_semantic_schema_rules(params: dict[str, Any], line: str) -> None:
    error = check(with_params(params))
    assert error.message == f"* GenerateContentRequest.{PARAMS_AT}.{line}\n"
    assert "details" not in error.body["error"]


def test_type_in_any_case_and_anyof_are_accepted() -> None:
    params = {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}, "required": ["a"]}
    assert validate_generate(with_params(params), ctx()) is None


def test_parameters_json_schema_takes_real_json_schema_but_not_both() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/A"}},
        "$defs": {"A": {"type": "string"}},
        "additionalProperties": False,
    }
    declaration = {"name": "f", "parametersJsonSchema": schema}
    assert validate_generate(request(tools=[{"functionDeclarations": [declaration]}]), ctx()) is None
    declaration["parameters"] = {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}
    assert "must not both be set" in check(request(tools=[{"functionDeclarations": [declaration]}])).message


@pytest.mark.parametrize("name", ["1abc", "has space", "x" * 65, ""])
def test_function_name_rules(name: str) -> None:
    body = request(tools=[{"functionDeclarations": [{"name": name}]}])
    assert "Invalid function name. Must start with a letter or an underscore." in check(body).message


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({}, "* GenerateContentRequest.contents: contents is not specified\n"),
        ({"contents": []}, "* GenerateContentRequest.contents: contents is not specified\n"),
        ({"contents": [{"role": "user", "parts": []}]}, "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n"),
        ({"contents": [{"role": "system", "parts": [{"text": "x"}]}]}, "Please use a valid role: user, model."),
        ({"contents": [{"role": "function", "parts": [{"text": "x"}]}]}, "Please use a valid role: user, model."),
        ({"contents": [{"role": "user", "parts": [{"text": ""}]}]}, validate.EMPTY_TEXT),
        (
            {"contents": [{"role": "user", "parts": [{"thought": True}]}]},
            "* GenerateContentRequest.contents[0].parts[0].data: required oneof field 'data' must have one initialized field\n",
        ),
        (
            {"contents": [USER], "systemInstruction": {"parts": []}},
            "* GenerateContentRequest.system_instruction.parts: contents.parts must not be empty.\n",
        ),
    ],
)
def test_content_rules(body: dict[str, Any], text: str) -> None:
    assert check(body).message == text


def test_two_data_fields_in_one_part() -> None:
    part = {"text": "a", "inlineData": {"mimeType": "image/png", "data": "AAAA"}}
    error = check({"contents": [{"role": "user", "parts": [part]}]})
    assert "oneof field 'data' is already set. Cannot set 'inlineData'" in error.message


def test_inline_data_must_be_raw_base64() -> None:
    part = {"inlineData": {"mimeType": "image/png", "data": "data:image/png;base64,iVBORw0KGgo="}}
    error = check({"contents": [{"role": "user", "parts": [part]}]})
    assert error.message == (
        "Invalid value at 'contents[0].parts[0].inline_data.data' (TYPE_BYTES), Base64 decoding "
        'failed for "data:image/png;base64,iVBORw0KGgo="'
    )
    part["inlineData"]["data"] = "iVBORw0KGgo="
    assert validate_generate({"contents": [{"role": "user", "parts": [part]}]}, ctx()) is None


def test_function_response_must_be_an_object() -> None:
    turns = [USER, call_turn("f"), {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": "x"}}]}]
    assert '(type.googleapis.com/google.protobuf.Struct), "x"' in check({"contents": turns}).message


def test_wrong_json_types() -> None:
    assert check(request(generationConfig={"temperature": "hot"})).message == (
        "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), \"hot\""
    )
    error = check(request(toolConfig={"functionCallingConfig": {"mode": "SOMETIMES"}}))
    assert '(type.googleapis.com/google.ai.generativelanguage.v1beta.Mode), "SOMETIMES"' in error.message


def test_allowed_function_names_need_any() -> None:
    tools = [{"functionDeclarations": [{"name": "f"}]}]
    config = {"functionCallingConfig": {"mode": "AUTO", "allowedFunctionNames": ["f"]}}
    assert "allowed_function_names" in check(request(tools=tools, toolConfig=config)).message
    config["functionCallingConfig"]["mode"] = "ANY"
    assert validate_generate(request(tools=tools, toolConfig=config), ctx()) is None


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"temperature": 2.5}, "temperature value of 2.5 but the supported range is from 0 (inclusive) to 2.0001"),
        ({"candidateCount": 9}, "candidateCount value of 9"),
        ({"maxOutputTokens": 70000}, "maxOutputTokens value of 70000"),
        ({"stopSequences": ["a", "b", "c", "d", "e", "f"]}, "at most 5 stop sequences"),
        ({"responseMimeType": "text/html"}, "allowed mimetypes are `text/plain`, `application/json`"),
        ({"responseMimeType": "application/json", "responseSchema": {"type": "STRING"}, "responseJsonSchema": {}}, "must not both be set"),
        ({"responseSchema": {"type": "STRING"}}, "when response_schema is set"),
        ({"responseJsonSchema": {"type": "string"}, "responseMimeType": "text/plain"}, "when response_json_schema is set"),
        (
            {"thinkingConfig": {"thinkingBudget": 100, "thinkingLevel": "LOW"}},
            "You can only set only one of thinking budget and thinking level.",
        ),
        ({"thinkingConfig": {"thinkingLevel": "LOW"}}, "Thinking level is not supported for this model."),
        ({"thinkingConfig": {"thinkingBudget": 30000}}, "The thinking budget 30000 is invalid."),
        ({"presencePenalty": 3}, "presencePenalty value of 3"),
    ],
)
def test_generation_config_rules(config: dict[str, Any], fragment: str) -> None:
    assert fragment in check(request(generationConfig=config)).message


def test_thinking_rules_per_model() -> None:
    assert "Budget 0 is invalid" in check(request(generationConfig={"thinkingConfig": {"thinkingBudget": 0}}), "gemini-2.5-pro").message
    level = request(generationConfig={"thinkingConfig": {"thinkingLevel": "MINIMAL"}})
    assert validate_generate(level, ctx("gemini-3-flash-preview")) is None
    assert "Thinking level MINIMAL" in check(level, "gemini-3.1-pro-preview").message
    budget = request(generationConfig={"thinkingConfig": {"thinkingBudget": 1024}})
    assert validate_generate(budget, ctx("gemini-3-flash-preview")) is None


def test_penalties_are_rejected_in_gemini3_mode_only() -> None:
    body = request(generationConfig={"presencePenalty": 0.5, "frequencyPenalty": 0.5})
    assert validate_generate(body, ctx()) is None
    assert check(body, "gemini-3-flash-preview").message == ("Presence penalty is not enabled for models/gemini-3-flash-preview")


def test_safety_settings() -> None:
    ok = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    assert validate_generate(request(safetySettings=ok), ctx()) is None
    palm = [{"category": "HARM_CATEGORY_DEROGATORY", "threshold": "BLOCK_NONE"}]
    assert "element predicate failed: $.category in (" in check(request(safetySettings=palm)).message
    bad = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_SOME"}]
    assert 'HarmBlockThreshold), "BLOCK_SOME"' in check(request(safetySettings=bad)).message


def test_cached_content_is_never_found() -> None:
    error = check(request(cachedContent="cachedContents/abc123"))
    assert (error.status, error.message) == (403, "CachedContent not found (or permission denied)")


@pytest.mark.parametrize(
    ("contents", "text"),
    [
        ([call_turn("f"), response_turn("f")], validate.CALL_AFTER),
        ([USER, {"role": "model", "parts": [{"text": "ok"}]}, call_turn("f"), response_turn("f")], validate.CALL_AFTER),
        ([USER, call_turn("f", "g"), response_turn("f")], validate.RESPONSE_COUNT),
        ([USER, call_turn("f"), USER], validate.RESPONSE_COUNT),
        ([USER, response_turn("f")], validate.RESPONSE_AFTER),
    ],
)
def test_function_turn_rules(contents: list[dict[str, Any]], text: str) -> None:
    assert check({"contents": contents}).message == text


def test_valid_tool_loop_on_gemini_2_5_needs_no_signature() -> None:
    body = {"contents": [USER, call_turn("f", "g"), response_turn("f", "g")]}
    assert validate_generate(body, ctx()) is None


def test_gemini3_requires_our_signature_on_first_call() -> None:
    unsigned = {"contents": [USER, call_turn("get_weather"), response_turn("get_weather")]}
    assert check(unsigned, "gemini-3-flash-preview").message == validate.MISSING_SIGNATURE.format(name="get_weather", position=1)
    assert "`default_api:get_weather` , position 1. Please refer to" in validate.MISSING_SIGNATURE.format(name="get_weather", position=1)
    for signature in (make_signature("anything"), base64.b64encode(b"skip_thought_signature_validator").decode()):
        signed = {"contents": [USER, call_turn("a", "b", signature=signature), response_turn("a", "b")]}
        assert validate_generate(signed, ctx("gemini-3-flash-preview")) is None
    forged = {"contents": [USER, call_turn("a", signature="Zm9yZ2Vk"), response_turn("a")]}
    assert check(forged, "gemini-3-flash-preview").message == "Corrupted thought signature."


def test_signature_scope_current_only_checks_the_current_turn() -> None:
    old = [USER, call_turn("a"), response_turn("a"), {"role": "model", "parts": [{"text": "done"}]}]
    body = {"contents": [*old, USER, call_turn("b", signature=make_signature("x")), response_turn("b")]}
    assert validate_generate(body, ctx("gemini-3-flash-preview", "current")) is None
    assert check(body, "gemini-3-flash-preview", "all").message.startswith("Function call is missing")


def test_count_tokens_request_forms() -> None:
    assert validate_count_tokens({"contents": [USER]}, ctx()) is None
    inner: dict[str, Any] = {"generateContentRequest": {"contents": [USER]}}
    assert "unexpected model name format" in (validate_count_tokens(inner, ctx()) or GoogleError(0, {})).message
    inner["generateContentRequest"]["model"] = "models/gemini-2.5-flash"
    assert validate_count_tokens(inner, ctx()) is None


def test_embed_rules() -> None:
    one = {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "x"}]}}
    assert validate_embed(one, "gemini-embedding-001", batch=False) is None
    assert validate_embed({**one, "outputDimensionality": 64}, "gemini-embedding-001", batch=False) is not None
    too_many = validate_embed({"requests": [one] * 101}, "gemini-embedding-001", batch=True)
    assert too_many is not None and too_many.message == ("BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch")
    other = {**one, "model": "models/other"}
    mismatch = validate_embed({"requests": [one, other]}, "gemini-embedding-001", batch=True)
    assert mismatch is not None and "requests[1].model" in mismatch.message


def test_logprobs_are_refused_where_the_model_does_not_enable_them() -> None:
    error = check(request(generationConfig={"responseLogprobs": True, "logprobs": 2}))
    assert error.status == 400 and error.message == "Logprobs is not enabled for models/gemini-2.5-flash"
    enabled = ValidationContext("gemini-2.5-flash", INFO["gemini-2.5-flash"], False, logprobs=True)
    assert validate_generate(request(generationConfig={"responseLogprobs": True, "logprobs": 20}), enabled) is None
    assert validate_generate(request(generationConfig={"responseLogprobs": True, "logprobs": 0}), enabled) is None
    for bad in (21, -1):
        error = validate_generate(request(generationConfig={"responseLogprobs": True, "logprobs": bad}), enabled)
        assert error is not None and f"logprobs value of {bad} but the supported range is from 0 (inclusive) to 21" in error.message


TUPLE_TREE = {
    "type": "object",
    "$defs": {"Node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}},
    "properties": {"root": {"$ref": "#/$defs/Node"}, "span": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]}},
}


@pytest.mark.parametrize("keyword", ["prefixItems", "$id", "$anchor", "definitions", "multipleOf", "uniqueItems"])
def test_more_json_schema_keywords_are_rejected_in_parameters(keyword: str) -> None:
    error = check(with_params({"type": "OBJECT", "properties": {"a": {"type": "STRING"}}, keyword: {}}))
    assert error.message == f"Invalid JSON payload received. Unknown name \"{keyword}\" at '{PARAMS_AT}': Cannot find field."


@pytest.mark.parametrize("keyword", ["$ref", "$defs", "prefixItems"])
def test_json_schema_keywords_are_rejected_in_response_schema(keyword: str) -> None:
    schema = {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}, keyword: {}}
    config = {"responseMimeType": "application/json", "responseSchema": schema}
    error = check(request(generationConfig=config))
    assert f"Unknown name \"{keyword}\" at 'generation_config.response_schema'" in error.message


def test_recursion_and_tuples_are_accepted_as_json_schema() -> None:
    tools = [{"functionDeclarations": [{"name": "f", "parametersJsonSchema": TUPLE_TREE}]}]
    config = {"responseMimeType": "application/json", "responseJsonSchema": TUPLE_TREE}
    assert validate_generate(request(tools=tools, generationConfig=config), ctx()) is None
    assert validate_generate(request(tools=tools, generationConfig=config), ctx("gemini-3-flash-preview")) is None


def test_a_ref_with_sibling_keywords_is_refused_in_json_schema() -> None:
    schema = {"type": "object", "$defs": {"A": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/A", "description": "A"}}}
    tools = [{"functionDeclarations": [{"name": "f", "parametersJsonSchema": schema}]}]
    error = check(request(tools=tools))
    assert error.message == (
        "* GenerateContentRequest.tools[0].function_declarations[0].parameters_json_schema.properties.a:"
        " a schema with $ref may not have other keywords (found description)\n"
    )
    config = {"responseMimeType": "application/json", "responseJsonSchema": schema}
    assert "generation_config.response_json_schema.properties.a" in check(request(generationConfig=config)).message
    wrapped = {**schema, "properties": {"a": {"anyOf": [{"$ref": "#/$defs/A"}], "description": "A", "default": {"$ref": "x", "y": 1}}}}
    assert validate_generate(request(generationConfig={**config, "responseJsonSchema": wrapped}), ctx()) is None
