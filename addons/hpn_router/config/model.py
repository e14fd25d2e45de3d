"""The router's configuration: frozen dataclasses whose every field is declared once.

Each field's line holds its type, default, kind (how it is read and checked, bounds included),
environment variable and help text (`config/fields.py`); the README's configuration table is
checked against these declarations (tests/config/test_readme_table.py). Consumers read plain
attributes: `config.server.port`, `config.key_pool.keys[0].name`, `config.gemini.base_url`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

from hpn_router.config.fields import Kind, integer, list_of, map_of, optional, required, setting, simple
from hpn_router.config.readers import (
    ConfigError,
    as_bool,
    as_choice,
    as_decimal,
    as_fallback_map,
    as_host_names,
    as_model_id,
    as_model_map,
    as_optional_path,
    as_origins,
    as_redis_url,
    as_str,
    as_text,
    as_token,
    as_tokens,
    as_url,
    show,
)

DEFAULT_GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
DEFAULT_MISTRAL_BASE_URL = "https://api.mistral.ai"
DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com"
# Hard-coded model versions get shut down (docs/gemini-wire-format.md#models-get-shut-down); the alias follows Google's
# current Flash model.
DEFAULT_MODEL = "gemini-flash-latest"
DEFAULT_EMBEDDING_MODEL = "gemini-embedding-001"
DEFAULT_INTERCEPT_HOSTS = ("api.openai.com", "api.anthropic.com")
DEFAULT_STATE_FILE = ".hpn/state.json"  # relative to the working directory
KEY_PROJECTS_ENV = "HPN_KEY_PROJECTS"

BOOL = simple("bool", as_bool)
STRING = simple("string", as_str)
PATH = simple("path", as_str)
URL = simple("URL", as_url)
MODEL_ID = simple("model id", as_model_id)
NUMBER = simple("number ≥ 0", as_decimal)


def _choice(*options: str) -> Kind:
    return simple(f"one of {', '.join(options)}", lambda value, path: as_choice(value, path, options))


def key_fingerprint(value: str) -> str:
    """A non-secret identity of a key value, for the state file: SHA-256 of the whole value
    (a Gemini key holds far too much entropy to be guessed back from its digest). Never
    shown where the key's name serves: logs, the admin API and /health use names."""
    return hashlib.sha256(b"hpn-router key\0" + value.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyConfig:
    name: str = required(STRING, "the name logs, `/health` and errors show instead of the key")
    key: str = required(STRING, "the key itself (better: `key_env`)", secret=True, shown_default="required (or `key_env`)")
    provider: str = setting(
        "gemini",
        _choice("gemini", "google", "mistral", "anthropic"),
        "whose key it is (`google` is `gemini`); a request uses only its provider's keys",
    )
    enabled: bool = setting(True, BOOL, "`false` keeps the key out of rotation")
    project: str | None = setting(
        None,
        optional(STRING),
        f"Cloud project; keys of one project share quotas (`{KEY_PROJECTS_ENV}`: one per key of `HPN_API_KEYS`)",
        env=KEY_PROJECTS_ENV,  # read with HPN_API_KEYS only (_keys_from_env): list items take no variables of their own
        shown_default="the key's own",
    )
    # The variable the key was read from; not part of the key's identity (compare=False).
    key_env: str | None = setting(None, optional(STRING), "the environment variable that holds the key, instead of `key`", compare=False)
    fingerprint: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fingerprint", key_fingerprint(self.key))
        if self.provider == "google":  # the seed's name for Gemini
            object.__setattr__(self, "provider", "gemini")

    @property
    def project_id(self) -> str:
        """Quotas belong to a Cloud project; a key without one is its own project, named by
        the key's value (not its name, which moves to another key when keys are reordered)."""
        return self.project or f"key:{self.fingerprint}"

    @property
    def project_label(self) -> str:
        """The project as users see it (admin API): a key without one shows its own name."""
        return self.project or f"key:{self.name}"


def _key_from_key_env(data: dict[str, Any], path: str, env: Mapping[str, str]) -> dict[str, Any]:
    """A key is given inline (`key`) or by the environment variable holding it (`key_env`)."""
    if ("key" in data) == ("key_env" in data):
        raise ConfigError(f"{path}: give exactly one of key or key_env")
    if "key_env" not in data:
        return data
    var = as_str(data["key_env"], f"{path}.key_env")
    if not env.get(var, "").strip():
        raise ConfigError(f"{path}.key_env: environment variable {var} is not set or empty")
    return {**data, "key": env[var].strip()}


def _keys_from_env(text: str, var: str, env: Mapping[str, str]) -> tuple[KeyConfig, ...]:
    """HPN_API_KEYS=k1,k2 (replacing the file's keys), named key_1, key_2, ...; HPN_KEY_PROJECTS
    gives their projects in the same order."""
    keys = [k.strip() for k in text.split(",") if k.strip()]
    projects_text = env.get(KEY_PROJECTS_ENV, "")
    projects = [p.strip() for p in projects_text.split(",")] if projects_text.strip() else []
    if projects and len(projects) != len(keys):
        raise ConfigError(f"{KEY_PROJECTS_ENV}: expected {len(keys)} project names (one per key of {var}), got {len(projects)}")
    return tuple(
        KeyConfig(name=f"key_{i}", key=k, project=(projects[i - 1] or None) if projects else None) for i, k in enumerate(keys, start=1)
    )


def _provider_keys_from_env(provider: str) -> Callable[[str, str, Mapping[str, str]], tuple[KeyConfig, ...]]:
    """HPN_<PROVIDER>_API_KEYS=k1,k2, named <provider>_1, <provider>_2, ..."""

    def read(text: str, var: str, env: Mapping[str, str]) -> tuple[KeyConfig, ...]:
        keys = [k.strip() for k in text.split(",") if k.strip()]
        return tuple(KeyConfig(name=f"{provider}_{i}", key=k, provider=provider) for i, k in enumerate(keys, start=1))

    return read


def _provider_key(provider: str) -> Callable[[dict[str, Any], str, Mapping[str, str]], dict[str, Any]]:
    """A key under `<provider>.keys` is that provider's key; saying otherwise is a mistake."""

    def prepare(data: dict[str, Any], path: str, env: Mapping[str, str]) -> dict[str, Any]:
        if data.get("provider", provider) != provider:
            raise ConfigError(f"{path}.provider: keys under {provider}.keys are {provider.capitalize()} keys, got {data['provider']!r}")
        return _key_from_key_env({**data, "provider": provider}, path, env)

    return prepare


def _provider_keys(provider: str) -> Kind:
    """The kind of `<provider>.keys`: a list of keys of that provider, from the file or HPN_<PROVIDER>_API_KEYS."""
    return list_of(KeyConfig, "list of keys", prepare=_provider_key(provider), read_env=_provider_keys_from_env(provider))


def _limit_model(value: Any, path: str) -> str:
    return "*" if value == "*" else as_model_id(value, path)


@dataclass(frozen=True, slots=True)
class QuotaLimit:
    """A known budget of one Cloud project for one model ("*": every model)."""

    project: str = required(STRING, "the Cloud project (a key's `project`) the budget belongs to")
    model: str = setting("*", simple("model id or `*`", _limit_model), "the model the budget is for; `*`: every model")
    rpm: int | None = setting(None, optional(integer(1)), "requests per minute")
    rpd: int | None = setting(None, optional(integer(1)), "requests per day")
    tpm: int | None = setting(None, optional(integer(1)), "tokens per minute")


def _limit_has_a_number(limit: QuotaLimit, path: str) -> None:
    if limit.rpm is None and limit.rpd is None and limit.tpm is None:
        raise ConfigError(f"{path}: give at least one of rpm, rpd, tpm")


WEBHOOK_URL_ENV = "HPN_WEBHOOK_URL"
WEBHOOK_SECRET_ENV = "HPN_WEBHOOK_SECRET"
# Key and pool transitions a webhook can announce (core/webhooks.py detects them).
WEBHOOK_EVENTS = (
    "key.disabled",
    "key.cooling",
    "key.recovered",
    "pool.exhausted",
    "pool.recovered",
    "state.redis_down",
    "state.redis_up",
)


def _as_webhook_secret(value: Any, path: str) -> str:
    """At least 16 characters; a `whsec_` secret (Standard Webhooks) is base64 after its prefix.
    Messages never show the secret."""
    if not isinstance(value, str) or len(value.strip()) < 16:
        raise ConfigError(f"{path}: expected a secret of at least 16 characters")
    secret = value.strip()
    if secret.startswith("whsec_"):
        try:
            if not base64.b64decode(secret.removeprefix("whsec_"), validate=True):
                raise ValueError
        except (binascii.Error, ValueError):
            raise ConfigError(f"{path}: a whsec_ secret must be base64 after its prefix") from None
    return secret


def _as_webhook_events(value: Any, path: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{path}: expected a list of event types, got {show(value)}")
    return tuple(dict.fromkeys(as_choice(item, f"{path}[{i}]", WEBHOOK_EVENTS) for i, item in enumerate(value)))


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """One receiver of signed webhooks (Standard Webhooks) on key and pool transitions."""

    url: str = required(URL, "where events are posted (http or https; never the router's own ports)")
    secret: str = required(
        simple("string ≥ 16 chars", _as_webhook_secret),
        "signs each event (`whsec_<base64>` or plain text)",
        env=WEBHOOK_SECRET_ENV,  # read with HPN_WEBHOOK_URL only (_webhook_from_env): list items take no variables of their own
        secret=True,
    )
    events: tuple[str, ...] = setting(
        WEBHOOK_EVENTS, simple("list of event types", _as_webhook_events), "the event types this receiver gets", shown_default="all"
    )


def _webhook_from_env(text: str, var: str, env: Mapping[str, str]) -> tuple[WebhookConfig, ...]:
    """HPN_WEBHOOK_URL (with HPN_WEBHOOK_SECRET) replaces the file's webhooks: one receiver, every event."""
    if not text.strip():
        return ()
    secret = env.get(WEBHOOK_SECRET_ENV, "")
    if not secret.strip():
        raise ConfigError(f"{WEBHOOK_SECRET_ENV}: required with {var}")
    return (WebhookConfig(url=as_url(text.strip(), var), secret=_as_webhook_secret(secret, WEBHOOK_SECRET_ENV)),)


@dataclass(frozen=True, slots=True)
class PriceConfig:
    input_per_million: Decimal = required(NUMBER, "USD per million input tokens")
    output_per_million: Decimal = required(NUMBER, "USD per million output tokens")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = setting("127.0.0.1", STRING, "bind address used by `run.sh`; `0.0.0.0` opens the key pool to your network", env="HPN_HOST")
    port: int = setting(8080, integer(1, 65535), "the reverse-proxy port (`base_url=http://127.0.0.1:8080/v1`)", env="HPN_PORT")
    read_timeout_seconds: int = setting(30, integer(1), "bounds each upstream attempt: the connect, and every read")
    write_timeout_seconds: int = setting(30, integer(1), "kept from the seed's schema")
    client_tokens: tuple[str, ...] = setting(
        (),
        simple("list of tokens", as_tokens, null_is_default=True),
        "tokens your apps present, 16+ characters (comma-separated in the variable); none: anyone who can reach the router",
        env="HPN_CLIENT_TOKENS",
        secret=True,
    )
    admin_token: str | None = setting(
        None,
        simple("token", as_token, null_is_default=True),
        "token for `/admin/...` (the admin API is off without it); must differ from every client token",
        env="HPN_ADMIN_TOKEN",
        secret=True,
    )
    client_rpm: int = setting(0, integer(0), "requests per minute per client token (`0`: unlimited); over it that client gets 429")
    # Inline images and PDFs are large, but bounded.
    max_body_bytes: int = setting(32 * 1024 * 1024, integer(1024), "larger request bodies get 413 while they arrive (32 MiB)")
    max_json_depth: int = setting(64, integer(2, 500), "deeper JSON nesting gets 400 before anything parses it")
    # JSON elements (containers, strings, commas between values) a body may hold: parsing
    # millions of tiny objects costs a gigabyte and seconds of the one event loop.
    max_json_items: int = setting(500_000, integer(100), "a body with more JSON elements gets 400 before anything parses it")
    header_timeout_seconds: int = setting(30, integer(1), "a client must send its request headers within this, else the connection closes")
    idle_timeout_seconds: int = setting(120, integer(1), "a keep-alive connection with no request for this long is closed")
    proxy_port: int = setting(
        8888,
        integer(1, 65535),
        "the `HTTPS_PROXY` listener `run.sh` starts beside the reverse proxy (8081 is mitmweb's UI)",
        env="HPN_PROXY_PORT",
    )
    confdir: str = setting(
        "~/.mitmproxy", PATH, "mitmproxy's folder, where its CA lives (`run.sh` passes it as `--set confdir`)", env="HPN_CONFDIR"
    )
    mitmweb_max_flows: int = setting(1000, integer(1), "flows mitmweb keeps in memory; the oldest finished ones are dropped")
    # Without client tokens, "*" would let any web page the user opens spend the pool's keys
    # through the user's browser and read the answers (checked after the field pass).
    cors_origins: tuple[str, ...] = setting(
        (),
        simple("list of origins", as_origins),
        'web origins whose pages may call the router from a browser (exact origins, or `["*"]` with client tokens)',
    )
    passthrough: bool = setting(
        True, BOOL, "the proxy listener forwards hosts it does not intercept; `false`: it serves `intercept_hosts` only"
    )
    passthrough_private: bool = setting(
        False, BOOL, "passthrough may reach loopback, private and link-local addresses (never the router's own ports)"
    )
    proxy_open: bool = setting(False, BOOL, "lets the proxy listener open beyond loopback without client tokens (an open proxy)")
    metrics: bool = setting(True, BOOL, "`GET /metrics` serves Prometheus metrics (with `admin_token` set, to that token only)")
    # mitmproxy runs on one event loop, one core: more processes share the ports (SO_REUSEPORT).
    workers: int = setting(
        1,
        integer(1, 64),
        "router processes `run.sh` starts on the same ports, supervised; above 1 needs `state.redis_url`",
        env="HPN_WORKERS",
    )


@dataclass(frozen=True, slots=True)
class KeyPoolConfig:
    strategy: Literal["round-robin"] = setting("round-robin", _choice("round-robin"), "key selection (round-robin is the only one)")
    retry_count: int = setting(3, integer(0, 20), "retries after the first attempt, each on another key")
    cooldown_seconds: int = setting(60, integer(0), "cooldown after a 429 that carries no retry delay")
    keys: tuple[KeyConfig, ...] = setting(
        (),
        list_of(KeyConfig, "list of keys", prepare=_key_from_key_env, read_env=_keys_from_env),
        "the pool's Gemini keys; `HPN_API_KEYS=k1,k2` replaces them with keys named `key_1`, `key_2`, ...",
        env="HPN_API_KEYS",
    )
    max_wait_seconds: int = setting(10, integer(0, 600), "how long a request may wait for the earliest key to recover")
    retry_backoff_ms: int = setting(200, integer(0, 60000), "pause before retrying after a 5xx or a timeout, doubled each time")
    limits: tuple[QuotaLimit, ...] = setting(
        (), list_of(QuotaLimit, "list of limits", check=_limit_has_a_number), "known quotas of Cloud projects, per model"
    )
    state_file: str = setting(
        DEFAULT_STATE_FILE,
        simple('path or `""`', as_optional_path, empty_env_counts=True),
        'pool state kept across restarts (cooldowns, disabled keys, daily counts); `""`: none',
        env="HPN_STATE_FILE",
    )


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: Literal["debug", "info", "warn", "warning", "error"] = setting(
        "info", _choice("debug", "info", "warn", "warning", "error"), "the least severe level logged", env="HPN_LOG_LEVEL"
    )
    format: Literal["json", "text"] = setting("json", _choice("json", "text"), "`json` (one object per line) or `text`")


@dataclass(frozen=True, slots=True)
class GeminiConfig:
    base_url: str = setting(DEFAULT_GEMINI_BASE_URL, URL, "where upstream requests go", env="HPN_GEMINI_BASE_URL")
    default_model: str = setting(DEFAULT_MODEL, MODEL_ID, "Gemini model for OpenAI chat names (`gpt-4`, `gpt-4o`, ...)")
    default_embedding_model: str = setting(
        DEFAULT_EMBEDDING_MODEL, MODEL_ID, "Gemini model for OpenAI embedding names (`text-embedding-3-small`, ...)"
    )
    expose_reasoning: bool = setting(
        False, BOOL, "return the model's reasoning (Gemini's thoughts, Claude's thinking) as `reasoning_content`"
    )


@dataclass(frozen=True, slots=True)
class MistralConfig:
    base_url: str = setting(DEFAULT_MISTRAL_BASE_URL, URL, "where requests for Mistral models go", env="HPN_MISTRAL_BASE_URL")
    keys: tuple[KeyConfig, ...] = setting(
        (),
        # Items as `key_pool.keys[]` (provider `mistral`): the README lists their fields once.
        replace(_provider_keys("mistral"), item=None),
        "Mistral keys (fields as `key_pool.keys[]`) added to the pool; `HPN_MISTRAL_API_KEYS=k1,k2`: keys `mistral_1`, ...",
        env="HPN_MISTRAL_API_KEYS",
    )


@dataclass(frozen=True, slots=True)
class AnthropicConfig:
    base_url: str = setting(DEFAULT_ANTHROPIC_BASE_URL, URL, "where requests for Claude models go", env="HPN_ANTHROPIC_BASE_URL")
    keys: tuple[KeyConfig, ...] = setting(
        (),
        # Items as `key_pool.keys[]` (provider `anthropic`; `project` names the organization).
        replace(_provider_keys("anthropic"), item=None),
        "Anthropic keys (fields as `key_pool.keys[]`; `project`: the organization) added to the pool; "
        "`HPN_ANTHROPIC_API_KEYS=k1,k2`: keys `anthropic_1`, ...",
        env="HPN_ANTHROPIC_API_KEYS",
    )


@dataclass(frozen=True, slots=True)
class CacheConfig:
    enabled: bool = setting(True, BOOL, "the flash cache answers a repeated identical request")
    ttl_seconds: int = setting(300, integer(1), "how long an answer stays cached")
    max_entries: int = setting(1000, integer(1), "answers kept at most (least recently used go first)")
    max_bytes: int = setting(64 * 1024 * 1024, integer(1024), "bytes of answer JSON kept at most (64 MiB)")
    # A flash cache exists for duplicate requests, and a client that retries the identical
    # request expects the answer it already paid for.
    cache_sampled: bool = setting(
        True, BOOL, "cache sampled requests (temperature > 0, n > 1) too; clients send `Cache-Control: no-cache` for fresh samples"
    )


@dataclass(frozen=True, slots=True)
class ResponsesConfig:
    # OpenAI keeps responses 30 days; a gateway's memory is smaller, and an agent's loop
    # continues its last response within seconds.
    store_max: int = setting(
        1000, integer(0), "Responses API responses kept for `previous_response_id` and `GET /v1/responses/{id}`; 0: none"
    )
    store_max_bytes: int = setting(64 * 1024 * 1024, integer(1024), "bytes of stored responses kept at most (64 MiB); the oldest go first")
    store_ttl_seconds: int = setting(3600, integer(1), "how long a stored response can be continued or read")


@dataclass(frozen=True, slots=True)
class ChargedPriceConfig:
    as_of: str = required(simple("string", as_text), "the date of the provider's prices")
    default: PriceConfig = PriceConfig(Decimal(0), Decimal(0))
    models: Mapping[str, PriceConfig] = setting(
        {}, map_of(PriceConfig, "map of prices"), "prices per provider model; other models get the provider's `default`"
    )


@dataclass(frozen=True, slots=True)
class StateConfig:
    redis_url: str | None = setting(
        None,
        simple("redis:// or rediss:// URL", as_redis_url, empty_env_counts=False),
        "routers on one Redis share the pool's key states, totals, flash cache and stored Responses; password and db go in the URL",
        env="HPN_REDIS_URL",
        secret=True,  # the password is in the URL
        shown_default="none",
    )


@dataclass(frozen=True, slots=True)
class PricingConfig:
    as_of: str = setting("2024-01-25", simple("string", as_text), "the date of the prices")
    default: PriceConfig = PriceConfig(Decimal("0.50"), Decimal("1.50"))
    models: Mapping[str, PriceConfig] = setting(
        {}, map_of(PriceConfig, "map of prices"), "prices per OpenAI model name; other models get `pricing.default`"
    )
    charged: Mapping[str, ChargedPriceConfig] = setting(
        {},
        map_of(ChargedPriceConfig, "map of price tables"),
        "what each provider charges (`gemini`, `mistral`, ...), replacing the router's dated list prices for that provider",
    )


@dataclass(frozen=True, slots=True)
class RouterConfig:
    server: ServerConfig = ServerConfig()
    key_pool: KeyPoolConfig = KeyPoolConfig()
    logging: LoggingConfig = LoggingConfig()
    gemini: GeminiConfig = GeminiConfig()
    mistral: MistralConfig = MistralConfig()
    anthropic: AnthropicConfig = AnthropicConfig()
    models: Mapping[str, str] = setting(
        {},
        simple("map", as_model_map, null_is_default=True),
        "OpenAI model name → Gemini model, or `provider/model` (`mistral/...`, `anthropic/...`); `gemini-*`, `mistral-*`, `claude-*`... "
        "pass through",
    )
    fallbacks: Mapping[str, tuple[str, ...]] = setting(
        {},
        simple("map of lists", as_fallback_map, null_is_default=True),
        "model → the models to try next, in order, when every key of its provider is cooling, parked or disabled",
    )
    cache: CacheConfig = CacheConfig()
    responses: ResponsesConfig = ResponsesConfig()
    pricing: PricingConfig = PricingConfig()
    state: StateConfig = StateConfig()
    intercept_hosts: tuple[str, ...] = setting(
        DEFAULT_INTERCEPT_HOSTS,
        simple("list of host names", as_host_names, null_is_default=True),
        "hosts the proxy listener decrypts and answers; every other host is tunnelled untouched",
    )
    webhooks: tuple[WebhookConfig, ...] = setting(
        (),
        list_of(WebhookConfig, "list of webhooks", read_env=_webhook_from_env),
        f"signed webhooks on key and pool transitions; `{WEBHOOK_URL_ENV}` with `{WEBHOOK_SECRET_ENV}`: one receiver of every event",
        env=WEBHOOK_URL_ENV,
    )

    def pool_keys(self) -> tuple[KeyConfig, ...]:
        """Every key of every provider: `key_pool.keys`, then `mistral.keys`, then `anthropic.keys`."""
        return self.key_pool.keys + self.mistral.keys + self.anthropic.keys

    def has_keys_for(self, provider: str) -> bool:
        return any(k.provider == provider and k.enabled for k in self.pool_keys())

    def providers_with_keys(self) -> frozenset[str]:
        """The providers with an enabled key in the pool (what `claude-*` routing asks)."""
        return frozenset(k.provider for k in self.pool_keys() if k.enabled)

    def named_keys(self) -> dict[str, str]:
        """Key name -> key value, for redaction."""
        return {k.name: k.key for k in self.pool_keys()}
