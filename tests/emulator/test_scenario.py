"""Scenario parsing, defaults and the shipped scenario files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from gemini_emulator.scenario import ScenarioError, catalogue, load_scenario, model_resource, parse_scenario

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "emulator"


def test_defaults() -> None:
    scenario = parse_scenario({"keys": [{"key": "k0"}, {"key": "k1", "project": "p"}]})
    first, second = scenario.keys
    assert (first.project, first.behaviour, first.retry_delay, first.script) == ("proj-0", "ok", "2s", ())
    assert second.project == "p"
    assert scenario.is_gemini3("gemini-3.5-flash") and not scenario.is_gemini3("gemini-2.5-pro")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"keys": [{"key": "k", "behaviour": "explode"}]}, "keys[0].behaviour: unknown behaviour"),
        ({"keys": [{"key": "k", "script": ["ok", "nope"]}]}, "keys[0].script[1]"),
        ({"keys": [{"key": "k", "retry_delay": "2"}]}, "keys[0].retry_delay"),
        ({"keys": [{"key": "k", "rpm": -1}]}, "keys[0].rpm"),
        ({"keys": [{"key": "k", "weigth": 1}]}, "keys[0].weigth: unknown field"),
        ({"keys": [{"key": "k"}, {"key": "k"}]}, "duplicate key"),
        ({"latency": 5}, "scenario.latency: unknown field"),
        ({"signature_check": "some"}, "signature_check"),
    ],
)
def test_rejects_bad_scenarios(data: dict, problem: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ScenarioError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario(data)


def test_retry_delay_null_means_omit() -> None:
    assert parse_scenario({"keys": [{"key": "k", "retry_delay": None}]}).keys[0].retry_delay is None


def test_demo_yaml() -> None:
    scenario = load_scenario(CONFIGS / "demo.yaml")
    assert len(scenario.keys) == 3
    assert all(len(k.key) == 39 and k.key.startswith("AIza") for k in scenario.keys)
    assert [k.rpd for k in scenario.keys].count(2) == 1  # one key runs out early: the demo shows a failover
    assert len({k.project for k in scenario.keys}) == 3
    assert scenario.latency_ms >= 100 and scenario.stream_delay_ms >= 50


def test_demo_texts_say_when_the_demo_key_runs_out() -> None:
    """The scenario's comment and run.sh's demo text name the first key to run out's real daily quota."""
    rpd = min(k.rpd for k in load_scenario(CONFIGS / "demo.yaml").keys if k.rpd is not None)
    comment = re.search(r"runs out for the day after (\d+) generate requests", (CONFIGS / "demo.yaml").read_text())
    run_sh = re.search(r"runs out of its daily\s+quota after (\d+) requests", (CONFIGS.parents[1] / "run.sh").read_text())
    assert comment and run_sh
    assert int(comment.group(1)) == int(run_sh.group(1)) == rpd


def test_test_yaml_loads() -> None:
    scenario = load_scenario(CONFIGS / "test.yaml")
    assert all(len(k.key) == 39 and k.key.startswith("AIza") for k in scenario.keys)
    assert "gemini-test-extra" in catalogue(scenario)


def test_catalogue_has_required_models_and_fields() -> None:
    models = catalogue(parse_scenario({}))
    for model in (
        "gemini-2.5-flash",
        "gemini-2.5-pro",
        "gemini-2.5-flash-lite",
        "gemini-3-flash-preview",
        "gemini-3.1-pro-preview",
        "gemini-3.5-flash",
        "gemini-flash-latest",
        "gemini-flash-lite-latest",
        "gemini-embedding-001",
    ):
        resource = model_resource(models[model])
        assert resource["name"] == f"models/{model}"
        assert {"supportedGenerationMethods", "inputTokenLimit", "outputTokenLimit"} <= set(resource)
    assert "gemini-2.0-flash" not in models
    assert "generateContent" not in models["gemini-embedding-001"].methods


def test_logprobs_models_are_globs_and_none_by_default() -> None:
    assert not parse_scenario({}).enables_logprobs("gemini-2.5-flash")
    scenario = parse_scenario({"logprobs_models": ["gemini-2.5-*"]})
    assert scenario.enables_logprobs("gemini-2.5-pro") and not scenario.enables_logprobs("gemini-3-flash-preview")
    with pytest.raises(ScenarioError, match="logprobs_models: must be a list of strings"):
        parse_scenario({"logprobs_models": [1]})
