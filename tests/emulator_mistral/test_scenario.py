"""Scenario loading: the Gemini emulator's layout, errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from mistral_emulator.scenario import ScenarioError, catalogue, load_scenario, model_card, parse_scenario

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "emulator"


def test_shipped_scenarios_load() -> None:
    assert len(load_scenario(CONFIGS / "mistral-test.yaml").keys) == 5
    assert load_scenario(CONFIGS / "mistral-demo.yaml").keys[1].script == ("rate_limit",)


def test_defaults() -> None:
    scenario = parse_scenario({"keys": [{"key": "k"}]})
    spec = scenario.keys[0]
    assert (spec.organization, spec.behaviour, spec.retry_after, spec.rpm) == ("org-0", "ok", 2, None)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"keys": [{"key": "k", "project": "p"}]}, "keys[0].project: unknown field"),
        ({"keys": [{"key": "k", "behaviour": "explode"}]}, "keys[0].behaviour: unknown behaviour"),
        ({"keys": [{"key": "k", "script": ["ok", "nope"]}]}, "keys[0].script[1]"),
        ({"keys": [{"key": "k", "rpm": -1}]}, "keys[0].rpm: must be a non-negative integer"),
        ({"keys": [{"key": "k"}, {"key": "k"}]}, "keys: duplicate key value"),
        ({"latency": 3}, "scenario.latency: unknown field"),
        ([], "scenario: must be a mapping"),
    ],
)
def test_bad_scenarios_name_the_field(data: object, where: str) -> None:
    with pytest.raises(ScenarioError, match=where.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario(data)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_scenario(tmp_path / "missing.yaml")


def test_extra_models_are_chat_models() -> None:
    models = catalogue(parse_scenario({"models": ["mistral-tiny-test"]}))
    card = model_card(models["mistral-tiny-test"], 0)
    assert card["capabilities"]["completion_chat"] is True and card["type"] == "base"
