"""The answer model: usage arithmetic, the prose of an answer, and a vocabulary of its own."""

from __future__ import annotations

import dataclasses

import pytest
from hpn_router.core.model.answer import ChatAnswer, Choice, ChoiceStart, Finish, ToolCall, Usage


def test_usage_totals_input_and_output_and_reads_zero_when_empty() -> None:
    assert Usage(input_tokens=7, output_tokens=5, reasoning_tokens=3, cached_tokens=2).total_tokens == 12
    assert Usage().total_tokens == 0


def test_the_prose_of_an_answer_is_its_texts_and_call_arguments_in_order() -> None:
    call = ToolCall(id="c", name="f", arguments='{"q": "x"}')
    answer = ChatAnswer(
        choices=(
            Choice(index=0, text="Hello there", reasoning="not counted", tool_calls=(call,)),
            Choice(index=1, text=None),
            Choice(index=2, text="again"),
        )
    )
    assert answer.text == 'Hello there {"q": "x"} again'
    assert ChatAnswer(choices=()).text == ""


def test_finish_reasons_are_the_models_own() -> None:
    # Each inbound API names them; tool errors and unknown reasons stay distinguishable here.
    assert {f.value for f in Finish} == {"stop", "length", "tool_calls", "content_filter", "tool_error", "other"}


def test_the_model_is_frozen_and_slotted() -> None:
    usage = Usage(input_tokens=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        usage.input_tokens = 2  # type: ignore[misc]
    assert not hasattr(ChoiceStart(0), "__dict__")
