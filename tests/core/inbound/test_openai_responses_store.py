"""ResponseStore: bounded by entries, bytes and age, the oldest going first; each entry readable
and continuable only by the client that created it."""

from __future__ import annotations

from hpn_router.core.inbound.openai_responses_store import ResponseStore, StoredResponse, entry_from_bytes, entry_to_bytes, stored_response
from hpn_router.core.model.request import MediaPart, Message, ReasoningPart, Signature, TextPart, ToolCall, ToolResult

CONVERSATION = (Message("user", (TextPart("Hi"),)), Message("assistant", (TextPart("Hello"),)))


def entry(response_id: str, owner: str = "client_a", text: str = "Hello") -> StoredResponse:
    response = {"id": response_id, "object": "response", "output": [{"type": "message", "content": [{"text": text}]}]}
    return stored_response(owner, response, CONVERSATION)


def test_a_stored_response_is_read_and_continued_by_its_owner_only():
    store = ResponseStore(max_entries=10, max_bytes=1 << 20, ttl_seconds=60)
    assert store.put(entry("resp_1"), now=0)
    assert store.get("resp_1", "client_a", now=1).response()["id"] == "resp_1"
    assert store.conversation("resp_1", "client_a", now=1) == CONVERSATION
    assert store.get("resp_1", "client_b", now=1) is None and store.conversation("resp_1", "client_b", now=1) is None
    assert store.get("resp_unknown", "client_a", now=1) is None


def test_a_read_response_is_a_fresh_copy():
    store = ResponseStore()
    store.put(entry("resp_1"), now=0)
    store.get("resp_1", "client_a", now=0).response()["id"] = "changed"
    assert store.get("resp_1", "client_a", now=0).response()["id"] == "resp_1"


def test_entries_expire_after_the_ttl():
    store = ResponseStore(max_entries=10, max_bytes=1 << 20, ttl_seconds=60)
    store.put(entry("resp_1"), now=0)
    assert store.get("resp_1", "client_a", now=59.9) is not None
    assert store.get("resp_1", "client_a", now=60) is None and len(store) == 0 and store.bytes == 0


def test_the_oldest_go_first_when_the_entry_bound_is_reached():
    store = ResponseStore(max_entries=2, max_bytes=1 << 20, ttl_seconds=60)
    for i in range(3):
        store.put(entry(f"resp_{i}"), now=i)
    assert [store.get(f"resp_{i}", "client_a", now=3) is not None for i in range(3)] == [False, True, True]


def test_the_oldest_go_first_when_the_byte_bound_is_reached():
    size = entry("resp_0", text="x" * 1000).size
    store = ResponseStore(max_entries=100, max_bytes=2 * size + 10, ttl_seconds=60)
    for i in range(3):
        store.put(entry(f"resp_{i}", text="x" * 1000), now=i)
    assert len(store) == 2 and store.bytes <= 2 * size + 10 and store.get("resp_0", "client_a", now=3) is None


def test_an_entry_larger_than_the_whole_budget_and_a_store_turned_off_keep_nothing():
    assert not ResponseStore(max_entries=10, max_bytes=100, ttl_seconds=60).put(entry("resp_1"), now=0)
    off = ResponseStore(max_entries=0, max_bytes=1 << 20, ttl_seconds=60)
    assert not off.enabled and not off.put(entry("resp_1"), now=0) and len(off) == 0


def test_the_size_counts_the_conversation_and_the_body():
    small, large = entry("resp_1"), entry("resp_1", text="y" * 5000)
    assert large.size - small.size == len("y" * 5000) - len("Hello")
    longer = stored_response("client_a", {"id": "resp_2"}, (*CONVERSATION, Message("user", (TextPart("z" * 3000),))))
    assert longer.size > stored_response("client_a", {"id": "resp_2"}, CONVERSATION).size + 3000


def test_delete_removes_only_the_owners_entry():
    store = ResponseStore()
    store.put(entry("resp_1"), now=0)
    assert not store.delete("resp_1", "client_b", now=0) and store.get("resp_1", "client_a", now=0) is not None
    assert store.delete("resp_1", "client_a", now=0) and store.get("resp_1", "client_a", now=0) is None
    assert not store.delete("resp_1", "client_a", now=0) and store.bytes == 0


def test_new_bounds_evict_what_no_longer_fits():
    store = ResponseStore(max_entries=10, max_bytes=1 << 20, ttl_seconds=600)
    for i in range(5):
        store.put(entry(f"resp_{i}"), now=i)
    store.configure(max_entries=2, max_bytes=1 << 20, ttl_seconds=600, now=5)
    assert len(store) == 2 and store.get("resp_4", "client_a", now=5) is not None
    store.configure(max_entries=10, max_bytes=1 << 20, ttl_seconds=1, now=10)
    assert len(store) == 0


def test_storing_an_id_again_replaces_it():
    store = ResponseStore()
    store.put(entry("resp_1", text="a"), now=0)
    store.put(entry("resp_1", text="bb"), now=1)
    assert len(store) == 1 and store.bytes == entry("resp_1", text="bb").size


def test_an_entry_passes_through_its_wire_form_unchanged():
    conversation = (
        Message("user", (TextPart("Hi é"), MediaPart("image", "image/png", data="aGk=", detail="low")), name="ann"),
        Message(
            "assistant",
            (ReasoningPart("thinking", Signature("sig", "gemini")),),
            tool_calls=(ToolCall("lookup", {"q": [1, {"x": None}]}, id="call_1", signature=Signature("s2", "gemini")),),
        ),
        Message("tool", (ToolResult((TextPart("42"),), call_id="call_1", name="lookup"),)),
    )
    original = stored_response("client_a", {"id": "resp_9", "object": "response"}, conversation)
    assert entry_from_bytes(entry_to_bytes(original)) == original


def test_a_foreign_value_is_not_an_entry():
    assert entry_from_bytes(b"not json") is None
    assert entry_from_bytes(b'{"id": "r", "owner": "a", "body": "{}", "size": 1, "conversation": [{"$type": "os.system"}]}') is None
    assert entry_from_bytes(b'{"id": "r", "owner": "a", "body": "{}", "size": 1, "conversation": ["text"]}') is None
