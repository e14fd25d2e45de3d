"""How a configuration field is declared, read and documented.

Each field of the frozen config dataclasses (`config/model.py`) is declared once, with
`setting()` or `required()`: its kind (how a value is read and checked, and how the README names
its type), its default, its help text and, where it has one, the environment variable that beats
the file. Everything else comes from those declarations: the names a section accepts (unknown
fields are errors), the environment overrides (one loop, `read_section`), the defaults, and
`declared_fields()`, the list the README's configuration table is checked against.

Usage:
    @dataclass(frozen=True, slots=True)
    class ServerConfig:
        port: int = setting(8080, integer(1, 65535), "the reverse-proxy port", env="HPN_PORT")

    server = read_section(ServerConfig, {"port": 9000}, "server", os.environ)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass
from typing import Any, TypeVar, cast

from hpn_router.config.readers import ConfigError, as_int, as_mapping, reject_unknown, show

T = TypeVar("T")

# (value, dotted path, environment) -> the typed value, or a ConfigError naming the path
Reader = Callable[[Any, str, Mapping[str, str]], Any]


@dataclass(frozen=True, slots=True)
class Kind:
    """How a field's value is read, and how the README's table names its type."""

    name: str
    read: Reader
    # Reads an environment variable's text, where that differs from the file's form (the pool's
    # keys: a comma-separated list instead of a list of mappings).
    read_env: Reader | None = None
    null_is_default: bool = False  # `field: null` in the file means the default (lists and maps)
    empty_env_counts: bool = False  # VAR="" is a value (turns the field off), not "unset"
    item: type | None = None  # the dataclass of a list's or a map's items, declared field by field too
    item_path: str = "[]"  # how the README names an item's field: key_pool.keys[].name


def simple(name: str, reader: Callable[[Any, str], Any], *, null_is_default: bool = False, empty_env_counts: bool = False) -> Kind:
    """A kind whose reader needs only the value and its path."""
    return Kind(name, lambda value, path, env: reader(value, path), null_is_default=null_is_default, empty_env_counts=empty_env_counts)


def integer(minimum: int = 0, maximum: int | None = None) -> Kind:
    """An integer within bounds; the README's table shows them (int 1–65535, int ≥ 1)."""
    bounds = f"{minimum}–{maximum}" if maximum is not None else f"≥ {minimum}"
    return simple(f"int {bounds}", lambda value, path: as_int(value, path, minimum=minimum, maximum=maximum))


def optional(kind: Kind) -> Kind:
    """The same kind, where `null` (or leaving the field out) means none."""
    return Kind(kind.name, kind.read, kind.read_env, True, kind.empty_env_counts, kind.item, kind.item_path)


@dataclass(frozen=True, slots=True)
class Setting:
    """A field's declaration, kept in its dataclass field's metadata."""

    kind: Kind
    help: str  # one line, the README table's "What it does"
    env: str | None = None  # the environment variable that beats the file
    shown_default: str | None = None  # the README's default, where the value alone would mislead


_SETTING = "hpn_router.setting"


def setting(
    default: T,
    kind: Kind,
    help: str,
    *,
    env: str | None = None,
    secret: bool = False,
    compare: bool = True,
    shown_default: str | None = None,
) -> T:
    """Declare a field with a default. `secret` keeps its value out of the dataclass's repr,
    so out of every traceback and log line."""
    metadata = {_SETTING: Setting(kind, help, env, shown_default)}
    if isinstance(default, dict):  # a mutable default needs a factory; each config gets its own copy
        made = field(default_factory=lambda: dict(default), repr=not secret, compare=compare, metadata=metadata)
        return cast(T, made)
    return field(default=default, repr=not secret, compare=compare, metadata=metadata)


def required(kind: Kind, help: str, *, env: str | None = None, secret: bool = False, shown_default: str | None = None) -> Any:
    """Declare a field the file must give (`env`: a list item's variable, read with its list's)."""
    return field(repr=not secret, metadata={_SETTING: Setting(kind, help, env, shown_default)})


def setting_of(f: Field[Any]) -> Setting | None:
    spec = f.metadata.get(_SETTING)
    return spec if isinstance(spec, Setting) else None


def _inputs(cls: type) -> list[Field[Any]]:
    """The fields a file may give: the declared ones, and sections (fields holding a dataclass)."""
    return [f for f in fields(cast(Any, cls)) if f.init]


def _is_section(f: Field[Any]) -> bool:
    return setting_of(f) is None and is_dataclass(f.default) and not isinstance(f.default, type)


def _default(f: Field[Any]) -> Any:
    """The field's default, or MISSING for a required one."""
    if f.default_factory is not MISSING:
        return f.default_factory()
    return f.default


def _has_required(cls: type) -> bool:
    return any(_default(f) is MISSING for f in _inputs(cls))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# ---------------------------------------------------------------------------------------
# Reading


def read_section(
    cls: type[T],
    raw: Any,
    path: str,
    env: Mapping[str, str],
    *,
    apply_env: bool = True,
    prepare: Callable[[dict[str, Any], str, Mapping[str, str]], dict[str, Any]] | None = None,
) -> T:
    """Read one section (or one list item) of the file into its dataclass: unknown fields are
    errors, each field is read by its kind, the environment beats the file, and a field left
    out takes its default. `prepare` may rewrite the item's raw fields after the unknown-field
    check (a key given by key_env). List items take no environment overrides (apply_env=False):
    a list's own variable replaces the whole list."""
    data = as_mapping(raw, path or "config")
    inputs = _inputs(cls)
    reject_unknown(data, {f.name for f in inputs}, path)
    if prepare is not None:
        data = prepare(data, path, env)
    values = {f.name: _read_field(f, data, _join(path, f.name), env, apply_env) for f in inputs}
    return cast(T, cast(Any, cls)(**values))


def _read_field(f: Field[Any], data: dict[str, Any], path: str, env: Mapping[str, str], apply_env: bool) -> Any:
    spec = setting_of(f)
    if spec is None:  # a section of its own
        section = type(f.default)
        if f.name not in data and _has_required(section):
            return f.default  # (pricing.default) given whole or not at all
        return read_section(section, data.get(f.name), path, env, apply_env=apply_env)
    if apply_env and spec.env is not None and (text := _env_text(env, spec)) is not None:
        return (spec.kind.read_env or spec.kind.read)(text, spec.env, env)  # an error names the variable
    value = data.get(f.name)
    if value is None and (f.name not in data or spec.kind.null_is_default):
        if (default := _default(f)) is MISSING:
            raise ConfigError(f"{path}: required")
        return default
    return spec.kind.read(value, path, env)


def _env_text(env: Mapping[str, str], spec: Setting) -> str | None:
    """The variable's text, or None when it does not override the file (unset, or empty)."""
    assert spec.env is not None
    text = env.get(spec.env)
    if text is None:
        return None
    text = text.strip()
    return text if text or spec.kind.empty_env_counts else None


def list_of(
    item: type[T],
    name: str,
    *,
    prepare: Callable[[dict[str, Any], str, Mapping[str, str]], dict[str, Any]] | None = None,
    check: Callable[[T, str], None] | None = None,
    read_env: Reader | None = None,
) -> Kind:
    """A list of dataclass items, each read like a section; `check` is the item's own rule."""

    def read(value: Any, path: str, env: Mapping[str, str]) -> tuple[T, ...]:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {show(value)}")
        items = []
        for i, raw in enumerate(value):
            here = f"{path}[{i}]"
            one = read_section(item, raw, here, env, apply_env=False, prepare=prepare)
            if check is not None:
                check(one, here)
            items.append(one)
        return tuple(items)

    return Kind(name, read, read_env=read_env, null_is_default=True, item=item)


def map_of(item: type[T], name: str) -> Kind:
    """A map of names to dataclass items (pricing.models.gpt-4o)."""

    def read(value: Any, path: str, env: Mapping[str, str]) -> dict[str, T]:
        data = as_mapping(value, path)
        return {key: read_section(item, raw, f"{path}.{key}", env, apply_env=False) for key, raw in data.items()}

    return Kind(name, read, null_is_default=True, item=item, item_path=".*")


# ---------------------------------------------------------------------------------------
# The declarations as a list (the README's table, config reload's log line)


@dataclass(frozen=True, slots=True)
class Declared:
    path: str  # as the file spells it: server.port, key_pool.keys[].name, pricing.models.*.input_per_million
    setting: Setting
    default: Any  # MISSING for a required field
    attrs: tuple[str, ...] | None  # attribute names from the root config to the value; None for an item's field

    def value_in(self, config: Any) -> Any:
        assert self.attrs is not None, f"{self.path} is a field of a list's items"
        for name in self.attrs:
            config = getattr(config, name)
        return config


def declared_fields(cls: type, instance: Any = None, prefix: str = "", attrs: tuple[str, ...] | None = ()) -> list[Declared]:
    """Every declared field under `cls`, in declaration order, sections and items opened."""
    found: list[Declared] = []
    for f in _inputs(cls):
        path = f"{prefix}{f.name}"
        here = None if attrs is None else (*attrs, f.name)
        default = _default(f) if instance is None else getattr(instance, f.name)
        if _is_section(f):
            found += declared_fields(type(f.default), default, f"{path}.", here)
            continue
        spec = setting_of(f)
        assert spec is not None, f"{cls.__name__}.{f.name} is declared without setting()"
        found.append(Declared(path, spec, default, here))
        if spec.kind.item is not None:
            found += declared_fields(spec.kind.item, None, f"{path}{spec.kind.item_path}.", None)
    return found


def shown_default(declared: Declared) -> str:
    """The default as the README's table shows it."""
    if declared.setting.shown_default is not None:
        return declared.setting.shown_default
    value = declared.default
    if value is MISSING:
        return "required"
    if value is None or value == () or value == {}:
        return "none"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, tuple):
        return f"`{json.dumps(list(value))}`"
    if value == "":
        return '`""`'
    return f"`{value}`"


def table_row(declared: Declared) -> str:
    """The README's row for one field: path, environment variable, type, default, what it does."""
    env = f"`{declared.setting.env}`" if declared.setting.env else ""
    return f"| `{declared.path}` | {env} | {declared.setting.kind.name} | {shown_default(declared)} | {declared.setting.help} |"
