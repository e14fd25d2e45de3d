"""Scenario model and loader for the Mistral emulator (pure: no I/O but reading the file).

The same YAML layout as the Gemini emulator's; every field is optional except `keys[].key`::

    latency_ms: 0            # added before answering (non-stream) / before the first event (stream)
    stream_delay_ms: 0       # pause between streamed events
    models: []               # extra chat model ids, served like mistral-small-latest
    keys:
      - key: "emuMistral..." # the literal key value, sent as `Authorization: Bearer <key>`
        organization: org-a  # keys of one organization share the rpm window (Mistral limits per org)
        behaviour: ok        # see BEHAVIOURS
        retry_after: 2       # Retry-After seconds on scripted 429s (rpm 429s say when the minute ends)
        script: [rate_limit, ok]  # consumed one per call request, then `behaviour` applies
        rpm: 5               # real requests per minute per organization (chat and embeddings)
        latency_ms: 0        # per-key override of the global latency

Behaviours (bodies in errors.py):
    ok                    answer normally (rpm still applies)
    unauthorized          401 {"detail": "Unauthorized"}, as for an unknown key
    unauthorized_gateway  401 {"message": "Unauthorized", "request_id": ...}, the older gateway shape
    rate_limit            429 type rate_limited, code 1300, raw_status_code, Retry-After
    rate_limit_bare       429 {"message": "Requests rate limit exceeded"}, Retry-After
    capacity              429 "Service tier capacity exceeded for this model.", no Retry-After
    monthly_limit         429 monthly usage limit, no Retry-After
    payment_required      402 (no credits / spend limit)
    internal, unavailable 500, 503 (overloaded)
    hang                  never answer (until the client gives up)
    drop                  close the connection without a response
    stream_cut            streams: two events, then the connection closes mid-body; otherwise as drop
`unauthorized unauthorized_gateway` describe the key itself and apply to every request (models
too); the others apply to call requests (chat, embeddings), which also consume `script` entries.

Usage:
    scenario = load_scenario("configs/emulator/mistral-test.yaml")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator_kit.scenario import ScenarioError as ScenarioError  # raised by load_scenario: part of this module's API
from emulator_kit.scenario import check_behaviour as _check_behaviour
from emulator_kit.scenario import key_basics, nonneg_int, parse_keys, read_scenario, strings, top_level

BEHAVIOURS = frozenset(
    {
        "ok",
        "unauthorized",
        "unauthorized_gateway",
        "rate_limit",
        "rate_limit_bare",
        "capacity",
        "monthly_limit",
        "payment_required",
        "internal",
        "unavailable",
        "hang",
        "drop",
        "stream_cut",
    }
)
KEY_BEHAVIOURS = frozenset({"unauthorized", "unauthorized_gateway"})
_TOP_FIELDS = {"latency_ms", "stream_delay_ms", "models", "keys"}
_KEY_FIELDS = {"key", "organization", "behaviour", "retry_after", "script", "rpm", "latency_ms"}


@dataclass(frozen=True, slots=True)
class KeySpec:
    key: str
    organization: str
    behaviour: str = "ok"
    retry_after: int = 2
    script: tuple[str, ...] = ()
    rpm: int | None = None
    latency_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    keys: tuple[KeySpec, ...] = ()
    latency_ms: int = 0
    stream_delay_ms: int = 0
    models: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model card's facts: what GET /v1/models reports and what the chat checks rely on."""

    id: str
    max_context_length: int = 131_072
    function_calling: bool = True
    vision: bool = False
    reasoning: bool = False
    embedding: bool = False
    aliases: tuple[str, ...] = ()


BUILTIN_MODELS = (
    ModelInfo("mistral-small-latest", vision=True, aliases=("mistral-small-2506",)),
    ModelInfo("mistral-medium-latest", vision=True, aliases=("mistral-medium-2508",)),
    ModelInfo("mistral-large-latest", max_context_length=262_144, vision=True, aliases=("mistral-large-2512",)),
    ModelInfo("magistral-medium-latest", max_context_length=40_960, vision=True, reasoning=True),
    ModelInfo("magistral-small-latest", max_context_length=40_960, vision=True, reasoning=True),
    ModelInfo("codestral-latest", max_context_length=256_000, aliases=("codestral-2508",)),
    ModelInfo("devstral-medium-latest", max_context_length=262_144),
    ModelInfo("ministral-8b-latest"),
    ModelInfo("open-mistral-nemo", function_calling=True),
    ModelInfo("pixtral-large-latest", vision=True),
    ModelInfo("mistral-embed", max_context_length=8192, function_calling=False, embedding=True),
)


def catalogue(scenario: Scenario) -> dict[str, ModelInfo]:
    """Built-in models plus the scenario's extras (chat models), in listing order."""
    models = {m.id: m for m in BUILTIN_MODELS}
    for model_id in scenario.models:
        models.setdefault(model_id, ModelInfo(model_id))
    return models


def model_card(info: ModelInfo, created: int) -> dict[str, Any]:
    """One `BaseModelCard` of GET /v1/models (M-SDK basemodelcard.py, modelcapabilities.py)."""
    return {
        "id": info.id,
        "object": "model",
        "created": created,
        "owned_by": "mistralai",
        "capabilities": {
            "completion_chat": not info.embedding,
            "completion_fim": info.id.startswith("codestral"),
            "function_calling": info.function_calling,
            "fine_tuning": False,
            "vision": info.vision,
            "reasoning": info.reasoning,
            "classification": False,
        },
        "name": info.id,
        "description": f"{info.id} (served by the HPN Mistral emulator)",
        "max_context_length": info.max_context_length,
        "aliases": list(info.aliases),
        "deprecation": None,
        "default_model_temperature": None if info.embedding else 0.3,
        "type": "base",
    }


def load_scenario(path: str | Path) -> Scenario:
    return parse_scenario(read_scenario(path))


def parse_scenario(data: Any) -> Scenario:
    """Build a Scenario from decoded YAML, rejecting unknown fields and bad values."""
    data = top_level(data, _TOP_FIELDS)
    return Scenario(
        keys=parse_keys(data, _parse_key),
        latency_ms=nonneg_int(data, "latency_ms", "scenario", 0),
        stream_delay_ms=nonneg_int(data, "stream_delay_ms", "scenario", 0),
        models=tuple(strings(data, "models", "scenario")),
    )


def _parse_key(raw: Any, index: int) -> KeySpec:
    where, key, behaviour, script = key_basics(raw, index, _KEY_FIELDS, BEHAVIOURS)
    return KeySpec(
        key=key,
        organization=str(raw.get("organization") or f"org-{index}"),
        behaviour=behaviour,
        retry_after=nonneg_int(raw, "retry_after", where, 2),
        script=script,
        rpm=nonneg_int(raw, "rpm", where, None),
        latency_ms=nonneg_int(raw, "latency_ms", where, None),
    )


def check_behaviour(value: Any, where: str) -> None:
    _check_behaviour(value, where, BEHAVIOURS)
