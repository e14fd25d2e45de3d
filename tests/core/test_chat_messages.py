"""OpenAI messages to Gemini's systemInstruction and contents: the rules Gemini enforces."""

from __future__ import annotations

from hpn_router.core.chat_messages import MINIMAL_USER_TEXT, MISSING_RESULT, messages_to_contents


def convert(*messages: dict, signatures: bool = False):
    return messages_to_contents(list(messages), placeholder_signatures=signatures)


def test_system_text_goes_to_the_system_instruction_and_same_role_turns_merge():
    system, contents = convert(
        {"role": "system", "content": "Be brief"},
        {"role": "developer", "content": "Answer in French"},
        {"role": "user", "content": "Hello"},
        {"role": "user", "content": [{"type": "text", "text": "again"}]},
        {"role": "assistant", "content": "Bonjour"},
    )
    assert system == [{"text": "Be brief"}, {"text": "Answer in French"}]
    assert contents == [
        {"role": "user", "parts": [{"text": "Hello"}, {"text": "again"}]},
        {"role": "model", "parts": [{"text": "Bonjour"}]},
    ]


def test_a_conversation_opens_with_a_user_turn():
    _, system_only = convert({"role": "system", "content": "x"})
    assert system_only == [{"role": "user", "parts": [{"text": MINIMAL_USER_TEXT}]}]
    _, model_first = convert({"role": "assistant", "content": "Hi"}, {"role": "user", "content": "Yo"})
    assert [c["role"] for c in model_first] == ["user", "model", "user"]


def test_tool_results_become_one_user_turn_in_call_order_and_missing_ones_are_filled():
    calls = [
        {"id": "call_a", "type": "function", "function": {"name": "first", "arguments": "{}"}},
        {"id": "call_b", "type": "function", "function": {"name": "second", "arguments": '{"x": 1}'}},
    ]
    _, contents = convert(
        {"role": "user", "content": "Go"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_a", "content": '{"ok": true}'},
    )
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert [p["functionCall"]["name"] for p in contents[1]["parts"]] == ["first", "second"]
    assert contents[1]["parts"][1]["functionCall"]["args"] == {"x": 1}
    responses = [p["functionResponse"] for p in contents[2]["parts"]]
    assert [r["name"] for r in responses] == ["first", "second"]
    assert responses[0]["response"] == {"ok": True} and responses[1]["response"] == MISSING_RESULT


def test_where_gemini_may_need_a_thought_signature_the_first_call_gets_the_placeholder():
    call = {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    turns = (
        {"role": "user", "content": "Go"},
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_a", "content": "1"},
    )
    _, with_placeholder = convert(*turns, signatures=True)
    _, without = convert(*turns)
    assert with_placeholder[1]["parts"][0].get("thoughtSignature") and "thoughtSignature" not in without[1]["parts"][0]
