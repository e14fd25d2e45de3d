"""The lean runner (`python -m hpn_router run`, what ./run.sh starts) keeps the router's
behaviour: both listeners, streaming, start-up errors, a clean stop that saves the pool state,
-w, and mitmdump for the arguments it does not take."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from mitmproxy.io import FlowReader
from procs import GUARD, KEYS, REPO, Emulator, Router, client_for, free_port, http_json, start_runner, venv_for_run_sh

MSG = [{"role": "user", "content": "hi"}]
FALLBACK = "starting mitmdump instead"


@pytest.fixture(scope="module")
def runner(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    router = start_runner(tmp_path_factory.mktemp("runner"), keys=KEYS[:3], gemini_url=emulator.url, proxy=True)
    yield router
    router.stop()


def test_chat_and_stream_through_the_reverse_listener(runner, emulator):
    emulator.reset()
    client = client_for(runner)
    answer = client.chat.completions.create(model="gpt-4o", messages=MSG)
    assert "You said: hi" in answer.choices[0].message.content
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True))
    assert "You said: hi" in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert FALLBACK not in runner.log()  # run.sh's arguments (flow_detail=0 included) stay in the lean runner


def test_an_unmodified_sdk_through_the_proxy_listener(runner, emulator):
    emulator.reset()
    verify = ssl.create_default_context(cafile=str(runner.ca_cert))
    http_client = openai.DefaultHttpxClient(proxy=runner.proxy_url, verify=verify)
    client = openai.OpenAI(api_key="sk-client-not-a-gemini-key", max_retries=0, http_client=http_client)  # api.openai.com
    # Not the reverse test's message: the flash cache would answer it without the pool.
    answer = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi through the proxy"}])
    assert "You said: hi through the proxy" in answer.choices[0].message.content
    assert any("generateContent" in r["path"] for r in emulator.stats()["requests"])  # from the pool, not api.openai.com


def test_the_reverse_port_is_the_front_and_https_to_it_is_mitmproxys(runner, emulator):
    """Plain HTTP/1.1 is served by the router's reverse front (edge/reversefront.py); a client
    that starts TLS on the same port (trusting mitmproxy's CA) is handed to mitmproxy's own
    reverse handler and served as before, streaming included."""
    emulator.reset()
    log = runner.log()
    assert f"reverse proxy to https://generativelanguage.googleapis.com listening at 127.0.0.1:{runner.port}" in log
    verify = ssl.create_default_context(cafile=str(runner.ca_cert))
    http_client = openai.DefaultHttpxClient(verify=verify)
    client = openai.OpenAI(base_url=f"https://127.0.0.1:{runner.port}/v1", api_key="sk-client", max_retries=0, http_client=http_client)
    question = [{"role": "user", "content": "hi over TLS"}]
    answer = client.chat.completions.create(model="gpt-4o", messages=question)
    assert "You said: hi over TLS" in answer.choices[0].message.content
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "streamed over TLS"}], stream=True))
    assert "You said: streamed over TLS" in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO / "addons"), **env}
    return subprocess.run(
        [sys.executable, "-m", "hpn_router", "run", *args], capture_output=True, text=True, timeout=60, env=full_env, cwd=tmp_path
    )


def test_an_invalid_config_stops_start_up_naming_the_field(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("key_pool:\n  keys:\n    - {name: a, key: AIzaX1, enabled: yes please}\n")
    result = _run(
        ["-s", str(REPO / "addons" / "router.py"), "--mode", "reverse:http://127.0.0.1:9@127.0.0.1:0", "--set", f"confdir={tmp_path}"],
        tmp_path,
        HPN_CONFIG=str(config),
    )
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert 'key_pool.keys[0].enabled: expected true/false, got "yes please"' in output
    assert FALLBACK not in output


def test_sigterm_stops_cleanly_and_saves_the_pool_state(emulator, tmp_path):
    router = start_runner(tmp_path, keys=KEYS[:2], gemini_url=emulator.url)
    emulator.reset()
    client_for(router).chat.completions.create(model="gpt-4o", messages=MSG)
    router.proc.send_signal(signal.SIGTERM)
    assert router.proc.wait(15) == 0
    saved = (tmp_path / ".hpn" / "state.json").read_text()
    assert '"keys"' in saved
    assert all(key not in saved for key in KEYS)


@pytest.mark.single_process(reason="the lean runner's own -w and mitmdump fallback, in one process: two workers would write one -w file")
def test_w_saves_the_flows_scrubbed(emulator, tmp_path):
    flows_path = tmp_path / "flows.mitm"
    router = start_runner(tmp_path, keys=KEYS[:1], gemini_url=emulator.url, extra_args=["-w", str(flows_path)])
    emulator.reset()
    client_for(router).chat.completions.create(model="gpt-4o", messages=MSG)
    router.stop()
    assert FALLBACK not in router.log()
    with flows_path.open("rb") as f:
        flows = list(FlowReader(f).stream())
    # start_runner's readiness probes (more than one when the machine is slow), then ours.
    assert [flow.request.path for flow in flows if flow.request.path != "/health"] == ["/v1/chat/completions"]
    assert flows[-1].response is not None and flows[-1].response.status_code == 200
    assert KEYS[0][4:16].encode() not in flows_path.read_bytes()


@pytest.mark.single_process(reason="the lean runner's own -w and mitmdump fallback, in one process: two workers would write one -w file")
def test_arguments_it_does_not_take_start_mitmdump_with_them(emulator, tmp_path):
    # anticache is an option of a mitmdump addon the lean runner leaves out: it must not be ignored.
    router = start_runner(tmp_path, keys=KEYS[:1], gemini_url=emulator.url, extra_args=["--set", "anticache=true"])
    try:
        assert "You said: hi" in client_for(router).chat.completions.create(model="gpt-4o", messages=MSG).choices[0].message.content
        assert f"does not take the option anticache; {FALLBACK}" in router.log()
    finally:
        router.stop()


@pytest.mark.parametrize(("runner_env", "program"), [({}, "-m hpn_router run"), ({"HPN_RUNNER": "mitmdump"}, "bin/mitmdump")])
def test_run_sh_starts_the_lean_runner_unless_told_mitmdump(runner_env, program, tmp_path):
    port = free_port()
    (tmp_path / "none.yaml").write_text("{}\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")},
        "HPN_VENV": str(venv_for_run_sh(tmp_path)),
        "HPN_API_KEYS": KEYS[0],
        "HPN_PORT": str(port),
        "HPN_PROXY_PORT": str(free_port()),
        "HPN_CONFDIR": str(tmp_path / "ca"),
        "HPN_CONFIG": str(tmp_path / "none.yaml"),
        **runner_env,
    }
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(REPO / "run.sh"), "-s", str(GUARD)], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while f"listening at 127.0.0.1:{port}" not in log.read_text() and proc.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert http_json("GET", f"http://127.0.0.1:{port}/health")["status"] == "healthy"  # type: ignore[index]
        # run.sh execs the runner: the process it started is the one serving.
        assert program in Path(f"/proc/{proc.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        # Without mitmproxy's __debug__-only checks (python -O): ~20 % less CPU per cache hit.
        assert b"PYTHONOPTIMIZE=1" in Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
    assert FALLBACK not in log.read_text()
