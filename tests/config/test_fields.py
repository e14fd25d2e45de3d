"""The declaration machinery: one `setting()` per field gives the reading, the environment
override, the default and the README's row."""

from __future__ import annotations

from dataclasses import MISSING, dataclass
from typing import Any

import pytest
from hpn_router.config.fields import (
    declared_fields,
    integer,
    list_of,
    map_of,
    optional,
    read_section,
    required,
    setting,
    shown_default,
    simple,
    table_row,
)
from hpn_router.config.readers import ConfigError, as_bool, as_optional_path, as_str

BOOL = simple("bool", as_bool)
STRING = simple("string", as_str)


@dataclass(frozen=True)
class Item:
    name: str = required(STRING, "the item's name")
    size: int | None = setting(None, optional(integer(1)), "how big", env="T_ITEM_SIZE")


def _item_has_a_size(item: Item, path: str) -> None:
    if item.size is None:
        raise ConfigError(f"{path}: give a size")


@dataclass(frozen=True)
class Part:
    port: int = setting(80, integer(1, 65535), "the port", env="T_PORT")
    on: bool = setting(True, BOOL, "switch")
    secret: str = setting("s", STRING, "hidden", secret=True)
    file: str = setting("a.json", simple('path or `""`', as_optional_path, empty_env_counts=True), "a file", env="T_FILE")
    items: tuple[Item, ...] = setting((), list_of(Item, "list of items", check=_item_has_a_size), "the items")


@dataclass(frozen=True)
class Price:
    amount: int = required(integer(0), "the amount")


@dataclass(frozen=True)
class Root:
    part: Part = Part()
    price: Price = Price(5)
    prices: dict[str, Price] = setting({}, map_of(Price, "map of prices"), "per name")


def read(raw: Any, env: dict[str, str] | None = None) -> Root:
    return read_section(Root, raw, "", env or {})


def test_fields_left_out_take_their_defaults_and_sections_their_own():
    assert read({}) == Root() and read(None).part.port == 80 and read({"part": None}).price == Price(5)
    root = read({"part": {"port": "8080", "items": [{"name": "a", "size": 2}]}, "prices": {"x": {"amount": 3}}})
    assert root.part.port == 8080 and root.part.items == (Item("a", 2),) and root.prices == {"x": Price(3)}
    assert Root().prices is not Root().prices  # a mutable default is each config's own


@pytest.mark.parametrize(
    ("raw", "env", "message"),
    [
        ({"part": {"prot": 1}}, {}, "part.prot: unknown field; expected one of file, items, on, port, secret"),
        ({"extra": 1}, {}, "extra: unknown field; expected one of part, price, prices"),
        ({"part": {"port": None}}, {}, "part.port: expected an integer, got None"),  # null is no default for a scalar
        ({"part": {"on": "yes"}}, {}, 'part.on: expected true/false, got "yes"'),
        ({}, {"T_PORT": "eighty"}, 'T_PORT: expected an integer, got "eighty"'),  # an error in a variable names it
        ({"price": {}}, {}, "price.amount: required"),  # a section with required fields is given whole
        ({"prices": {"x": {}}}, {}, "prices.x.amount: required"),
        ({"part": {"items": [{"size": 1}]}}, {}, "part.items[0].name: required"),
        ({"part": {"items": [{"name": "a"}]}}, {}, "part.items[0]: give a size"),
        ({"part": {"items": {"name": "a"}}}, {}, "part.items: expected a list, got {'name': 'a'}"),
    ],
)
def test_errors_name_the_field_or_the_variable(raw, env, message):
    with pytest.raises(ConfigError) as raised:
        read(raw, env)
    assert str(raised.value) == message


def test_the_environment_beats_the_file_but_an_empty_variable_is_unset():
    assert read({"part": {"port": 81}}, {"T_PORT": " 82 "}).part.port == 82
    assert read({"part": {"port": 81}}, {"T_PORT": ""}).part.port == 81
    assert read({}, {"T_FILE": ""}).part.file == ""  # except where "" is a value: it turns the file off
    assert read({"part": {"file": None}}).part.file == ""


def test_list_items_take_no_variables_of_their_own():
    root = read({"part": {"items": [{"name": "a", "size": 2}]}}, {"T_ITEM_SIZE": "9"})
    assert root.part.items == (Item("a", 2),)


def test_secrets_stay_out_of_the_repr():
    assert "secret='s'" not in repr(Part()) and "port=80" in repr(Part())


def test_declared_fields_open_sections_lists_and_maps_with_their_defaults():
    declared = {d.path: d for d in declared_fields(Root)}
    assert list(declared) == [
        "part.port",
        "part.on",
        "part.secret",
        "part.file",
        "part.items",
        "part.items[].name",
        "part.items[].size",
        "price.amount",
        "prices",
        "prices.*.amount",
    ]
    assert declared["price.amount"].default == 5  # from the section's default
    assert declared["prices.*.amount"].default is MISSING and declared["prices.*.amount"].attrs is None
    assert declared["part.port"].value_in(read({"part": {"port": 99}})) == 99


def test_the_readme_row_shows_the_declaration():
    declared = {d.path: d for d in declared_fields(Root)}
    assert table_row(declared["part.port"]) == "| `part.port` | `T_PORT` | int 1–65535 | `80` | the port |"
    shown = {path: shown_default(d) for path, d in declared.items()}
    assert (shown["part.on"], shown["part.file"], shown["part.items"]) == ("`true`", "`a.json`", "none")
    assert shown["part.items[].name"] == "required"
    assert shown["part.items[].size"] == "none" and integer(0).name == "int ≥ 0"
