"""Scenario loading: defaults, organization ids, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from anthropic_emulator.scenario import ScenarioError, catalogue, load_scenario, parse_scenario, resolve

ROOT = Path(__file__).resolve().parents[2]


def test_test_scenario_loads() -> None:
    scenario = load_scenario(ROOT / "configs" / "emulator" / "anthropic-test.yaml")
    assert scenario.keys[5].script == ("rate_limit", "overloaded", "ok") and scenario.keys[5].retry_after == 7
    assert scenario.keys[0].organization_id == scenario.keys[2].organization_id != scenario.keys[1].organization_id


def test_defaults_and_nullable_retry_after() -> None:
    scenario = parse_scenario({"keys": [{"key": "a"}, {"key": "b", "retry_after": None}]})
    assert scenario.role_check == "strict" and scenario.keys[0].retry_after == 2 and scenario.keys[1].retry_after is None
    assert scenario.keys[0].organization != scenario.keys[1].organization  # each key its own organization by default


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"keys": [{"key": "a", "behaviour": "melt"}]}, "keys[0].behaviour: unknown behaviour 'melt'"),
        ({"keys": [{"key": "a", "script": ["ok", "boom"]}]}, "keys[0].script[1]: unknown behaviour 'boom'"),
        ({"keys": [{"key": "a", "project": "p"}]}, "keys[0].project: unknown field"),
        ({"keys": [{"key": "a"}, {"key": "a"}]}, "keys: duplicate key value"),
        ({"keys": [{"key": "a", "rpm": -1}]}, "keys[0].rpm: must be a non-negative integer"),
        ({"role_check": "loose"}, "role_check: must be 'strict' or 'combine'"),
        ({"colour": 1}, "scenario.colour: unknown field"),
    ],
)
def test_errors_name_the_field(data: object, expected: str) -> None:
    with pytest.raises(ScenarioError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario(data)


def test_aliases_resolve_and_extras_join_the_catalogue() -> None:
    models = catalogue(parse_scenario({"models": ["claude-extra"]}))
    assert resolve(models, "claude-sonnet-4-5").id == "claude-sonnet-4-5-20250929"  # type: ignore[union-attr]
    assert resolve(models, "claude-extra").rate_class == "sonnet"  # type: ignore[union-attr]
    assert resolve(models, "claude-opus-4-1").rate_class == "opus"  # type: ignore[union-attr]
    assert resolve(models, "gpt-4o") is None
