"""The scenario file every emulator reads alike: a YAML mapping checked field by field, each
error naming the field (`keys[1].rpm: must be a non-negative integer`). Each emulator's own
`scenario.py` says which fields and behaviours it has, and builds its Scenario with these.

Usage (an emulator's `scenario.py`):
    def load_scenario(path):
        return parse_scenario(read_scenario(path))

    def _parse_key(raw, index):
        where, key, behaviour, script = key_basics(raw, index, _KEY_FIELDS, BEHAVIOURS)
        return KeySpec(key, behaviour=behaviour, script=script, rpm=nonneg_int(raw, "rpm", where, None))
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar

import yaml


class ScenarioError(ValueError):
    """A scenario file that does not describe a valid scenario; the message names the field."""


class _HasKey(Protocol):
    @property
    def key(self) -> str: ...


K = TypeVar("K", bound=_HasKey)


class KeyBasics(NamedTuple):
    """What every emulator's key entry has: where it is in the file, its value, its behaviours."""

    where: str
    key: str
    behaviour: str
    script: tuple[str, ...]


def read_scenario(path: str | Path) -> Any:
    """The decoded YAML of a scenario file (an empty file is an empty scenario)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ScenarioError(f"cannot read scenario {path}: {e}") from e
    return data or {}


def top_level(data: Any, allowed: set[str]) -> dict[str, Any]:
    """The scenario's mapping, with only the emulator's own fields."""
    require(isinstance(data, dict), "scenario", "must be a mapping")
    reject_unknown(data, allowed, "scenario")
    return dict(data)


def parse_keys(data: dict[str, Any], parse_key: Callable[[Any, int], K]) -> tuple[K, ...]:
    """`keys:`, each entry parsed by the emulator's `parse_key(raw, index)`; no value twice."""
    keys = tuple(parse_key(raw, i) for i, raw in enumerate(list_field(data, "keys", "scenario")))
    values = [k.key for k in keys]
    require(len(set(values)) == len(values), "keys", "duplicate key value")
    return keys


def key_basics(raw: Any, index: int, allowed: set[str], behaviours: Collection[str]) -> KeyBasics:
    """The fields every key entry has (`key`, `behaviour`, `script`), checked; the rest is the emulator's."""
    where = f"keys[{index}]"
    require(isinstance(raw, dict), where, "must be a mapping")
    reject_unknown(raw, allowed, where)
    key = raw.get("key")
    require(isinstance(key, str) and key != "", f"{where}.key", "must be a non-empty string")
    behaviour = raw.get("behaviour", "ok")
    check_behaviour(behaviour, f"{where}.behaviour", behaviours)
    script = tuple(strings(raw, "script", where))
    for i, step in enumerate(script):
        check_behaviour(step, f"{where}.script[{i}]", behaviours)
    return KeyBasics(where, key, behaviour, script)


def check_behaviour(value: Any, where: str, behaviours: Collection[str]) -> None:
    require(value in behaviours, where, f"unknown behaviour {value!r}; expected one of {sorted(behaviours)}")


def require(ok: bool, where: str, problem: str) -> None:
    if not ok:
        raise ScenarioError(f"{where}: {problem}")


def reject_unknown(data: dict[str, Any], allowed: set[str], where: str) -> None:
    for name in data:
        require(name in allowed, f"{where}.{name}", "unknown field")


def nonneg_int(data: dict[str, Any], name: str, where: str, default: int | None, *, nullable: bool = False) -> Any:
    value = data.get(name, default)
    ok = value is default or (nullable and value is None) or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)
    require(ok, f"{where}.{name}", "must be a non-negative integer" + (" or null" if nullable else ""))
    return value


def boolean(data: dict[str, Any], name: str, where: str) -> bool:
    value = data.get(name, False)
    require(isinstance(value, bool), f"{where}.{name}", "must be true or false")
    return bool(value)


def one_of(data: dict[str, Any], name: str, choices: tuple[str, ...]) -> str:
    """A top-level field that names one of a few modes; the first is the default."""
    value = data.get(name, choices[0])
    require(value in choices, name, "must be " + " or ".join(repr(c) for c in choices))
    return str(value)


def list_field(data: dict[str, Any], name: str, where: str) -> list[Any]:
    value = data.get(name) or []
    require(isinstance(value, list), f"{where}.{name}", "must be a list")
    return list(value)


def strings(data: dict[str, Any], name: str, where: str, default: tuple[str, ...] = ()) -> list[str]:
    if name not in data:
        return list(default)
    value = list_field(data, name, where)
    require(all(isinstance(v, str) and v for v in value), f"{where}.{name}", "must be a list of strings")
    return value
