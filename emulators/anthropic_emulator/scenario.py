"""Scenario model and loader for the Anthropic emulator (pure: no I/O but reading the file).

Same format as the Gemini emulator's; every field is optional except `keys[].key`::

    latency_ms: 0            # added before answering (non-stream) / before the first event (stream)
    stream_delay_ms: 0       # pause between streamed events
    split_events: false      # write each SSE event in two halves (exercises client buffering)
    models: []               # extra model ids, served like claude-sonnet-4-5
    role_check: strict       # strict = the first message must be `user` and roles must alternate (what
                             #   Anthropic documented and answered for years); combine = consecutive
                             #   turns of one role are merged, as the current API reference describes
    keys:
      - key: "sk-ant-api03-..."   # the literal key value
        organization: org-a  # anthropic-organization-id; keys of one organization share rpm (default: its own)
        behaviour: ok        # see BEHAVIOURS
        retry_after: 2       # seconds in `retry-after` on 429/529; null = no header
        script: [rate_limit, ok]  # consumed one per call request, then `behaviour` applies
        rpm: 5               # real requests per minute per organization and model class (opus/sonnet/haiku)
        latency_ms: 0        # per-key override of the global latency

Behaviours (Anthropic's error bodies, see errors.py):
    ok               answer normally (rpm still applies)
    rate_limit       429 rate_limit_error with retry-after
    spend_limit      429 rate_limit_error, details.error_code enforced_spend_limit_reached, no retry-after
    invalid          401 authentication_error "invalid x-api-key" (the key itself: every request)
    forbidden        403 permission_error
    billing          402 billing_error
    credit           400 invalid_request_error "Your credit balance is too low ..."
    workspace_limit  400 invalid_request_error: the workspace reached its spend limit
    overloaded       529 overloaded_error (with retry-after when retry_after is set)
    internal         500 api_error
    timeout          504 timeout_error
    hang             never answer (until the client gives up)
    drop             close the connection without a response
    stream_error     streams: message_start and one block, then `event: error` overloaded_error after
                     the 200; otherwise as overloaded
    stream_cut       streams: the same events, then the connection closes mid-body; otherwise as drop
`invalid` applies to every keyed request (models too); the others apply to call requests
(messages, count_tokens), which are also what consumes `script` entries.

Usage:
    scenario = load_scenario("configs/emulator/anthropic-test.yaml")
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator_kit.scenario import ScenarioError as ScenarioError  # raised by load_scenario: part of this module's API
from emulator_kit.scenario import (
    boolean,
    key_basics,
    nonneg_int,
    one_of,
    parse_keys,
    read_scenario,
    require,
    strings,
    top_level,
)
from emulator_kit.scenario import check_behaviour as _check_behaviour

BEHAVIOURS = frozenset(
    {
        "ok",
        "rate_limit",
        "spend_limit",
        "invalid",
        "forbidden",
        "billing",
        "credit",
        "workspace_limit",
        "overloaded",
        "internal",
        "timeout",
        "hang",
        "drop",
        "stream_error",
        "stream_cut",
    }
)
KEY_BEHAVIOURS = frozenset({"invalid"})
_TOP_FIELDS = {"latency_ms", "stream_delay_ms", "split_events", "models", "role_check", "keys"}
_KEY_FIELDS = {"key", "organization", "behaviour", "retry_after", "script", "rpm", "latency_ms"}
_ORG_NAMESPACE = uuid.UUID("6f1c6d2e-6a43-4d7b-9a51-2f3c0e0a7e11")  # any fixed namespace: org ids stay stable


@dataclass(frozen=True, slots=True)
class KeySpec:
    key: str
    organization: str
    behaviour: str = "ok"
    retry_after: int | None = 2
    script: tuple[str, ...] = ()
    rpm: int | None = None
    latency_ms: int | None = None

    @property
    def organization_id(self) -> str:
        """The `anthropic-organization-id` header value: a UUID like Anthropic's, stable per organization name."""
        return str(uuid.uuid5(_ORG_NAMESPACE, self.organization))


@dataclass(frozen=True, slots=True)
class Scenario:
    keys: tuple[KeySpec, ...] = ()
    latency_ms: int = 0
    stream_delay_ms: int = 0
    split_events: bool = False
    models: tuple[str, ...] = ()
    role_check: str = "strict"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model: its dated id, the alias that resolves to it, and its limits."""

    id: str
    display: str
    created_at: str
    aliases: tuple[str, ...] = ()
    max_output: int = 64_000
    context: int = 200_000
    thinking: bool = True
    model_class: str = field(default="")

    @property
    def rate_class(self) -> str:
        """Rate limits are pooled per model class (all Opus together, ...)."""
        return self.model_class or next((c for c in ("opus", "sonnet", "haiku") if c in self.id), self.id)


BUILTIN_MODELS = (
    ModelInfo("claude-opus-4-5-20251101", "Claude Opus 4.5", "2025-11-24T00:00:00Z", ("claude-opus-4-5",)),
    ModelInfo("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-15T00:00:00Z", ("claude-haiku-4-5",)),
    ModelInfo("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z", ("claude-sonnet-4-5",)),
    ModelInfo("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z", ("claude-opus-4-1",), max_output=32_000),
    ModelInfo("claude-sonnet-4-20250514", "Claude Sonnet 4", "2025-05-22T00:00:00Z", ("claude-sonnet-4-0",)),
    ModelInfo("claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22T00:00:00Z", ("claude-3-5-haiku-latest",), 8_192, thinking=False),
)


def catalogue(scenario: Scenario) -> dict[str, ModelInfo]:
    """Built-in models plus the scenario's extras, newest first (the listing order)."""
    models = {m.id: m for m in BUILTIN_MODELS}
    for model_id in scenario.models:
        models.setdefault(model_id, ModelInfo(model_id, model_id, "2026-01-01T00:00:00Z", model_class="sonnet"))
    return models


def resolve(models: dict[str, ModelInfo], name: str) -> ModelInfo | None:
    """A dated id or an alias (`claude-sonnet-4-5`) to its model; None = unknown."""
    return models.get(name) or next((m for m in models.values() if name in m.aliases), None)


def model_resource(info: ModelInfo) -> dict[str, Any]:
    """The `ModelInfo` JSON of GET /v1/models/{id}."""
    return {
        "type": "model",
        "id": info.id,
        "display_name": info.display,
        "created_at": info.created_at,
        "max_input_tokens": info.context,
        "max_tokens": info.max_output,
    }


def load_scenario(path: str | Path) -> Scenario:
    return parse_scenario(read_scenario(path))


def parse_scenario(data: Any) -> Scenario:
    """Build a Scenario from decoded YAML, rejecting unknown fields and bad values."""
    data = top_level(data, _TOP_FIELDS)
    keys = parse_keys(data, _parse_key)
    return Scenario(
        keys=keys,
        latency_ms=nonneg_int(data, "latency_ms", "scenario", 0),
        stream_delay_ms=nonneg_int(data, "stream_delay_ms", "scenario", 0),
        split_events=boolean(data, "split_events", "scenario"),
        models=tuple(strings(data, "models", "scenario")),
        role_check=one_of(data, "role_check", ("strict", "combine")),
    )


def _parse_key(raw: Any, index: int) -> KeySpec:
    where, key, behaviour, script = key_basics(raw, index, _KEY_FIELDS, BEHAVIOURS)
    organization = raw.get("organization", f"org-{index}")
    require(isinstance(organization, str) and organization != "", f"{where}.organization", "must be a non-empty string")
    return KeySpec(
        key=key,
        organization=organization,
        behaviour=behaviour,
        retry_after=nonneg_int(raw, "retry_after", where, 2, nullable=True),
        script=script,
        rpm=nonneg_int(raw, "rpm", where, None),
        latency_ms=nonneg_int(raw, "latency_ms", where, None),
    )


def check_behaviour(value: Any, where: str) -> None:
    _check_behaviour(value, where, BEHAVIOURS)
