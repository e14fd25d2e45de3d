#!/usr/bin/env bash
# HPN Router launcher. Sets up .venv on first use, then:
#   ./run.sh [mitmdump args...]   start the router (reverse proxy on server.host:server.port)
#   ./run.sh --demo [args...]     start the Gemini emulator + the router with three demo keys
#   ./run.sh test [pytest args]   install test dependencies and run the whole test suite
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${HPN_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
cd "$ROOT"

setup() {  # $1: "" or "test"
    local extra="$1" stamp
    if [ ! -x "$VENV/bin/python" ]; then
        echo "hpn-router: creating $VENV" >&2
        "$PY" -m venv "$VENV"
    fi
    stamp="$VENV/.hpn-installed-$(sha1sum pyproject.toml | cut -c1-12)${extra:+-$extra}"
    if [ ! -f "$stamp" ]; then
        echo "hpn-router: installing dependencies into $VENV" >&2
        "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
        "$VENV/bin/python" -m pip install --quiet -e ".${extra:+[$extra]}" >&2
        "$VENV/bin/python" -m pip check >&2
        touch "$stamp"
    fi
}

listen_address() {  # validates the config; prints "HOST PORT"
    "$VENV/bin/python" -m hpn_router check
}

start_router() {
    local host port
    read -r host port < <(listen_address) || exit 1
    if [ "$host" != "127.0.0.1" ] && [ "$host" != "localhost" ] && [ "$host" != "::1" ]; then
        echo "hpn-router: WARNING: listening on $host:$port exposes your key pool to the network." >&2
    fi
    echo "hpn-router: OpenAI base_url = http://$host:$port/v1" >&2
    exec "$VENV/bin/mitmdump" -s "$ROOT/addons/router.py" \
        --mode "reverse:https://generativelanguage.googleapis.com@$host:$port" \
        --set connection_strategy=lazy --set flow_detail=0 "$@"
}

demo() {
    local port_file emulator_pid
    port_file="$(mktemp)"
    "$VENV/bin/python" -m gemini_emulator --port 0 --scenario "$ROOT/configs/emulator/demo.yaml" >"$port_file" &
    emulator_pid=$!
    trap 'kill "$emulator_pid" 2>/dev/null || true; rm -f "$port_file"' EXIT INT TERM
    for _ in $(seq 100); do grep -q listening "$port_file" && break; sleep 0.1; done
    local url
    url="$(grep -o 'http://127.0.0.1:[0-9]*' "$port_file" | head -1)"
    [ -n "$url" ] || { echo "hpn-router: the emulator did not start" >&2; exit 1; }
    export HPN_GEMINI_BASE_URL="$url"
    export HPN_API_KEYS="$("$VENV/bin/python" -c 'import yaml,sys; print(",".join(k["key"] for k in yaml.safe_load(open(sys.argv[1]))["keys"]))' "$ROOT/configs/emulator/demo.yaml")"
    export HPN_CONFIG="${HPN_CONFIG:-$ROOT/configs/demo.yaml}"
    local port="${HPN_PORT:-8080}"
    cat >&2 <<MSG
hpn-router demo: Gemini emulator at $url with three demo keys (key_2 runs out after 3 requests).
Try:
  curl -s http://127.0.0.1:$port/v1/chat/completions -H 'Content-Type: application/json' \\
       -d '{"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello!"}]}'
  curl -s http://127.0.0.1:$port/health
MSG
    read -r host port < <(listen_address) || exit 1
    "$VENV/bin/mitmdump" -s "$ROOT/addons/router.py" \
        --mode "reverse:https://generativelanguage.googleapis.com@$host:$port" \
        --set connection_strategy=lazy --set flow_detail=0 "$@"
}

case "${1:-}" in
    test)
        shift
        setup test
        exec "$VENV/bin/python" -m pytest "$@"
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
