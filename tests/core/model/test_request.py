"""The ChatRequest model: frozen, slotted values, and the prose Cost estimates from."""

from __future__ import annotations

import dataclasses

import pytest
from hpn_router.core.model import request as model
from hpn_router.core.model.request import ChatRequest, Message, ReasoningPart, TextPart, ToolCall, ToolResult, prompt_text


def test_every_part_of_the_model_is_frozen_and_slotted() -> None:
    classes = [c for c in vars(model).values() if dataclasses.is_dataclass(c)]
    assert len(classes) >= 10
    for cls in classes:
        assert cls.__dataclass_params__.frozen, cls  # type: ignore[attr-defined]
        assert "__slots__" in vars(cls), cls
    with pytest.raises(dataclasses.FrozenInstanceError):
        ChatRequest("m", ()).model = "other"  # type: ignore[misc]


def test_prompt_text_takes_texts_results_reasoning_and_call_arguments() -> None:
    request = ChatRequest(
        "m",
        (
            Message("system", (TextPart("Be brief"),)),
            Message("user", (TextPart("Hello"), TextPart(""))),
            Message("assistant", (ReasoningPart("hmm"),), (ToolCall("f", {"city": "Paris"}), ToolCall("g", {}))),
            Message("tool", (ToolResult((TextPart("sunny"),), call_id="c"),)),
        ),
    )
    assert prompt_text(request) == 'Be brief Hello hmm {"city": "Paris"} sunny'
