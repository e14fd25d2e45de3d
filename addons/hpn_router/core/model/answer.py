"""The router's own answer to a chat request: what every upstream provider translates into and
every inbound API translates out of (one translator pair each, never one per combination).

A provider's answer becomes a `ChatAnswer` (choices with text, reasoning, tool calls, a finish
reason in the model's vocabulary, logprobs) and a `Usage`; a provider's stream becomes
`StreamEvent`s, a few per upstream event, in the order the client should see them. Nothing here
knows a wire format: the inbound translator names the finish reasons and usage fields the client
expects, and decides what the client is shown (reasoning only when the router exposes it).

Usage:
    answer = ChatAnswer(choices=(Choice(index=0, text="Hi", finish=Finish.STOP),), usage=Usage(input_tokens=3, output_tokens=1))
    answer.text            # "Hi": the prose of all choices, for token estimates
    events = [ChoiceStart(0), TextDelta(0, "Hi"), ChoiceEnd(0, Finish.STOP), UsageReport(usage), StreamEnd()]
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Finish(StrEnum):
    """Why a choice ended, in the router's own words; each inbound API maps them to its names."""

    STOP = "stop"  # a natural end or a stop sequence
    LENGTH = "length"  # the output token limit
    TOOL_CALLS = "tool_calls"  # the choice called tools (whatever reason the provider gave)
    CONTENT_FILTER = "content_filter"  # a safety, recitation or policy block, the prompt's included
    TOOL_ERROR = "tool_error"  # the provider could not produce a valid tool call
    OTHER = "other"  # a reason the router does not know


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one answer. `input_tokens` counts every prompt token (the cached ones
    included), `output_tokens` every generated one (the reasoning ones included), so a price
    per input and output token applies to them directly."""

    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0  # of output_tokens
    cached_tokens: int = 0  # of input_tokens

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    token: str
    logprob: float


@dataclass(frozen=True, slots=True)
class StepLogprob:
    """One sampled token, and the alternatives the provider reported at that step."""

    token: str
    logprob: float
    top: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call of one of the request's tools. `id` is opaque and unique in the answer: the provider's
    translator makes it, and reads it back when the call returns in a later request. `arguments`
    is the JSON text of the arguments. `signature`: the provider's reasoning signature tied to this
    call, which it wants back with the call (`signature_provider` made it)."""

    id: str
    name: str
    arguments: str
    signature: str | None = None
    signature_provider: str | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    index: int
    text: str | None = None  # None: no text part at all (an empty string is some text)
    reasoning: str | None = None  # the model's visible thinking, when the provider returned it
    tool_calls: tuple[ToolCall, ...] = ()
    finish: Finish = Finish.STOP
    logprobs: tuple[StepLogprob, ...] | None = None  # None: the provider sent none
    stop_sequence: str | None = None  # the client's stop sequence that ended it, when the provider says which


@dataclass(frozen=True, slots=True)
class ChatAnswer:
    choices: tuple[Choice, ...]
    usage: Usage | None = None  # None: the provider reported no counts
    provider: str = ""

    @property
    def text(self) -> str:
        """The prose of every choice (its text, its tool calls' arguments), space-separated: what
        a token estimate counts when the provider gave no counts."""
        texts: list[str] = []
        for choice in self.choices:
            texts += [choice.text] if choice.text else []
            texts += [call.arguments for call in choice.tool_calls]
        return " ".join(texts)


# Stream events: one upstream event becomes a few of these. Every event of a choice comes
# after its ChoiceStart and before its ChoiceEnd; a stream ends with StreamEnd or StreamError.


@dataclass(frozen=True, slots=True)
class ChoiceStart:
    index: int


@dataclass(frozen=True, slots=True)
class TextDelta:
    """Answer text, and the logprobs of its tokens; text may be empty when a step only has tokens."""

    index: int
    text: str
    logprobs: tuple[StepLogprob, ...] | None = None


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    """A whole tool call (providers that stream a call's arguments in pieces are joined first)."""

    index: int
    call: ToolCall


@dataclass(frozen=True, slots=True)
class ChoiceEnd:
    """A choice finished; `logprobs`: tokens of its last step that came with no text."""

    index: int
    finish: Finish
    logprobs: tuple[StepLogprob, ...] | None = None
    stop_sequence: str | None = None  # as Choice.stop_sequence


@dataclass(frozen=True, slots=True)
class UsageReport:
    """The answer's usage so far: each report replaces the one before (providers count cumulatively)."""

    usage: Usage


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The provider ended the stream normally; every choice has ended."""


@dataclass(frozen=True, slots=True)
class StreamError:
    """The stream broke (an in-band error, a malformed event, a lost connection); nothing follows."""

    message: str
    code: str = "upstream_error"


StreamEvent = ChoiceStart | TextDelta | ReasoningDelta | ToolCallEvent | ChoiceEnd | UsageReport | StreamEnd | StreamError
