"""The Dockerfile and the systemd unit carry their essential lines (no Docker engine or
systemd here to run them), and run.sh starts what the README says."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
import yaml
from hpn_router.config import RouterConfig
from hpn_router.config.fields import declared_fields

REPO = Path(__file__).resolve().parents[1]


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (REPO / "Dockerfile").read_text())
    pairs = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, args = line.strip().partition(" ")
            pairs.append((instruction.upper(), args.strip()))
    return pairs


def test_dockerfile_essentials():
    steps = dockerfile()
    instructions = [i for i, _ in steps]
    args = {i: [a for j, a in steps if j == i] for i in instructions}
    assert steps[0] == ("FROM", "python:3.11-slim")
    env = " ".join(args["ENV"])
    assert "HPN_HOST=0.0.0.0" in env
    assert "HPN_API_KEYS" not in env  # keys come at run time, never from the image
    assert any("./run.sh setup" in a for a in args["RUN"])
    user = args["USER"][-1]
    assert user not in ("root", "0") and instructions.index("USER") > max(i for i, s in enumerate(steps) if s[0] == "RUN")
    assert args["EXPOSE"] == ["8080 8888"]
    assert "/health" in args["HEALTHCHECK"][0]
    assert args["CMD"] == ['["./run.sh"]']
    for source in (a.split()[:-1] for a in args["COPY"]):
        assert all((REPO / s).exists() for s in source), source


def test_dockerignore_keeps_local_configs_and_venvs_out():
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {"configs/config.yaml", ".venv", ".git"} <= set(ignored)


def _emulator_packages(folder: Path) -> list[Path]:
    return [init.parent for init in folder.rglob("__init__.py") if "emulator" in init.parent.name]


def test_image_leaves_the_emulators_out():
    """The emulators are test and demo tools: the image gets only the router's sources."""
    sources = [s for a in (a for i, a in dockerfile() if i == "COPY") for s in a.split()[:-1]]
    assert "." not in sources and not any(s.startswith("emulators") for s in sources)
    for source in (REPO / s for s in sources if (REPO / s).is_dir()):
        assert _emulator_packages(source) == [], source
    assert "emulators" in (REPO / ".dockerignore").read_text().split()


def wheel_packages() -> list[str]:
    """The packages setuptools' find puts in the router's wheel, as pyproject.toml configures it."""
    find = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert all(pattern.startswith("hpn_router") for pattern in find["include"]), find["include"]
    found = []
    for where in (REPO / w for w in find["where"]):
        for init in where.rglob("__init__.py"):
            name = ".".join(init.parent.relative_to(where).parts)
            if any(fnmatch(name, pattern) for pattern in find["include"]):
                found.append(name)
    return found


def test_wheel_holds_the_router_and_no_emulator():
    packages = wheel_packages()
    assert "hpn_router" in packages
    assert [p for p in packages if p.split(".")[0] != "hpn_router"] == []
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"].get("scripts", {})
    assert not any("emulator" in target for target in scripts.values())  # a command the wheel cannot run


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(REPO / "deploy" / "hpn-router.service")
    return parser


def test_systemd_unit_essentials():
    service = unit()["Service"]
    assert service["User"] == "hpn-router"
    assert service["EnvironmentFile"] == "/etc/hpn-router.env"
    assert service["ExecStart"] == "/opt/hpn-router/run.sh"
    env = dict(item.split("=", 1) for item in service["Environment"].split())
    assert env["HPN_VENV"] == "/opt/hpn-router/.venv"
    for setting, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes"}.items():
        assert service[setting] == value
    writable = service["ReadWritePaths"].split()
    assert any(env["HPN_CONFDIR"].startswith(path) for path in writable)  # mitmproxy's CA
    assert "/opt/hpn-router/.hpn" in writable  # the pool state file
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_unit_parses(tmp_path):
    result = subprocess.run(
        ["systemd-analyze", "verify", str(REPO / "deploy" / "hpn-router.service")], capture_output=True, text=True, timeout=60
    )
    complaints = [
        line for line in (result.stdout + result.stderr).splitlines() if "/opt/hpn-router/run.sh" not in line
    ]  # not installed on this machine
    assert complaints == []


def test_run_sh_starts_both_listeners_and_prints_the_proxy_lines():
    script = (REPO / "run.sh").read_text()
    assert '--mode "reverse:https://generativelanguage.googleapis.com@$host:$port"' in script
    assert '--mode "regular@$host:$proxy_port"' in script
    assert '--set "confdir=$confdir"' in script
    for line in ("export HTTPS_PROXY=", "SSL_CERT_FILE=$bundle", "REQUESTS_CA_BUNDLE=$bundle", "NODE_EXTRA_CA_CERTS=$ca"):
        assert line in script
    assert "--web-host 127.0.0.1" in script


def run_ensure_chromium(tmp_path: Path, uid: int) -> tuple[subprocess.CompletedProcess[str], str]:
    """run.sh's ensure_chromium alone, with chromium missing, as `uid`, against a fake apt-get
    (it records its arguments and installs nothing): the real one is never called."""
    fake = tmp_path / "bin"
    fake.mkdir(parents=True)
    calls = tmp_path / "apt-calls"
    (fake / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (fake / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    for tool in ("id", "apt-get"):
        (fake / tool).chmod(0o755)
    script = (REPO / "run.sh").read_text()
    function = re.search(r"^ensure_chromium\(\) \{.*?^\}", script, re.S | re.M)
    assert function is not None
    body = f"set -euo pipefail\nCHROMIUM={tmp_path}/no-chromium\n{function.group(0)}\nensure_chromium\n"
    env = {"PATH": f"{fake}:/usr/bin:/bin"}
    result = subprocess.run(["bash", "-c", body], capture_output=True, text=True, env=env, timeout=30)
    return result, calls.read_text() if calls.exists() else ""


def test_run_sh_test_installs_chromium_as_root_or_says_what_to_install(tmp_path):
    script = (REPO / "run.sh").read_text()
    assert "        setup test\n        ensure_chromium\n" in script  # every ./run.sh test
    assert "playwright install" not in script  # Playwright's own browser download: never
    as_root, calls = run_ensure_chromium(tmp_path / "root", 0)
    assert "install -y chromium" in calls
    assert as_root.returncode == 1 and "apt-get install -y chromium" in as_root.stderr  # the fake installed nothing
    as_user, calls = run_ensure_chromium(tmp_path / "user", 1000)
    assert calls == "" and as_user.returncode == 1 and "apt-get install -y chromium" in as_user.stderr
    present = subprocess.run(
        ["bash", "-c", re.search(r"^ensure_chromium\(\) \{.*?^\}", script, re.S | re.M).group(0) + "\nCHROMIUM=/bin/sh\nensure_chromium"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert present.returncode == 0 and present.stderr == ""


def test_the_demo_prints_the_dashboard_url():
    assert "The live dashboard: http://127.0.0.1:$port/dashboard" in (REPO / "run.sh").read_text()


# -- deployment for a team: docker compose and Kubernetes ------------------------------------

DEPLOY = REPO / "deploy"
# Every variable a deployment file may set: the config's own (config/model.py), and HPN_CONFIG.
KNOWN_ENV = {d.setting.env for d in declared_fields(RouterConfig) if d.setting.env} | {"HPN_CONFIG"}


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def router_services(services: dict) -> dict[str, dict]:
    return {name: s for name, s in services.items() if s.get("image") == "hpn-router"}


def test_compose_runs_two_router_replicas_on_one_redis_behind_one_port():
    services = compose()["services"]
    routers = router_services(services)
    assert len(routers) >= 2
    for name, router in routers.items():
        env = router["environment"]
        assert set(env) <= KNOWN_ENV, name
        assert env["HPN_REDIS_URL"].startswith("redis://redis:") and "redis" in services
        assert env["HPN_API_KEYS"].startswith("${HPN_API_KEYS:?")  # from the shell, never in the file
        assert env["HPN_CLIENT_TOKENS"].startswith("${HPN_CLIENT_TOKENS:?")  # required beyond loopback
        assert router["build"]["context"] == ".." and (DEPLOY / router["build"]["context"] / "Dockerfile").is_file()
        assert "ports" not in router  # reached through the balancer only
    redis_args = services["redis"]["command"]
    assert redis_args[redis_args.index("--maxmemory-policy") + 1] == "allkeys-lru"
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert published == ["127.0.0.1:8080:8080", "127.0.0.1:8888:8888"]  # one entry, on loopback


def test_the_balancer_spreads_both_listeners_over_every_replica_and_checks_health():
    config = (DEPLOY / "haproxy.cfg").read_text()
    assert compose()["services"]["balancer"]["volumes"] == ["./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"]
    for name in router_services(compose()["services"]):
        assert f"server {name} {name}:8080" in config and f"server {name} {name}:8888" in config
    assert "option httpchk GET /health" in config and "mode tcp" in config


def k8s_documents() -> dict[tuple[str, str], dict]:
    docs = [d for path in sorted((DEPLOY / "k8s").glob("*.yaml")) for d in yaml.safe_load_all(path.read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def test_kubernetes_router_deployment_probes_health_takes_keys_from_the_secret_and_finds_redis():
    docs = k8s_documents()
    deployment = docs[("Deployment", "hpn-router")]
    assert deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]
    [container] = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"reverse": 8080, "proxy": 8888}
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "reverse"}
    env = {e["name"]: e for e in container["env"]}
    assert set(env) <= KNOWN_ENV
    secret = docs[("Secret", "hpn-router-secrets")]
    refs = [e["valueFrom"]["secretKeyRef"] for e in env.values() if "valueFrom" in e]
    assert {r["key"] for r in refs} >= {"HPN_API_KEYS", "HPN_CLIENT_TOKENS"}
    for ref in refs:
        assert ref["name"] == "hpn-router-secrets" and ref["key"] in secret["stringData"]
    assert all("value" not in env[name] for name in ("HPN_API_KEYS", "HPN_CLIENT_TOKENS", "HPN_ADMIN_TOKEN"))
    redis_host = env["HPN_REDIS_URL"]["value"].split("//", 1)[1].split(":", 1)[0]
    assert ("Service", redis_host) in docs and ("Deployment", redis_host) in docs
    service = docs[("Service", "hpn-router")]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert pod["spec"]["terminationGracePeriodSeconds"] > 30  # room for the 30 s drain
