"""A request's messages to Gemini's systemInstruction and contents: the rules Gemini enforces.
The messages are written as OpenAI's and read into the model first."""

from __future__ import annotations

from hpn_router.core.inbound.openai_chat_request import parse_chat_request
from hpn_router.core.model.request import MediaPart, Message, ReasoningPart, Signature, TextPart, ToolCall
from hpn_router.core.providers.gemini.chat_contents import MINIMAL_USER_TEXT, MISSING_RESULT, messages_to_contents


def convert(*messages: dict, signatures: bool = False):
    request = parse_chat_request({"model": "m", "messages": list(messages)})
    return messages_to_contents(request.messages, placeholder_signatures=signatures)


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


def test_signatures_go_back_only_to_the_provider_that_made_them():
    call = ToolCall("f", {"x": 1}, id="toolu_1", signature=Signature("sig-from-elsewhere", "anthropic"))
    own = ToolCall("g", {}, id="fc_2", provider_id="2", signature=Signature("gemini-sig", "gemini"))
    _, contents = messages_to_contents(
        (Message("user", (TextPart("go"),)), Message("assistant", (ReasoningPart("thinking"),), (call, own))),
        placeholder_signatures=False,
    )
    assert contents[1]["parts"] == [
        {"functionCall": {"name": "f", "args": {"x": 1}}},
        {"functionCall": {"name": "g", "args": {}, "id": "2"}, "thoughtSignature": "gemini-sig"},
    ]


def test_media_without_a_type_takes_it_from_its_name_or_the_kind_default():
    parts = (
        MediaPart("image", url="https://example.com/cat.png"),
        MediaPart("image", url="https://example.com/cat"),
        MediaPart("file", data="QUJD", filename="notes.txt"),
        MediaPart("file", data="QUJD"),
        MediaPart("audio", mime_type="audio/mp3", data="QUJD"),
    )
    _, [content] = messages_to_contents((Message("user", parts),), placeholder_signatures=False)
    assert content["parts"] == [
        {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.png"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat"}},
        {"inlineData": {"mimeType": "text/plain", "data": "QUJD"}},
        {"inlineData": {"mimeType": "application/pdf", "data": "QUJD"}},
        {"inlineData": {"mimeType": "audio/mp3", "data": "QUJD"}},
    ]
