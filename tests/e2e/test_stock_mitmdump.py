"""The router in stock mitmdump (`mitmdump -s addons/router.py`): once its script loads, mitmdump
calls each event only on the addons that handle it (edge/hooktable.py), and everything mitmdump
does still happens: another `-s` script sees its hooks and is hot-reloaded, `-w` saves."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from mitmproxy.io import FlowReader
from procs import KEYS, client_for, http_json, start_router

MSG = [{"role": "user", "content": "hi"}]

SCRIPT = """\
from pathlib import Path

from mitmproxy import ctx

LOG = Path(__file__).with_suffix(".log")


def note(line):
    with LOG.open("a") as f:
        f.write(line + "\\n")


def request(flow):
    note(f"v{VERSION} request {flow.request.path} {type(ctx.master.addons).__name__}")


def response(flow):
    note(f"v{VERSION} response {flow.request.path} {flow.response.status_code}")
"""


def write_script(path: Path, version: int) -> None:
    path.write_text(SCRIPT + f"\nVERSION = {version}\n")
    later = time.time() + version  # mitmproxy reloads on a newer mtime: never the same second
    os.utime(path, (later, later))


@pytest.mark.single_process(reason="stock mitmdump -s and -w: one process by design")
def test_a_second_script_and_w_keep_working_with_the_hook_table(emulator, tmp_path):
    script, saved = tmp_path / "second.py", tmp_path / "flows.mitm"
    write_script(script, 1)
    router = start_router(tmp_path, keys=KEYS[:1], gemini_url=emulator.url, extra_args=["-s", str(script), "-w", str(saved)])
    try:
        client_for(router).chat.completions.create(model="gpt-4o", messages=MSG)
        lines = script.with_suffix(".log").read_text().splitlines()
        # After the router's `request`: the upstream request it built; dispatched by the hook table.
        assert any(line.startswith("v1 request /v1beta/models/") and line.endswith(":generateContent HookTable") for line in lines), lines
        assert "v1 response /v1/chat/completions 200" in lines

        write_script(script, 2)  # hot reload: the new version's hooks replace the old one's
        deadline = time.monotonic() + 10  # mitmproxy looks at the file once a second
        while time.monotonic() < deadline and "v2 request /health HookTable" not in script.with_suffix(".log").read_text():
            http_json("GET", f"{router.url}/health")
            time.sleep(0.2)
        after_reload = script.with_suffix(".log").read_text().split("v2 request /health HookTable", 1)
        assert len(after_reload) == 2, router.log()
        http_json("GET", f"{router.url}/health")
        assert "v1 " not in after_reload[1]  # the old module is gone from the table
    finally:
        router.stop()
    with saved.open("rb") as f:
        flows = list(FlowReader(f).stream())
    chats = [flow for flow in flows if flow.request.path == "/v1/chat/completions"]
    assert len(chats) == 1 and chats[0].response is not None and chats[0].response.status_code == 200
    assert KEYS[0][4:16].encode() not in saved.read_bytes()  # the router scrubbed it before Save wrote it
