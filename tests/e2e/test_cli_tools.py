"""Real command-line tools against the router: Codex CLI (`codex exec`, OpenAI's Responses API
through a custom provider) and Claude Code (`claude -p`, Anthropic's Messages API through
ANTHROPIC_BASE_URL), both from npm at the versions pinned in tests/clients/package-lock.json.

Both ship native binaries, so Node's egress guard cannot watch them: every proxy variable points
at a closed loopback port instead (only 127.0.0.1 is exempt), telemetry and updates are off, and
the router's own guard (tests/guard_addon.py) still refuses anything outside loopback. HOME and
CODEX_HOME are temporary folders, so no login, config or history of the machine is read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from procs import KEYS, Emulator, Router, free_port, start_router

CLIENTS = Path(__file__).resolve().parents[1] / "clients"
BIN = CLIENTS / "node_modules" / ".bin"
TOKEN = "sk-cli-client-token-0123456789"
RUN_SECONDS = 120


@pytest.fixture(scope="module")
def clients() -> Path:
    """The pinned CLIs, installed by `npm ci` when missing (./run.sh test does it first)."""
    if not (BIN / "codex").exists() or not (BIN / "claude").exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is missing: install Node.js 20+ with npm (apt-get install nodejs npm), then `npm ci --prefix tests/clients`")
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=CLIENTS, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"npm ci in tests/clients failed:\n{result.stdout}\n{result.stderr}"
    return BIN


@pytest.fixture(scope="module")
def shared_router(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    """One router with a client token, so the CLIs' way of sending it is checked too."""
    router = start_router(
        tmp_path_factory.mktemp("router"), keys=KEYS[:3], gemini_url=emulator.url, config={"server": {"client_tokens": [TOKEN]}}
    )
    yield router
    router.stop()


def offline_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment: a temporary HOME, and every proxy variable on a closed port, so a
    request that is not for the router (on 127.0.0.1) fails instead of leaving the machine."""
    dead = f"http://127.0.0.1:{free_port()}"
    home.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8", "TERM": "dumb", "NO_COLOR": "1"}
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = dead
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return {**env, **extra}


def run_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cwd.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=RUN_SECONDS)
    assert result.returncode == 0, f"{args[0]} exited with {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


# Codex's defaults otherwise: its sub-agent tools come as a `namespace` tool, which the router
# flattens. Its default web search is OpenAI's hosted tool, which the router refuses with a 400
# naming it, so the provider's users switch it off (README "Responses API").
CODEX_CONFIG = """\
model = "gemini-2.5-flash"
model_provider = "hpn"
approval_policy = "never"
sandbox_mode = "read-only"
web_search = "disabled"

[model_providers.hpn]
name = "HPN Router"
base_url = "{base_url}"
env_key = "HPN_TOKEN"
wire_api = "responses"
"""


def codex(clients: Path, router: Router, tmp_path: Path, prompt: str) -> subprocess.CompletedProcess[str]:
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(CODEX_CONFIG.format(base_url=router.base_url))
    env = offline_env(tmp_path / "home", CODEX_HOME=str(codex_home), HPN_TOKEN=TOKEN)
    return run_cli([str(clients / "codex"), "exec", "--skip-git-repo-check", prompt], tmp_path / "work", env)


def test_codex_exec_answers_through_the_responses_api(clients: Path, router: Router, emulator: Emulator, tmp_path: Path) -> None:
    result = codex(clients, router, tmp_path, "Say hello [[no_tools]]")
    assert "Hello from gemini-2.5-flash!" in result.stdout
    [request] = emulator.stats()["requests"]
    assert request["path"] == "/v1beta/models/gemini-2.5-flash:streamGenerateContent" and request["status"] == 200


def test_codex_runs_the_shell_tool_the_model_calls_and_sends_its_output_back(
    clients: Path, router: Router, emulator: Emulator, tmp_path: Path
) -> None:
    # The emulator calls the tool the prompt names, with example arguments (a command that does
    # not exist); Codex runs it and sends its output back; the emulator then answers with it.
    result = codex(clients, router, tmp_path, "Use exec_command please")
    assert "Tool results received" in result.stdout and "command not found" in result.stdout
    assert [r["status"] for r in emulator.stats()["requests"]] == [200, 200]


def test_claude_code_answers_through_the_messages_api(clients: Path, router: Router, emulator: Emulator, tmp_path: Path) -> None:
    env = offline_env(
        tmp_path / "home",
        ANTHROPIC_BASE_URL=router.url,
        ANTHROPIC_API_KEY=TOKEN,
        DISABLE_TELEMETRY="1",
        DISABLE_AUTOUPDATER="1",
        DISABLE_ERROR_REPORTING="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
    )
    # claude-* names go to gemini.default_model (README "Messages API").
    result = run_cli([str(clients / "claude"), "-p", "Say hello [[no_tools]]", "--model", "claude-sonnet-4-5"], tmp_path / "work", env)
    assert "Hello from gemini-flash-latest!" in result.stdout
    requests = emulator.stats()["requests"]
    assert requests and all(r["status"] == 200 for r in requests)
