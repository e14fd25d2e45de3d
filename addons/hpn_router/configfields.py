"""Readers for configuration values: each takes the raw YAML (or environment) value and its
dotted path, and returns a typed value or raises ConfigError naming the path and the problem."""

from __future__ import annotations

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
