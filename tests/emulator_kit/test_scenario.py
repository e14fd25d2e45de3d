"""The scenario reading all emulators share: each error names the field it is about."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pytest
from emulator_kit.scenario import ScenarioError, key_basics, nonneg_int, one_of, parse_keys, read_scenario, strings, top_level

BEHAVIOURS = frozenset({"ok", "hang"})


class Key(NamedTuple):
    key: str


def test_an_empty_file_is_an_empty_scenario(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    assert read_scenario(path) == {}


@pytest.mark.parametrize("text", [None, "keys: [unclosed"])
def test_an_unreadable_file_names_itself(tmp_path: Path, text: str | None) -> None:
    path = tmp_path / "scenario.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match="cannot read scenario .*scenario.yaml"):
        read_scenario(path)


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (lambda: top_level([], {"keys"}), "scenario: must be a mapping"),
        (lambda: top_level({"kyes": []}, {"keys"}), "scenario.kyes: unknown field"),
        (lambda: parse_keys({"keys": [{"key": "a"}, {"key": "a"}]}, _key), "keys: duplicate key value"),
        (lambda: key_basics({"key": ""}, 2, {"key"}, BEHAVIOURS), r"keys\[2\].key: must be a non-empty string"),
        (lambda: key_basics({"key": "a", "script": ["ok", "boom"]}, 0, {"key", "script"}, BEHAVIOURS), r"keys\[0\].script\[1\]: unknown"),
        (lambda: nonneg_int({"rpm": -1}, "rpm", "keys[0]", None), r"keys\[0\].rpm: must be a non-negative integer$"),
        (lambda: nonneg_int({"rpm": True}, "rpm", "keys[0]", None), "must be a non-negative integer"),
        (lambda: nonneg_int({"r": "2"}, "r", "k", 2, nullable=True), "k.r: must be a non-negative integer or null"),
        (lambda: one_of({"mode": "loose"}, "mode", ("strict", "combine")), "mode: must be 'strict' or 'combine'"),
        (lambda: strings({"models": ["a", 3]}, "models", "scenario"), "scenario.models: must be a list of strings"),
    ],
)
def test_errors_name_the_field(check: Any, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        check()


def _key(raw: Any, index: int) -> Key:
    return Key(key_basics(raw, index, {"key"}, BEHAVIOURS).key)


def test_defaults_and_good_values() -> None:
    assert parse_keys({"keys": [{"key": "a"}, {"key": "b"}]}, _key) == (Key("a"), Key("b"))
    assert key_basics({"key": "a", "script": ["hang"]}, 0, {"key", "script"}, BEHAVIOURS) == ("keys[0]", "a", "ok", ("hang",))
    assert nonneg_int({}, "r", "k", 2, nullable=True) == 2
    assert nonneg_int({"r": None}, "r", "k", 2, nullable=True) is None
    assert one_of({}, "mode", ("strict", "combine")) == "strict"
    assert strings({}, "globs", "scenario", ("gemini-3*",)) == ["gemini-3*"]
