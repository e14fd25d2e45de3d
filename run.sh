#!/usr/bin/env bash
# HPN Router launcher. Sets up .venv on first use, then:
#   ./run.sh [mitmdump args...]   start the router: reverse proxy on server.host:server.port and
#                                 the HTTPS_PROXY listener on server.host:server.proxy_port, in the
#                                 lean runner (HPN_RUNNER=mitmdump: in stock mitmdump)
#   ./run.sh --web [args...]      the same in mitmweb (UI on 127.0.0.1:8081)
#   ./run.sh --demo [--web] [args...]  start the Gemini, Mistral and Anthropic emulators + the router
#                                 with their demo keys and a fallback from Gemini to Mistral
#   ./run.sh test                 install test dependencies (tests/clients with npm ci, and Debian's
#                                 chromium when missing: apt-get as root, else a message), run the
#                                 gates (./run.sh lint), then the
#                                 whole test suite with the coverage floor, then an e2e subset
#                                 against 2 workers (what CI runs)
#   ./run.sh test [pytest args]   only pytest with those args: no gates, no coverage floor
#   ./run.sh lint                 only the gates: ruff check, ruff format --check, mypy on core/
#   ./run.sh setup                only create the venv and install (Docker build, systemd install)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${HPN_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
cd "$ROOT"

setup() {  # $1: "" or "test" (the router's test extra, and the emulators' hpn-emulator command)
    local extra="$1" stamp
    local -a packages=(-e ".${extra:+[$extra]}") manifests=(pyproject.toml)
    if [ ! -x "$VENV/bin/python" ]; then
        echo "hpn-router: creating $VENV" >&2
        "$PY" -m venv "$VENV"
    fi
    if [ "$extra" = test ]; then
        packages+=(-e ./emulators)
        manifests+=(emulators/pyproject.toml)
    fi
    stamp="$VENV/.hpn-installed-$(cat "${manifests[@]}" | sha1sum | cut -c1-12)${extra:+-$extra}"
    if [ ! -f "$stamp" ]; then
        echo "hpn-router: installing dependencies into $VENV" >&2
        "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
        "$VENV/bin/python" -m pip install --quiet "${packages[@]}" >&2
        "$VENV/bin/python" -m pip check >&2
        touch "$stamp"
    fi
    # The router runs with python -O (see launch), which reads .opt-1.pyc files of its own:
    # compiled once here as pip compiled the plain ones, since nothing writes them at run time
    # where PYTHONDONTWRITEBYTECODE is set (the Docker image). A file that does not compile
    # (a package's stray Python 2 example) only stays uncompiled.
    if [ ! -f "$VENV/.hpn-compiled-O" ]; then
        "$VENV/bin/python" -O -m compileall -q -j 0 "$VENV/lib" >/dev/null 2>&1 || true
        touch "$VENV/.hpn-compiled-O"
    fi
}

CHROMIUM=/usr/bin/chromium

ensure_chromium() {  # the dashboard's browser test drives Debian's chromium (never Playwright's own download)
    [ -x "$CHROMIUM" ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "hpn-router: installing chromium (apt-get) for the dashboard's browser test" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >&2 \
            || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >&2; }
    fi
    if [ ! -x "$CHROMIUM" ]; then
        echo "hpn-router: the tests need Debian's chromium at $CHROMIUM: run as root: apt-get install -y chromium" >&2
        exit 1
    fi
}

hpn_router() {  # this checkout's package, whichever checkout the venv was installed from
    PYTHONPATH="$ROOT/addons${PYTHONPATH:+:$PYTHONPATH}" "$VENV/bin/python" -m hpn_router "$@"
}

listeners() {  # validates the config; prints "HOST PORT PROXY_PORT PROXY_AUTH CONFDIR"
    hpn_router listeners
}

launch() {  # $1: exec | run; then [--web] [mitmdump/mitmweb args...]
    local how="$1" program=mitmdump host port proxy_port proxy_auth confdir ca bundle local_host proxy_user=""
    local -a extra=()
    shift
    if [ "${1:-}" = "--web" ]; then
        shift
        program=mitmweb
        extra=(--web-host 127.0.0.1)
    fi
    read -r host port proxy_port proxy_auth confdir < <(listeners) || exit 1
    { read -r ca; read -r bundle; } < <(hpn_router trust) || exit 1
    if [ "$host" != "127.0.0.1" ] && [ "$host" != "localhost" ] && [ "$host" != "::1" ]; then
        echo "hpn-router: WARNING: listening on $host:$port and :$proxy_port exposes your key pool to the network." >&2
    fi
    case "$host" in 0.0.0.0|::|"[::]") local_host=127.0.0.1 ;; *) local_host="$host" ;; esac
    # The proxy listener demands a client token as the proxy password; never print a token.
    if [ "$proxy_auth" = token ]; then proxy_user="hpn:<your-client-token>@"; fi
    cat >&2 <<MSG
hpn-router: OpenAI base_url = http://$local_host:$port/v1
hpn-router: unmodified apps that call api.openai.com: run them with
  export HTTPS_PROXY=http://$proxy_user$local_host:$proxy_port
  export SSL_CERT_FILE=$bundle REQUESTS_CA_BUNDLE=$bundle CURL_CA_BUNDLE=$bundle
  export NODE_EXTRA_CA_CERTS=$ca
hpn-router: mitmproxy's CA certificate is $ca (the bundle is the CAs this machine trusts plus it)
MSG
    if [ "$program" = mitmweb ]; then
        echo "hpn-router: mitmweb UI at http://127.0.0.1:8081 unless --web-port says otherwise" >&2
    fi
    # The plain start runs in the lean runner (edge/runner.py: mitmproxy with only the built-in
    # addons the router uses, which starts mitmdump itself for arguments it does not take);
    # HPN_RUNNER=mitmdump starts stock mitmdump.
    # PYTHONOPTIMIZE=1 (python -O) drops the checks mitmproxy runs only under __debug__: a type
    # check of every field of every request and response it builds, and an environment lookup
    # per hook task: about a fifth of a cache hit's CPU. PYTHONOPTIMIZE=0 keeps them.
    local -a runner=(env "PYTHONOPTIMIZE=${PYTHONOPTIMIZE:-1}" "$VENV/bin/$program")
    if [ "$program" = mitmdump ] && [ "${HPN_RUNNER:-lean}" != mitmdump ]; then
        runner=(env "PYTHONOPTIMIZE=${PYTHONOPTIMIZE:-1}" "PYTHONPATH=$ROOT/addons${PYTHONPATH:+:$PYTHONPATH}" "$VENV/bin/python" -m hpn_router run)
    fi
    local -a cmd=("${runner[@]}" -s "$ROOT/addons/router.py"
        --mode "reverse:https://generativelanguage.googleapis.com@$host:$port"
        --mode "regular@$host:$proxy_port"
        --set "confdir=$confdir" --set connection_strategy=lazy --set flow_detail=0 "${extra[@]}" "$@")
    if [ "$how" = exec ]; then exec "${cmd[@]}"; else "${cmd[@]}"; fi
}

start_router() {
    launch exec "$@"
}

demo_emulator() {  # $1: the emulator's module, $2: its scenario; sets DEMO_URL (its PID joins DEMO_PIDS)
    local out
    out="$(mktemp)"
    DEMO_FILES+=("$out")
    # The emulators are not part of the router's install (nor of the Docker image): run this checkout's.
    PYTHONPATH="$ROOT/emulators${PYTHONPATH:+:$PYTHONPATH}" \
        "$VENV/bin/python" -m "$1" --port 0 --quiet --scenario "$ROOT/configs/emulator/$2" >"$out" &
    DEMO_PIDS+=($!)
    for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.1; done
    DEMO_URL="$(grep -o 'http://127.0.0.1:[0-9]*' "$out" | head -1 || true)"
    [ -n "$DEMO_URL" ] || { echo "hpn-router: the $1 did not start" >&2; exit 1; }
}

demo_keys() {  # $1: a scenario under configs/emulator/: its keys, comma-separated
    "$VENV/bin/python" -c 'import yaml,sys; print(",".join(k["key"] for k in yaml.safe_load(open(sys.argv[1]))["keys"]))' \
        "$ROOT/configs/emulator/$1"
}

demo() {
    # Globals, not locals: the EXIT trap runs after this function has returned.
    DEMO_PIDS=()
    DEMO_FILES=()
    trap 'kill "${DEMO_PIDS[@]}" 2>/dev/null || true; rm -f "${DEMO_FILES[@]}"' EXIT INT TERM
    local gemini mistral anthropic
    # Called in this shell (not in $(...)), so the trap knows every emulator's PID.
    demo_emulator gemini_emulator demo.yaml
    gemini="$DEMO_URL"
    demo_emulator mistral_emulator mistral-demo.yaml
    mistral="$DEMO_URL"
    demo_emulator anthropic_emulator anthropic-demo.yaml
    anthropic="$DEMO_URL"
    export HPN_GEMINI_BASE_URL="$gemini" HPN_MISTRAL_BASE_URL="$mistral" HPN_ANTHROPIC_BASE_URL="$anthropic"
    HPN_API_KEYS="$(demo_keys demo.yaml)"
    HPN_MISTRAL_API_KEYS="$(demo_keys mistral-demo.yaml)"
    HPN_ANTHROPIC_API_KEYS="$(demo_keys anthropic-demo.yaml)"
    export HPN_API_KEYS HPN_MISTRAL_API_KEYS HPN_ANTHROPIC_API_KEYS
    export HPN_CONFIG="${HPN_CONFIG:-$ROOT/configs/demo.yaml}"
    local port="${HPN_PORT:-8080}"
    cat >&2 <<MSG
hpn-router demo: three emulators, each with demo keys:
  Gemini    $gemini (3 keys; key_3 runs out of its daily
            quota after 2 requests, the others after 3)
  Mistral   $mistral (2 keys)
  Anthropic $anthropic (2 keys)
In the loop below the log shows a key rotation (key_3 spent), then, once every Gemini key is
spent for the day, a cross-provider fallback: ↪ FALLBACK gemini-flash-latest → mistral-small-latest.
Try:
  curl -s http://127.0.0.1:$port/v1/chat/completions -H 'Content-Type: application/json' \\
       -d '{"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello!"}]}'
  for i in \$(seq 10); do curl -s http://127.0.0.1:$port/v1/chat/completions -H 'Content-Type: application/json' \\
       -d "{\\"model\\": \\"gpt-4o\\", \\"messages\\": [{\\"role\\": \\"user\\", \\"content\\": \\"Hello \$i\\"}]}"; echo; done
  curl -s http://127.0.0.1:$port/v1/chat/completions -H 'Content-Type: application/json' \\
       -d '{"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "Hello Claude!"}]}'
  curl -s http://127.0.0.1:$port/health
The live dashboard: http://127.0.0.1:$port/dashboard
(Sending the same request twice shows the flash cache: ⚡ CACHE HIT.)
MSG
    launch run "$@"
}

LINT_PATHS=(addons emulators tests bench)

test_clients() {  # the command-line tools tests/e2e/test_cli_tools.py drives, at their pinned versions
    local dir="$ROOT/tests/clients" stamp
    stamp="$dir/node_modules/.hpn-installed-$(sha1sum <"$dir/package-lock.json" | cut -c1-12)"
    [ -f "$stamp" ] && return
    if ! command -v npm >/dev/null; then
        echo "hpn-router: npm is missing: the CLI tests need Node.js 20+ with npm (e.g. apt-get install nodejs npm)" >&2
        exit 1
    fi
    echo "hpn-router: installing Codex CLI and Claude Code into tests/clients (npm ci)" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    touch "$stamp"
}

gate() {  # $1: how to fix a failure; then the command
    local fix="$1"
    shift
    echo "hpn-router: gate: $*" >&2
    "$@" || { echo "hpn-router: gate failed: $*" >&2; echo "hpn-router: to fix: $fix" >&2; exit 1; }
}

ensure_redis() {  # the shared-state tests start a real redis-server; they never skip for a missing one
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "hpn-router: installing redis-server (the shared-state tests start their own; the system service is not started)" >&2
        # policy-rc.d exit 101: Debian's package scripts do not start the service on install.
        local made_policy="" ok=0
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server >&2 || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server >&2; } || ok=$?
        [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
        [ $ok -eq 0 ] && return 0
    fi
    echo "hpn-router: the tests need redis-server and redis-cli: install them (Debian/Ubuntu: sudo apt-get install -y redis-server), then run ./run.sh test again" >&2
    exit 1
}

lint() {  # ruff and mypy read their settings from pyproject.toml ([tool.ruff], [tool.mypy])
    local bin="$VENV/bin"
    gate "$bin/ruff check --fix ${LINT_PATHS[*]}, then fix the rest by hand" "$bin/ruff" check "${LINT_PATHS[@]}"
    gate "$bin/ruff format ${LINT_PATHS[*]}" "$bin/ruff" format --check "${LINT_PATHS[@]}"
    gate "add or correct the annotations mypy names (strict on addons/hpn_router/core)" "$bin/mypy"
}

# The end-to-end tests ./run.sh test runs a second time with every router as 2 workers of the
# lean runner sharing a redis-server (tests/procs.py, HPN_TEST_WORKERS): chat, streaming, tools,
# failover, Responses, Messages, and what Redis shares between the workers
# (a cache hit and a client's rate limit over new connections, which the kernel spreads over
# both; a stored Response continued; the dashboard in a browser, whichever worker answers). The whole e2e suite that way: HPN_TEST_WORKERS=2 ./run.sh test tests/e2e
WORKERS_SUBSET=(
    tests/e2e/test_openai_surface.py::test_stream_ends_with_done_and_matches_the_non_streamed_text
    tests/e2e/test_openai_surface.py::test_stream_tool_calls_have_index_id_name_and_whole_arguments
    tests/e2e/test_workers.py::test_chat_stream_failover_and_cache_work_on_each_worker
    tests/e2e/test_responses_api.py::test_a_function_tool_round_trip
    tests/e2e/test_responses_api.py::test_streaming_events_in_openai_order_with_usage_at_the_end
    tests/e2e/test_messages_api.py::test_a_tool_round_trip
    tests/e2e/test_messages_api.py::test_streaming_keeps_anthropics_event_order_and_ends_with_usage
    tests/e2e/test_cache_cost_redaction.py::test_canonical_key_ignores_key_order_and_whitespace
    tests/e2e/test_pool_and_access.py::test_per_client_rate_limit_hits_only_that_client
    tests/e2e/test_responses_api.py::test_previous_response_id_continues_the_conversation
)

# And with every router that would run in stock mitmdump run instead in the lean runner, whose
# reverse port is the router's own front (edge/reversefront.py; HPN_TEST_RUNNER): chat and the
# SDKs' helpers, Responses, Messages, the core routing (failover, cancellation on disconnect) and
# the real CLIs. The whole e2e suite that way: HPN_TEST_RUNNER=runner ./run.sh test tests/e2e
FRONT_SUBSET=(
    tests/e2e/test_openai_surface.py
    tests/e2e/test_responses_api.py
    tests/e2e/test_messages_api.py
    tests/e2e/test_core_router.py
    tests/e2e/test_cli_tools.py
)

case "${1:-}" in
    test)
        shift
        setup test
        ensure_chromium
        ensure_redis
        test_clients
        if [ $# -gt 0 ]; then
            exec "$VENV/bin/python" -m pytest "$@"
        fi
        lint
        # Coverage is measured in this process only (unit, hook and in-process e2e code), not
        # inside the mitmdump subprocesses; the floor is [tool.coverage.report] fail_under.
        "$VENV/bin/python" -m pytest --cov --cov-report=
        echo "hpn-router: e2e files again, every router in the lean runner with its reverse front (HPN_TEST_RUNNER=runner)" >&2
        HPN_TEST_RUNNER=runner "$VENV/bin/python" -m pytest -q "${FRONT_SUBSET[@]}"
        echo "hpn-router: the e2e subset again, every router as 2 workers with Redis (HPN_TEST_WORKERS=2)" >&2
        HPN_TEST_WORKERS=2 exec "$VENV/bin/python" -m pytest -q "${WORKERS_SUBSET[@]}"
        ;;
    lint)
        shift
        setup test
        lint
        ;;
    setup)
        setup ""
        ;;
    --demo)
        shift
        setup ""
        demo "$@"
        ;;
    *)
        setup ""
        start_router "$@"
        ;;
esac
