"""`./run.sh --demo` end to end: the three emulators and the router start, the curl lines it
prints run as printed (by bash), the log shows a key rotation and the fallback from Gemini to
Mistral once every Gemini demo key is spent, and Ctrl-C stops everything it started."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from procs import GUARD, REPO, free_port, venv_for_run_sh

FALLBACK_LINE = "↪ FALLBACK gemini-flash-latest → mistral-small-latest"


def _wait_for(text: str, log: Path, proc: subprocess.Popen, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while text not in (out := log.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, out
        time.sleep(0.1)
    return out


def _printed_commands(out: str) -> str:
    """The shell lines the demo prints between "Try:" and the dashboard's line."""
    return out.split("Try:\n", 1)[1].split("The live dashboard", 1)[0]


def _json_values(out: str) -> list[dict]:
    """The JSON documents curl printed one after another (not every line ends with a newline)."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while (at := out.find("{", at)) != -1:
        value, at = decoder.raw_decode(out, at)
        values.append(value)
    return values


def _is_serving(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)
    except urllib.error.HTTPError:
        return True  # it answered
    except OSError:
        return False
    return True


def test_the_demo_shows_a_rotation_and_a_fallback_and_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY") and not k.startswith("HPN_")},
        "HPN_VENV": str(venv_for_run_sh(tmp_path)),
        "HPN_PORT": str(port),
        "HPN_PROXY_PORT": str(free_port()),
        "HPN_CONFDIR": str(tmp_path / "ca"),
    }
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        demo = subprocess.Popen(
            [str(REPO / "run.sh"), "--demo", "-s", str(GUARD)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            start_new_session=True,
        )
    try:
        text = _wait_for(f"listening at 127.0.0.1:{port}", log, demo)
        emulators = dict(re.findall(r"^  (Gemini|Mistral|Anthropic) +(http://127\.0\.0\.1:\d+)", text, re.MULTILINE))
        assert set(emulators) == {"Gemini", "Mistral", "Anthropic"}, text
        assert f"http://127.0.0.1:{port}/dashboard" in text

        printed = _printed_commands(text)
        ran = subprocess.run(["bash", "-c", printed], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        answers = _json_values(ran.stdout)
        chats, health = answers[:-1], answers[-1]
        assert len(chats) == 12, ran.stdout  # Hello!, the loop's ten, Claude's
        assert all(chat["object"] == "chat.completion" and chat["choices"][0]["message"]["content"] for chat in chats), ran.stdout
        assert chats[0]["model"] == "gpt-4o" and chats[-1]["model"] == "claude-haiku-4-5"
        assert health["status"] in ("healthy", "degraded"), health

        router_log = _wait_for(FALLBACK_LINE, log, demo, seconds=10)
        assert "Key rotation triggered" in router_log
        assert "429 per-day quota exhausted" in router_log
    finally:
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C in the terminal: the whole group
        demo.wait(20)
    # The router stopped, and the trap stopped the emulators (background jobs ignore SIGINT).
    deadline = time.monotonic() + 10
    while any(_is_serving(url) for url in emulators.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_is_serving(url) for url in emulators.values())
    assert not _is_serving(f"http://127.0.0.1:{port}/health")
