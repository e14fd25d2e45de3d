"""Scenario model and loader for the Gemini emulator (pure: no I/O but reading the file).

A scenario is a YAML mapping; every field is optional except `keys[].key`::

    latency_ms: 0            # added before answering (non-stream) / before the first event (stream)
    stream_delay_ms: 0       # pause between streamed events
    split_events: false      # write each SSE event in two halves (exercises client buffering)
    models: []               # extra model ids, served like gemini-2.5-flash
    gemini3_models: ["gemini-3*"]  # globs: models in "Gemini 3 mode" (thinkingLevel, signatures, call ids)
    signature_check: all     # all = first functionCall of every model turn must be signed; current = only
                             #   the calls after the last plain user turn (what Google documents)
    logprobs_models: []      # globs: models that accept generationConfig.responseLogprobs; the others answer
                             #   400 "Logprobs is not enabled for models/<m>", as Gemini's API does for 2.5 and 3
    keys:
      - key: "AIzaSy..."     # the literal key value (39 chars like a real one)
        project: proj-a      # keys of one project share rpm/rpd (default: a project of its own)
        behaviour: ok        # see BEHAVIOURS
        retry_delay: "2s"    # RetryInfo.retryDelay for 429s; null = omit RetryInfo
        script: [rate_limit, ok]  # consumed one per call request, then `behaviour` applies
        rpm: 5               # real per-project-per-model requests per minute (generate/stream only)
        rpd: 3               # real per-project-per-model requests per day (resets at Pacific midnight)
        latency_ms: 0        # per-key override of the global latency

Behaviours (Google's exact bodies, see errors.py):
    ok                   answer normally (rpm/rpd still apply)
    rate_limit           429 per-minute quota: Help + QuotaFailure + RetryInfo, details order rotating
    rate_limit_day       429 per-day quota (still with a short RetryInfo, like Google)
    rate_limit_zero      429 whose message says "limit: 0" (model not on the project's tier)
    rate_limit_bare      429 "Resource has been exhausted (e.g. check quota)." without details
    invalid, expired     400 INVALID_ARGUMENT, ErrorInfo API_KEY_INVALID ("not valid" / "expired")
    forbidden            403 CONSUMER_SUSPENDED quoting the key, older shape (ErrorInfo only)
    suspended            403 CONSUMER_SUSPENDED quoting the key, 2026 shape (+containerInfo, LocalizedMessage)
    failed_precondition  400 FAILED_PRECONDITION "User location is not supported for the API use."
    internal, unavailable, deadline   500 INTERNAL, 503 UNAVAILABLE (overloaded), 504 DEADLINE_EXCEEDED
    hang                 never answer (until the client gives up); other requests are unaffected
    drop                 close the connection without a response
    stream_error         streams: two events, then an in-band {"error": 503} event; otherwise as unavailable
    stream_cut           streams: two events, then the connection closes mid-body; otherwise as drop
`invalid expired forbidden suspended` describe the key itself and apply to every keyed
request (models list/get too); the others apply to call requests (generate, stream,
countTokens, embed), which are also what consumes `script` entries.

Usage:
    scenario = load_scenario("configs/emulator/demo.yaml")
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
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
        "rate_limit_day",
        "rate_limit_zero",
        "rate_limit_bare",
        "invalid",
        "expired",
        "forbidden",
        "suspended",
        "failed_precondition",
        "unavailable",
        "internal",
        "deadline",
        "hang",
        "drop",
        "stream_error",
        "stream_cut",
    }
)
KEY_BEHAVIOURS = frozenset({"invalid", "expired", "forbidden", "suspended"})
_DURATION = re.compile(r"^\d+(\.\d{1,9})?s$")
_TOP_FIELDS = {"latency_ms", "stream_delay_ms", "split_events", "models", "gemini3_models", "signature_check", "logprobs_models", "keys"}
_KEY_FIELDS = {"key", "project", "behaviour", "retry_delay", "script", "rpm", "rpd", "latency_ms"}


@dataclass(frozen=True, slots=True)
class KeySpec:
    key: str
    project: str
    behaviour: str = "ok"
    retry_delay: str | None = "2s"
    script: tuple[str, ...] = ()
    rpm: int | None = None
    rpd: int | None = None
    latency_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    keys: tuple[KeySpec, ...] = ()
    latency_ms: int = 0
    stream_delay_ms: int = 0
    split_events: bool = False
    models: tuple[str, ...] = ()
    gemini3_models: tuple[str, ...] = ("gemini-3*",)
    signature_check: str = "all"
    logprobs_models: tuple[str, ...] = ()

    def is_gemini3(self, model: str) -> bool:
        return any(fnmatch.fnmatchcase(model, pattern) for pattern in self.gemini3_models)

    def enables_logprobs(self, model: str) -> bool:
        return any(fnmatch.fnmatchcase(model, pattern) for pattern in self.logprobs_models)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the emulator knows about one model; `budget` = (min, max, may_be_zero) for 2.5 thinking."""

    id: str
    display: str
    input_limit: int = 1_048_576
    output_limit: int = 65_536
    embedding: bool = False
    thinks_by_default: bool = True
    budget: tuple[int, int, bool] = (0, 24_576, True)
    levels: tuple[str, ...] = ("MINIMAL", "LOW", "MEDIUM", "HIGH")
    methods: tuple[str, ...] = ("generateContent", "countTokens", "createCachedContent", "batchGenerateContent")


_EMBED_METHODS = ("embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent")
BUILTIN_MODELS = (
    ModelInfo("gemini-2.5-flash", "Gemini 2.5 Flash"),
    ModelInfo("gemini-2.5-pro", "Gemini 2.5 Pro", budget=(128, 32_768, False)),
    ModelInfo("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite", thinks_by_default=False, budget=(512, 24_576, True)),
    ModelInfo("gemini-3-flash-preview", "Gemini 3 Flash Preview"),
    ModelInfo("gemini-3.1-pro-preview", "Gemini 3.1 Pro Preview", budget=(128, 32_768, False), levels=("LOW", "HIGH")),
    ModelInfo("gemini-3.5-flash", "Gemini 3.5 Flash"),
    ModelInfo("gemini-flash-latest", "Gemini Flash Latest"),
    ModelInfo("gemini-flash-lite-latest", "Gemini Flash-Lite Latest", thinks_by_default=False, budget=(512, 24_576, True)),
    ModelInfo(
        "gemini-embedding-001",
        "Gemini Embedding 001",
        input_limit=2048,
        output_limit=1,
        embedding=True,
        thinks_by_default=False,
        methods=_EMBED_METHODS,
    ),
)


def catalogue(scenario: Scenario) -> dict[str, ModelInfo]:
    """Built-in models plus the scenario's extras, in listing order."""
    models = {m.id: m for m in BUILTIN_MODELS}
    for model_id in scenario.models:
        models.setdefault(model_id, ModelInfo(model_id, model_id))
    return models


def model_resource(info: ModelInfo) -> dict[str, Any]:
    """The `Model` JSON of GET models/{m} (docs/gemini-wire-format.md#endpoints)."""
    resource: dict[str, Any] = {
        "name": f"models/{info.id}",
        "version": "001" if info.embedding else info.id.removeprefix("gemini-"),
        "displayName": info.display,
        "description": f"{info.display} (served by the HPN Gemini emulator)",
        "inputTokenLimit": info.input_limit,
        "outputTokenLimit": info.output_limit,
        "supportedGenerationMethods": list(info.methods),
    }
    if not info.embedding:
        resource.update(temperature=1, topP=0.95, topK=64, maxTemperature=2, thinking=True)
    return resource


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
        gemini3_models=tuple(strings(data, "gemini3_models", "scenario", ("gemini-3*",))),
        signature_check=one_of(data, "signature_check", ("all", "current")),
        logprobs_models=tuple(strings(data, "logprobs_models", "scenario")),
    )


def _parse_key(raw: Any, index: int) -> KeySpec:
    where, key, behaviour, script = key_basics(raw, index, _KEY_FIELDS, BEHAVIOURS)
    retry_delay = raw.get("retry_delay", "2s")
    require(
        retry_delay is None or (isinstance(retry_delay, str) and _DURATION.match(retry_delay) is not None),
        f"{where}.retry_delay",
        "must be a protobuf Duration like '2s' or '1.5s', or null",
    )
    return KeySpec(
        key=key,
        project=str(raw.get("project") or f"proj-{index}"),
        behaviour=behaviour,
        retry_delay=retry_delay,
        script=script,
        rpm=nonneg_int(raw, "rpm", where, None),
        rpd=nonneg_int(raw, "rpd", where, None),
        latency_ms=nonneg_int(raw, "latency_ms", where, None),
    )


def check_behaviour(value: Any, where: str) -> None:
    _check_behaviour(value, where, BEHAVIOURS)
