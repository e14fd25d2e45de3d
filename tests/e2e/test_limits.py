"""One client must not exhaust the router's memory, its event loop or its connections:
bodies are bounded while they stream, JSON parse cost is bounded before parsing, slow and
idle connections are closed, and a lone surrogate escape is a 400, not a traceback."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import httpx
import pytest
from procs import KEYS, Router, client_for, start_router

UPLOAD = 10 * 1024 * 1024
LIMITS = {
    "max_body_bytes": 64 * 1024,
    "max_json_items": 10_000,
    "header_timeout_seconds": 2,
    "idle_timeout_seconds": 2,
    "read_timeout_seconds": 1,  # a hanging key costs 1 s per attempt
}


@pytest.fixture(scope="module")
def router(emulator, tmp_path_factory) -> Iterator[Router]:
    emulator.reset()
    started = start_router(tmp_path_factory.mktemp("limits"), keys=KEYS[:2], gemini_url=emulator.url, config={"server": LIMITS})
    yield started
    started.stop()


def peak_rss_kib(router: Router) -> int:
    """The router's peak resident memory so far (VmHWM), in KiB: its workers' peaks added, with
    workers (a growth in either shows)."""
    peaks = []
    for pid in router.pids():
        with open(f"/proc/{pid}/status") as status:
            peaks.append(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")))
    return sum(peaks)


def closed_by_router(sock: socket.socket, *, trickle: bytes, max_seconds: float) -> bool:
    """Send `trickle` one byte at a time (every 0.25 s, for at most `max_seconds`), then keep
    waiting; True as soon as the router closes the connection."""
    deadline = time.monotonic() + max_seconds
    for byte in [trickle[i : i + 1] for i in range(len(trickle))] + [b""] * 10_000:
        if time.monotonic() > deadline:
            return False
        try:
            if byte:
                sock.sendall(byte)
            readable, _, _ = select.select([sock], [], [], 0.25)
            if readable and sock.recv(65536) == b"":
                return True
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


def post(url: str, body: bytes, timeout: float = 10) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_a_client_sending_headers_too_slowly_is_disconnected(router):
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" * 20
    with socket.create_connection(("127.0.0.1", router.port)) as sock:
        assert closed_by_router(sock, trickle=head, max_seconds=15)  # header_timeout_seconds is 2
    assert "request headers too slow" in router.log()


def test_an_idle_keep_alive_connection_is_closed(router):
    with socket.create_connection(("127.0.0.1", router.port)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert closed_by_router(sock, trickle=b"", max_seconds=15)  # idle_timeout_seconds is 2


def test_a_request_in_progress_is_not_cut_by_the_timeouts(router, emulator):
    emulator.set_key(0, "hang")
    emulator.set_key(1, "hang")
    try:
        # Each attempt hangs until the router's read timeout (1 s) x 3 attempts: longer than both timeouts.
        status, body = post(f"{router.base_url}/chat/completions", json.dumps(chat("slow")).encode(), timeout=30)
        assert status >= 500 and "error" in body  # an answer, not a dropped connection
    finally:
        emulator.reset()


def test_a_chunked_upload_over_the_limit_is_refused_while_it_streams(router):
    assert client_for(router).chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "warm up"}])
    before = peak_rss_kib(router)

    def chunks() -> Iterator[bytes]:
        for _ in range(UPLOAD // 65536):
            yield b"x" * 65536

    response = httpx.post(f"{router.base_url}/chat/completions", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "body_size_limit" in response.text  # mitmproxy answers it itself (see README "Limits")
    grown = (peak_rss_kib(router) - before) * 1024
    assert grown < UPLOAD // 2, f"peak RSS grew by {grown} bytes for a {UPLOAD}-byte upload"


def test_answers_larger_than_the_body_limit_still_arrive(router):
    """body_size_limit also bounds buffered responses; the router's answers are not buffered
    by mitmproxy (Gemini's come through the router's own client, streams through the relay)."""
    tool_result = "r" * 30_000  # a request under 64 KiB; the emulator echoes it in each of 3 choices
    messages = [
        {"role": "user", "content": "call f"},
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": tool_result},
    ]
    client = client_for(router)
    answer = client.chat.completions.create(model="gpt-4", messages=messages, n=3)  # type: ignore[arg-type]
    assert sum(len(c.message.content or "") for c in answer.choices) > LIMITS["max_body_bytes"]
    streamed = client.chat.completions.create(model="gpt-4", messages=messages, n=3, stream=True)  # type: ignore[arg-type]
    assert sum(len(c.delta.content or "") for chunk in streamed for c in chunk.choices) > LIMITS["max_body_bytes"]


def test_many_tiny_json_values_are_refused_by_name(router, emulator):
    emulator.reset()
    body = json.dumps({**chat("hi"), "metadata": [{}] * 15_000}).encode()  # 60 KB: 15 000 objects
    status, answer = post(f"{router.base_url}/chat/completions", body)
    assert status == 400 and "server.max_json_items" in answer["error"]["message"]
    assert emulator.stats()["requests"] == []


def test_health_answers_while_a_huge_body_of_tiny_objects_is_refused(tmp_path, emulator):
    """The default limits: a 30 MB body of tiny objects once took 1 GB and 8 s of the event loop."""
    router = start_router(tmp_path, keys=KEYS[:1], gemini_url=emulator.url)
    try:
        body = b'{"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}], "x": [' + b",".join([b'{"a":1}'] * 3_500_000) + b"]}"
        result: dict[str, object] = {}

        def abuse() -> None:
            result["status"], result["answer"] = post(f"{router.base_url}/chat/completions", body, timeout=60)

        thread = threading.Thread(target=abuse)
        thread.start()
        healthy = 0
        while thread.is_alive() and healthy < 200:
            with urllib.request.urlopen(f"{router.url}/health", timeout=5) as response:  # a stalled loop would time out
                healthy += response.status == 200
        thread.join(60)
        assert healthy >= 1
        assert result["status"] == 400 and "server.max_json_items" in result["answer"]["error"]["message"]  # type: ignore[index]
    finally:
        router.stop()


@pytest.mark.parametrize(
    "path,body",
    [
        ("/v1/chat/completions", {"model": "gpt-4", "messages": [{"role": "user", "content": "\ud800"}]}),
        ("/v1/embeddings", {"model": "text-embedding-3-small", "input": ["ok", "\udc00"]}),
        ("/v1beta/models/gemini-2.5-flash:generateContent", {"contents": [{"parts": [{"text": "\ud800"}]}]}),
    ],
)
def test_a_lone_surrogate_is_a_400_naming_it(router, emulator, path, body):
    emulator.reset()
    raw = json.dumps(body).encode()  # ensure_ascii writes the lone surrogate as a \u escape
    assert b"\\ud800" in raw or b"\\udc00" in raw
    status, answer = post(f"{router.url}{path}", raw)
    assert status == 400 and "surrogate" in answer["error"]["message"], answer
    assert emulator.stats()["requests"] == []


def chat(text: str) -> dict:
    return {"model": "gpt-4", "messages": [{"role": "user", "content": text}]}
