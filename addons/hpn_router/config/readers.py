"""Readers for configuration values: each takes the raw YAML (or environment) value and its
dotted path, and returns a typed value or raises ConfigError naming the path and the problem."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """The configuration is invalid; the message names the field and the problem."""


def show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def as_mapping(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected a mapping, got {show(value)}")
    return value


def reject_unknown(raw: dict[str, Any], allowed: set[str], path: str) -> None:
    for name in raw:
        if name not in allowed:
            prefix = f"{path}." if path else ""
            raise ConfigError(f"{prefix}{name}: unknown field; expected one of {', '.join(sorted(allowed))}")


def as_str(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}: expected a non-empty string, got {show(value)}")
    return value.strip()


def as_bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: expected true/false, got {show(value)}")
    return value


def as_int(value: Any, path: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)  # environment variables arrive as strings
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{path}: expected an integer, got {show(value)}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ConfigError(f"{path}: expected an integer {bound}, got {value}")
    return value


def as_choice(value: Any, path: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.lower() not in choices:
        raise ConfigError(f"{path}: expected one of {', '.join(choices)}, got {show(value)}")
    return value.lower()


def as_url(value: Any, path: str) -> str:
    text = as_str(value, path)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{path}: expected an http(s) URL, got {show(value)}")
    return text.rstrip("/")


def as_decimal(value: Any, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{path}: expected a number, got {show(value)}")
    try:
        number = Decimal(str(value))  # str() keeps 0.5 exact instead of its binary float
    except InvalidOperation:
        raise ConfigError(f"{path}: expected a number, got {show(value)}") from None
    if not number.is_finite() or number < 0:  # NaN first: comparing it raises
        raise ConfigError(f"{path}: expected a non-negative number, got {show(value)}")
    return number


def redacted_redis_url(url: str) -> str:
    """A Redis URL fit for logs and errors: the password (and user) replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        # Without a scheme nothing parses as a password, yet `secret@host` still holds one.
        return "***@" + url.rsplit("@", 1)[1] if "@" in url else url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if _port_or_none(parts) is not None else "")
    return parts._replace(netloc=netloc).geturl()


def _port_or_none(parts: Any) -> int | None:
    try:
        port: int | None = parts.port
    except ValueError:
        return None
    return port


def as_redis_url(value: Any, path: str) -> str | None:
    """`redis://[user:password@]host[:port][/db]` or `rediss://...` (TLS); `""` or null: none.
    Errors never show the password."""
    if value is None or value == "":
        return None
    text = as_str(value, path).strip()
    shown = show(redacted_redis_url(text))
    parts = urlsplit(text)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ConfigError(f"{path}: expected a redis:// or rediss:// URL with a host, got {shown}")
    try:
        parts.port  # noqa: B018  (raises ValueError for a port that is no number from 0 to 65535)
    except ValueError:
        raise ConfigError(f"{path}: the port is not a number from 0 to 65535, in {shown}") from None
    db = parts.path.strip("/")
    if db and not (db.isdigit() and int(db) <= 15):
        raise ConfigError(f"{path}: the database after the host is a number from 0 to 15, got {shown}")
    return text


_DEFAULT_PORTS = {"http": 80, "https": 443}


def as_origin(value: Any, path: str) -> str:
    """An exact web origin, as browsers send it in `Origin`: scheme://host[:port], lower case,
    the default port left out."""
    text = as_str(value, path).strip()
    hint = f"{path}: expected an origin such as https://app.example.com (scheme, host and port only), got {show(value)}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ConfigError(hint) from None
    host = parts.hostname or ""
    if parts.scheme.lower() not in _DEFAULT_PORTS or not host or parts.username or parts.password:
        raise ConfigError(hint)
    if parts.path not in ("", "/") or parts.query or parts.fragment or "*" in host:
        raise ConfigError(hint)
    scheme = parts.scheme.lower()
    shown_host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown_host}" + (f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else "")


def as_tokens(value: Any, path: str) -> tuple[str, ...]:
    """Secret tokens: a list, or a comma-separated string (as the environment gives them)."""
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


def as_token(value: Any, path: str) -> str | None:
    """One secret token, or None when not given."""
    tokens = as_tokens(value, path) if value else ()
    if len(tokens) > 1:
        raise ConfigError(f"{path}: expected one token")
    return tokens[0] if tokens else None


def as_origins(value: Any, path: str) -> tuple[str, ...]:
    """Exact web origins, normalised and without repeats, or ("*",) alone."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f'{path}: expected a list of origins (https://app.example.com) or ["*"], got {show(value)}')
    if "*" in value:
        if len(value) > 1:
            raise ConfigError(f'{path}: "*" must be the only entry (it allows every origin)')
        return ("*",)
    return tuple(dict.fromkeys(as_origin(v, f"{path}[{i}]") for i, v in enumerate(value)))


# A DNS name, lower case: no scheme, port, path or wildcard.
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def as_host_names(value: Any, path: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{path}: expected a list of host names, got {show(value)}")
    hosts = []
    for i, item in enumerate(value):
        host = as_str(item, f"{path}[{i}]").lower().rstrip(".")
        if not _HOST_NAME.match(host):
            raise ConfigError(f"{path}[{i}]: expected a host name such as api.openai.com (no scheme, port or path), got {show(item)}")
        hosts.append(host)
    return tuple(dict.fromkeys(hosts))


def as_model_id(value: Any, path: str) -> str:
    """A Gemini model id; the `models/` prefix of Gemini's own names is dropped."""
    text = as_str(value, path).removeprefix("models/")
    if "/" in text or ":" in text or " " in text:
        raise ConfigError(f"{path}: not a model id: {show(value)}")
    return text


# Providers an alias may name (`gpt-4o: mistral/mistral-small-latest`).
ALIAS_PROVIDERS = ("gemini", "mistral", "anthropic")


def as_model_target(value: Any, path: str) -> str:
    """A model id, or `provider/model id` for one of ALIAS_PROVIDERS."""
    text = as_str(value, path)
    provider, sep, model = text.partition("/")
    if sep and provider in ALIAS_PROVIDERS:
        return f"{provider}/{as_model_id(model, path)}"
    return as_model_id(value, path)


def as_model_map(value: Any, path: str) -> dict[str, str]:
    """Client model name -> model id (Gemini's), or `provider/model`."""
    data = as_mapping(value, path)
    return {as_str(name, path): as_model_target(target, f"{path}.{name}") for name, target in data.items()}


def as_fallback_map(value: Any, path: str) -> dict[str, tuple[str, ...]]:
    """Model name -> the models to try next, in order: names as a client would send them."""
    fallbacks: dict[str, tuple[str, ...]] = {}
    for name, targets in as_mapping(value, path).items():
        model = _model_name(name, path)
        where = f"{path}.{model}"
        if not isinstance(targets, (list, tuple)) or not targets:
            raise ConfigError(f"{where}: expected a list of model names, got {show(targets)}")
        names = tuple(_model_name(target, f"{where}[{i}]") for i, target in enumerate(targets))
        for i, target in enumerate(names):
            if target == model or target in names[:i]:
                raise ConfigError(f"{where}[{i}]: {target} is tried already (the model itself or an earlier fallback)")
        fallbacks[model] = names
    return fallbacks


def _model_name(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise ConfigError(f"{path}: expected a model name, got {show(value)}")
    return value


def as_optional_path(value: Any, path: str) -> str:
    """A file path, or "" (or nothing) to turn the file off."""
    if value is None or value == "":
        return ""
    return as_str(value, path)


def as_text(value: Any, path: str) -> str:
    """A string; YAML's own types (an unquoted date) are read as they were written."""
    return as_str(value if isinstance(value, str) or value is None else str(value), path)
