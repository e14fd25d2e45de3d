"""One typed configuration for the router, validated once at load.

`load_config(path, env)` reads the YAML file (if any), applies the environment overrides
(environment beats the file) and returns a frozen `RouterConfig`. Every problem raises
`ConfigError` with a path-qualified message such as
`key_pool.keys[2].enabled: expected true/false, got "yes please"`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml

from hpn_router.configfields import (
    ConfigError,
    as_bool,
    as_choice,
    as_decimal,
    as_int,
    as_mapping,
    as_origin,
    as_str,
    as_url,
    reject_unknown,
    show,
)

DEFAULT_GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
# Hard-coded model versions get shut down (docs/gemini-wire-format.md#models-get-shut-down); the alias follows Google's
# current Flash model.
DEFAULT_MODEL = "gemini-flash-latest"
DEFAULT_EMBEDDING_MODEL = "gemini-embedding-001"
DEFAULT_INTERCEPT_HOSTS = ("api.openai.com",)
DEFAULT_STATE_FILE = ".hpn/state.json"  # relative to the working directory
NO_KEYS_HINT = (
    "key_pool.keys: no API keys configured. Set HPN_API_KEYS=key1,key2 or add keys to the "
    "config file; to try the router without a key, run ./run.sh --demo"
)


def key_fingerprint(value: str) -> str:
    """A non-secret identity of a key value, for the state file: SHA-256 of the whole value
    (a Gemini key holds far too much entropy to be guessed back from its digest). Never
    shown where the key's name serves: logs, the admin API and /health use names."""
    return hashlib.sha256(b"hpn-router key\0" + value.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyConfig:
    name: str
    key: str = field(repr=False)  # never in a repr, so never in a traceback or log
    provider: str = "google"
    enabled: bool = True
    project: str | None = None
    fingerprint: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fingerprint", key_fingerprint(self.key))

    @property
    def project_id(self) -> str:
        """Quotas belong to a Cloud project; a key without one is its own project, named by
        the key's value (not its name, which moves to another key when keys are reordered)."""
        return self.project or f"key:{self.fingerprint}"

    @property
    def project_label(self) -> str:
        """The project as users see it (admin API): a key without one shows its own name."""
        return self.project or f"key:{self.name}"


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    read_timeout_seconds: int = 30
    write_timeout_seconds: int = 30
    # Who may use the router (empty: anyone who can reach it; see README "Client tokens").
    client_tokens: tuple[str, ...] = field(default=(), repr=False)
    admin_token: str | None = field(default=None, repr=False)
    client_rpm: int = 0  # requests per minute per client token (0: unlimited)
    max_body_bytes: int = 32 * 1024 * 1024  # inline images and PDFs are large, but bounded
    max_json_depth: int = 64
    # JSON elements (containers, strings, commas between values) a body may hold: parsing
    # millions of tiny objects costs a gigabyte and seconds of the one event loop.
    max_json_items: int = 500_000
    header_timeout_seconds: int = 30  # a client must finish its request headers within this
    idle_timeout_seconds: int = 120  # a keep-alive connection with no request is closed after this
    proxy_port: int = 8888  # the regular (HTTPS_PROXY) listener; 8081 is mitmweb's own UI
    confdir: str = "~/.mitmproxy"  # mitmproxy's confdir: where its CA lives
    mitmweb_max_flows: int = 1000  # flows mitmweb keeps in memory (the oldest finished go)
    # Web origins whose pages may call the router from a browser (exact origins, or "*" alone,
    # which needs client tokens); empty: no CORS headers, browsers refuse cross-origin calls.
    cors_origins: tuple[str, ...] = ()
    # The proxy listener (see README "Proxy mode"): whether it forwards hosts it does not
    # intercept, whether those may be internal addresses, and whether it may open without
    # client tokens beyond loopback.
    passthrough: bool = True
    passthrough_private: bool = False
    proxy_open: bool = False


@dataclass(frozen=True, slots=True)
class QuotaLimit:
    """A known budget of one Cloud project for one model ("*": every model)."""

    project: str
    model: str = "*"
    rpm: int | None = None
    rpd: int | None = None
    tpm: int | None = None


@dataclass(frozen=True, slots=True)
class KeyPoolConfig:
    strategy: Literal["round-robin"] = "round-robin"
    retry_count: int = 3
    cooldown_seconds: int = 60
    keys: tuple[KeyConfig, ...] = ()
    max_wait_seconds: int = 10  # a request waits this long for the earliest key recovery
    retry_backoff_ms: int = 200  # before retrying after a 5xx/timeout, doubled each time
    limits: tuple[QuotaLimit, ...] = ()
    state_file: str = DEFAULT_STATE_FILE  # pool state kept across restarts ("" = none)


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: Literal["debug", "info", "warn", "warning", "error"] = "info"
    format: Literal["json", "text"] = "json"


@dataclass(frozen=True, slots=True)
class GeminiConfig:
    base_url: str = DEFAULT_GEMINI_BASE_URL
    default_model: str = DEFAULT_MODEL
    default_embedding_model: str = DEFAULT_EMBEDDING_MODEL
    expose_reasoning: bool = False


@dataclass(frozen=True, slots=True)
class CacheConfig:
    enabled: bool = True
    ttl_seconds: int = 300
    max_entries: int = 1000
    max_bytes: int = 64 * 1024 * 1024
    # Sampled requests (temperature > 0, n > 1) are cached too: a flash cache exists for
    # duplicate requests, and a client that retries the identical request expects the
    # answer it already paid for. Users who want fresh samples send Cache-Control: no-cache.
    cache_sampled: bool = True


@dataclass(frozen=True, slots=True)
class PriceConfig:
    input_per_million: Decimal
    output_per_million: Decimal


@dataclass(frozen=True, slots=True)
class PricingConfig:
    as_of: str = "2024-01-25"
    default: PriceConfig = PriceConfig(Decimal("0.50"), Decimal("1.50"))
    models: Mapping[str, PriceConfig] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RouterConfig:
    server: ServerConfig = ServerConfig()
    key_pool: KeyPoolConfig = KeyPoolConfig()
    logging: LoggingConfig = LoggingConfig()
    gemini: GeminiConfig = GeminiConfig()
    models: Mapping[str, str] = field(default_factory=dict)
    cache: CacheConfig = CacheConfig()
    pricing: PricingConfig = PricingConfig()
    # Hosts whose HTTPS traffic the proxy listener decrypts and answers from the pool;
    # every other host is tunnelled untouched.
    intercept_hosts: tuple[str, ...] = DEFAULT_INTERCEPT_HOSTS

    def named_keys(self) -> dict[str, str]:
        """Key name -> key value, for redaction."""
        return {k.name: k.key for k in self.key_pool.keys}


# ---------------------------------------------------------------------------------------
# Sections


SERVER_FIELDS = {
    "host",
    "port",
    "read_timeout_seconds",
    "write_timeout_seconds",
    "client_tokens",
    "admin_token",
    "client_rpm",
    "max_body_bytes",
    "max_json_depth",
    "max_json_items",
    "header_timeout_seconds",
    "idle_timeout_seconds",
    "proxy_port",
    "confdir",
    "mitmweb_max_flows",
    "cors_origins",
    "passthrough",
    "passthrough_private",
    "proxy_open",
}


def _tokens(value: Any, path: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ConfigError(f"{path}: expected a list of tokens or a comma-separated string")
    tokens = tuple(as_str(t, f"{path}[{i}]") for i, t in enumerate(items) if not (isinstance(t, str) and not t.strip()))
    for i, token in enumerate(tokens):
        if len(token) < 16:  # the message never shows the token
            raise ConfigError(f"{path}[{i}]: too short; use at least 16 random characters")
    return tokens


def _optional_token(value: Any, path: str) -> str | None:
    tokens = _tokens(value, path) if value else ()
    if len(tokens) > 1:
        raise ConfigError(f"{path}: expected one token")
    return tokens[0] if tokens else None


def _cors_origins(raw: Any, client_tokens: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f'server.cors_origins: expected a list of origins (https://app.example.com) or ["*"], got {show(raw)}')
    if "*" in raw:
        if len(raw) > 1:
            raise ConfigError('server.cors_origins: "*" must be the only entry (it allows every origin)')
        if not client_tokens:
            # Without tokens, any web page the user happens to open could spend the pool's keys
            # through the user's browser and read the answers.
            raise ConfigError('server.cors_origins: "*" needs server.client_tokens; without them, list the exact origins instead')
        return ("*",)
    return tuple(dict.fromkeys(as_origin(v, f"server.cors_origins[{i}]") for i, v in enumerate(raw)))


def _server(raw: Any, env: Mapping[str, str]) -> ServerConfig:
    data = as_mapping(raw, "server")
    reject_unknown(data, SERVER_FIELDS, "server")
    d = ServerConfig()
    client_tokens = _tokens(env.get("HPN_CLIENT_TOKENS") or data.get("client_tokens"), "server.client_tokens")
    admin_token = _optional_token(env.get("HPN_ADMIN_TOKEN") or data.get("admin_token"), "server.admin_token")
    if admin_token is not None and admin_token in client_tokens:
        # Every client could use the admin API; the message never shows the token.
        raise ConfigError(
            "server.admin_token: the same value as a client token (server.client_tokens); give the admin API a token of its own"
        )
    return ServerConfig(
        client_tokens=client_tokens,
        admin_token=admin_token,
        cors_origins=_cors_origins(data.get("cors_origins"), client_tokens),
        client_rpm=as_int(data.get("client_rpm", d.client_rpm), "server.client_rpm"),
        max_body_bytes=as_int(data.get("max_body_bytes", d.max_body_bytes), "server.max_body_bytes", minimum=1024),
        max_json_depth=as_int(data.get("max_json_depth", d.max_json_depth), "server.max_json_depth", minimum=2, maximum=500),
        max_json_items=as_int(data.get("max_json_items", d.max_json_items), "server.max_json_items", minimum=100),
        header_timeout_seconds=as_int(
            data.get("header_timeout_seconds", d.header_timeout_seconds), "server.header_timeout_seconds", minimum=1
        ),
        idle_timeout_seconds=as_int(data.get("idle_timeout_seconds", d.idle_timeout_seconds), "server.idle_timeout_seconds", minimum=1),
        host=as_str(data.get("host", d.host), "server.host"),
        port=as_int(data.get("port", d.port), "server.port", minimum=1, maximum=65535),
        proxy_port=as_int(data.get("proxy_port", d.proxy_port), "server.proxy_port", minimum=1, maximum=65535),
        confdir=as_str(data.get("confdir", d.confdir), "server.confdir"),
        mitmweb_max_flows=as_int(data.get("mitmweb_max_flows", d.mitmweb_max_flows), "server.mitmweb_max_flows", minimum=1),
        read_timeout_seconds=as_int(data.get("read_timeout_seconds", d.read_timeout_seconds), "server.read_timeout_seconds", minimum=1),
        write_timeout_seconds=as_int(data.get("write_timeout_seconds", d.write_timeout_seconds), "server.write_timeout_seconds", minimum=1),
        passthrough=as_bool(data.get("passthrough", d.passthrough), "server.passthrough"),
        passthrough_private=as_bool(data.get("passthrough_private", d.passthrough_private), "server.passthrough_private"),
        proxy_open=as_bool(data.get("proxy_open", d.proxy_open), "server.proxy_open"),
    )


def _listeners_env(server: ServerConfig, env: Mapping[str, str]) -> ServerConfig:
    if env.get("HPN_PROXY_PORT"):
        server = replace(server, proxy_port=as_int(env["HPN_PROXY_PORT"], "HPN_PROXY_PORT", minimum=1, maximum=65535))
    if env.get("HPN_CONFDIR"):
        server = replace(server, confdir=as_str(env["HPN_CONFDIR"], "HPN_CONFDIR"))
    if server.proxy_port == server.port:
        raise ConfigError(f"server.proxy_port: {server.port} is server.port too; give the proxy listener another port (HPN_PROXY_PORT)")
    return server


# A DNS name, lower case: no scheme, port, path or wildcard.
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def _intercept_hosts(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return DEFAULT_INTERCEPT_HOSTS
    if not isinstance(raw, list):
        raise ConfigError(f"intercept_hosts: expected a list of host names, got {show(raw)}")
    hosts = []
    for i, value in enumerate(raw):
        host = as_str(value, f"intercept_hosts[{i}]").lower().rstrip(".")
        if not _HOST_NAME.match(host):
            raise ConfigError(
                f"intercept_hosts[{i}]: expected a host name such as api.openai.com (no scheme, port or path), got {show(value)}"
            )
        hosts.append(host)
    return tuple(dict.fromkeys(hosts))


def _key(raw: Any, path: str, env: Mapping[str, str]) -> KeyConfig:
    data = as_mapping(raw, path)
    reject_unknown(data, {"name", "key", "key_env", "provider", "enabled", "project"}, path)
    if ("key" in data) == ("key_env" in data):
        raise ConfigError(f"{path}: give exactly one of key or key_env")
    if "key_env" in data:
        var = as_str(data["key_env"], f"{path}.key_env")
        if not env.get(var, "").strip():
            raise ConfigError(f"{path}.key_env: environment variable {var} is not set or empty")
        key = env[var].strip()
    else:
        key = as_str(data["key"], f"{path}.key")
    provider = as_choice(data.get("provider", "google"), f"{path}.provider", ("google",))
    project = data.get("project")
    return KeyConfig(
        name=as_str(data.get("name"), f"{path}.name"),
        key=key,
        provider=provider,
        enabled=as_bool(data.get("enabled", True), f"{path}.enabled"),
        project=None if project is None else as_str(project, f"{path}.project"),
    )


def _keys_from_env(value: str, projects_value: str) -> tuple[KeyConfig, ...]:
    keys = [k.strip() for k in value.split(",") if k.strip()]
    projects = [p.strip() for p in projects_value.split(",")] if projects_value.strip() else []
    if projects and len(projects) != len(keys):
        raise ConfigError(f"HPN_KEY_PROJECTS: expected {len(keys)} project names (one per key of HPN_API_KEYS), got {len(projects)}")
    return tuple(
        KeyConfig(name=f"key_{i}", key=k, project=(projects[i - 1] or None) if projects else None) for i, k in enumerate(keys, start=1)
    )


def _key_pool(raw: Any, env: Mapping[str, str]) -> KeyPoolConfig:
    data = as_mapping(raw, "key_pool")
    reject_unknown(data, KEY_POOL_FIELDS, "key_pool")
    raw_keys = data.get("keys") or []
    if not isinstance(raw_keys, list):
        raise ConfigError(f"key_pool.keys: expected a list, got {show(raw_keys)}")
    if env.get("HPN_API_KEYS", "").strip():
        keys = _keys_from_env(env["HPN_API_KEYS"], env.get("HPN_KEY_PROJECTS", ""))  # replaces the file's keys
    else:
        keys = tuple(_key(k, f"key_pool.keys[{i}]", env) for i, k in enumerate(raw_keys))
    _check_unique(keys)
    return KeyPoolConfig(
        strategy=as_choice(data.get("strategy", "round-robin"), "key_pool.strategy", ("round-robin",)),  # type: ignore[arg-type]
        retry_count=as_int(data.get("retry_count", 3), "key_pool.retry_count", maximum=20),
        cooldown_seconds=as_int(data.get("cooldown_seconds", 60), "key_pool.cooldown_seconds"),
        keys=keys,
        max_wait_seconds=as_int(data.get("max_wait_seconds", 10), "key_pool.max_wait_seconds", maximum=600),
        retry_backoff_ms=as_int(data.get("retry_backoff_ms", 200), "key_pool.retry_backoff_ms", maximum=60000),
        limits=_limits(data.get("limits")),
        state_file=_state_file(data, env),
    )


def _state_file(data: Mapping[str, Any], env: Mapping[str, str]) -> str:
    """HPN_STATE_FILE beats key_pool.state_file; an empty value keeps no state."""
    if "HPN_STATE_FILE" in env:
        return env["HPN_STATE_FILE"].strip()
    value = data.get("state_file", DEFAULT_STATE_FILE)
    if value is None or value == "":
        return ""
    return as_str(value, "key_pool.state_file")


KEY_POOL_FIELDS = {
    "strategy",
    "retry_count",
    "cooldown_seconds",
    "keys",
    "max_wait_seconds",
    "retry_backoff_ms",
    "limits",
    "state_file",
}


def _limits(raw: Any) -> tuple[QuotaLimit, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"key_pool.limits: expected a list, got {show(raw)}")
    limits = []
    for i, item in enumerate(raw):
        path = f"key_pool.limits[{i}]"
        data = as_mapping(item, path)
        reject_unknown(data, {"project", "model", "rpm", "rpd", "tpm"}, path)
        numbers = {n: as_int(data[n], f"{path}.{n}", minimum=1) for n in ("rpm", "rpd", "tpm") if n in data}
        if not numbers:
            raise ConfigError(f"{path}: give at least one of rpm, rpd, tpm")
        model = _model_id(data.get("model", "*"), f"{path}.model") if data.get("model", "*") != "*" else "*"
        limits.append(QuotaLimit(project=as_str(data.get("project"), f"{path}.project"), model=model, **numbers))
    return tuple(limits)


def _check_unique(keys: tuple[KeyConfig, ...]) -> None:
    seen_names: set[str] = set()
    seen_values: set[str] = set()
    for i, k in enumerate(keys):
        if k.name in seen_names:
            raise ConfigError(f"key_pool.keys[{i}].name: duplicate key name {show(k.name)}")
        if k.key in seen_values:  # the message never shows the value itself
            raise ConfigError(f"key_pool.keys[{i}].key: same key value as an earlier key")
        seen_names.add(k.name)
        seen_values.add(k.key)
    if not any(k.enabled for k in keys):
        raise ConfigError(NO_KEYS_HINT)


def _logging(raw: Any, env: Mapping[str, str]) -> LoggingConfig:
    data = as_mapping(raw, "logging")
    reject_unknown(data, {"level", "format"}, "logging")
    level_path = "HPN_LOG_LEVEL" if env.get("HPN_LOG_LEVEL") else "logging.level"
    level = env.get("HPN_LOG_LEVEL") or data.get("level", "info")
    return LoggingConfig(
        level=as_choice(level, level_path, ("debug", "info", "warn", "warning", "error")),  # type: ignore[arg-type]
        format=as_choice(data.get("format", "json"), "logging.format", ("json", "text")),  # type: ignore[arg-type]
    )


def _gemini(raw: Any, env: Mapping[str, str]) -> GeminiConfig:
    data = as_mapping(raw, "gemini")
    reject_unknown(data, {"base_url", "default_model", "default_embedding_model", "expose_reasoning"}, "gemini")
    base_path = "HPN_GEMINI_BASE_URL" if env.get("HPN_GEMINI_BASE_URL") else "gemini.base_url"
    return GeminiConfig(
        base_url=as_url(env.get("HPN_GEMINI_BASE_URL") or data.get("base_url", DEFAULT_GEMINI_BASE_URL), base_path),
        default_model=_model_id(data.get("default_model", DEFAULT_MODEL), "gemini.default_model"),
        default_embedding_model=_model_id(data.get("default_embedding_model", DEFAULT_EMBEDDING_MODEL), "gemini.default_embedding_model"),
        expose_reasoning=as_bool(data.get("expose_reasoning", False), "gemini.expose_reasoning"),
    )


def _model_id(value: Any, path: str) -> str:
    text = as_str(value, path).removeprefix("models/")
    if "/" in text or ":" in text or " " in text:
        raise ConfigError(f"{path}: not a model id: {show(value)}")
    return text


def _models(raw: Any) -> dict[str, str]:
    data = as_mapping(raw, "models")
    return {as_str(name, "models"): _model_id(target, f"models.{name}") for name, target in data.items()}


def _cache(raw: Any) -> CacheConfig:
    data = as_mapping(raw, "cache")
    allowed = {"enabled", "ttl_seconds", "max_entries", "max_bytes", "cache_sampled"}
    reject_unknown(data, allowed, "cache")
    d = CacheConfig()
    return CacheConfig(
        enabled=as_bool(data.get("enabled", d.enabled), "cache.enabled"),
        ttl_seconds=as_int(data.get("ttl_seconds", d.ttl_seconds), "cache.ttl_seconds", minimum=1),
        max_entries=as_int(data.get("max_entries", d.max_entries), "cache.max_entries", minimum=1),
        max_bytes=as_int(data.get("max_bytes", d.max_bytes), "cache.max_bytes", minimum=1024),
        cache_sampled=as_bool(data.get("cache_sampled", d.cache_sampled), "cache.cache_sampled"),
    )


def _price(raw: Any, path: str) -> PriceConfig:
    data = as_mapping(raw, path)
    reject_unknown(data, {"input_per_million", "output_per_million"}, path)
    for name in ("input_per_million", "output_per_million"):
        if name not in data:
            raise ConfigError(f"{path}.{name}: required")
    return PriceConfig(
        as_decimal(data["input_per_million"], f"{path}.input_per_million"),
        as_decimal(data["output_per_million"], f"{path}.output_per_million"),
    )


def _pricing(raw: Any) -> PricingConfig:
    data = as_mapping(raw, "pricing")
    reject_unknown(data, {"as_of", "default", "models"}, "pricing")
    d = PricingConfig()
    models = as_mapping(data.get("models"), "pricing.models")
    return PricingConfig(
        as_of=as_str(str(data.get("as_of", d.as_of)), "pricing.as_of"),
        default=_price(data["default"], "pricing.default") if "default" in data else d.default,
        models={name: _price(p, f"pricing.models.{name}") for name, p in models.items()},
    )


SECTIONS = {"server", "key_pool", "logging", "gemini", "models", "cache", "pricing", "intercept_hosts"}


def parse_config(raw: Any, env: Mapping[str, str]) -> RouterConfig:
    """Validate a parsed YAML document (plus environment overrides) into a RouterConfig."""
    data = as_mapping(raw, "config")
    reject_unknown(data, SECTIONS, "")
    server = _server(data.get("server"), env)
    if env.get("HPN_HOST"):
        server = replace(server, host=as_str(env["HPN_HOST"], "HPN_HOST"))
    if env.get("HPN_PORT"):
        server = replace(server, port=as_int(env["HPN_PORT"], "HPN_PORT", minimum=1, maximum=65535))
    server = _listeners_env(server, env)
    return RouterConfig(
        server=server,
        key_pool=_key_pool(data.get("key_pool"), env),
        logging=_logging(data.get("logging"), env),
        gemini=_gemini(data.get("gemini"), env),
        models=_models(data.get("models")),
        cache=_cache(data.get("cache")),
        pricing=_pricing(data.get("pricing")),
        intercept_hosts=_intercept_hosts(data.get("intercept_hosts")),
    )


def load_config(path: str | None, env: Mapping[str, str]) -> RouterConfig:
    """Load `path` (or `HPN_CONFIG`, or no file at all) and apply the environment."""
    path = env.get("HPN_CONFIG") or path
    raw: Any = {}
    if path:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"config file {path}: not found")
        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            # The YAML parser's message quotes the offending line, which could hold a key.
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(f"config file {path}: invalid YAML{where}") from None
    return parse_config(raw, env)
