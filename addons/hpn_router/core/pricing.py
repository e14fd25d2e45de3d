"""What the traffic would have cost on OpenAI, what the provider charged, and the difference.

"Saved" means: the tokens of each answered request (as the provider counted them, or
estimated when it gave no counts) priced at the OpenAI list price of the model name the
client asked for, from a dated price table, less what the provider charged for the same
tokens at its own dated list price (`PROVIDER_PRICES`: Gemini's free tier charges nothing;
Mistral and Anthropic charge their list prices), never below zero. Everything is
`decimal.Decimal`, so totals stay exact over millions of requests.

Usage:
    price = SEED_PRICE_TABLE.price_for("gpt-3.5-turbo")
    prompt, completion, estimated = usage_or_estimate(usage, prompt_text, answer_text)
    openai = request_cost(price, prompt, completion)
    charged = request_cost(PROVIDER_PRICES["mistral"].price_for("mistral-small-latest"), prompt, completion)
    total = ledger.add(saving(openai, charged))
    format_usd(total, places=2)   # "$45.67"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal
from types import MappingProxyType
from typing import Any

from .model.answer import Usage

# An explicit context instead of decimal's thread-local default, which any
# library may change. 40 digits keep sums of sub-micro-dollar amounts exact.
_CTX = Context(prec=40, rounding=ROUND_HALF_UP)
_ZERO = Decimal(0)


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens."""

    input_per_million: Decimal
    output_per_million: Decimal

    def __post_init__(self) -> None:
        for value in (self.input_per_million, self.output_per_million):
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise ValueError(f"price must be a finite, non-negative Decimal: {value!r}")


@dataclass(frozen=True)
class PriceTable:
    as_of: str  # date the prices were taken from OpenAI's price list, "2024-01-25"
    default: Price
    per_model: Mapping[str, Price] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Read-only view, so a frozen table really cannot change.
        object.__setattr__(self, "per_model", MappingProxyType(dict(self.per_model)))

    def price_for(self, model: str) -> Price:
        """Price of the model name asked for: an exact entry, else the entry of its family when
        the name is a dated snapshot (`claude-haiku-4-5-20251001`), else the default."""
        price = self.per_model.get(model)
        if price is None and (family := _without_snapshot_date(model)) != model:
            price = self.per_model.get(family)
        return self.default if price is None else price


# The seed's figures: gpt-3.5-turbo-0125, announced 2024-01-25.
SEED_DEFAULT_PRICE = Price(Decimal("0.50"), Decimal("1.50"))
SEED_PRICE_TABLE = PriceTable(as_of="2024-01-25", default=SEED_DEFAULT_PRICE)


def _without_snapshot_date(model: str) -> str:
    """`claude-haiku-4-5-20251001` -> `claude-haiku-4-5`: a trailing -YYYYMMDD names a snapshot of the family."""
    family, _, date = model.rpartition("-")
    return family if family and len(date) == 8 and date.isdigit() else model


def _usd(text: str) -> Decimal:
    return Decimal(text)


def _prices(table: dict[str, tuple[str, str]]) -> dict[str, Price]:
    return {model: Price(_usd(i), _usd(o)) for model, (i, o) in table.items()}


FREE = Price(_ZERO, _ZERO)
# What each provider charges, USD per 1M tokens (input, output), from its public price list on
# `as_of`; `pricing.charged.<provider>` in the config replaces a provider's table. Gemini's
# keys are free-tier keys (the pool exists to spread the free quota): they charge nothing.
PROVIDER_PRICES: Mapping[str, PriceTable] = MappingProxyType(
    {
        "gemini": PriceTable(as_of="2025-12-01", default=FREE),
        # Checked 2026-12-02. Mistral's own price page (mistral.ai/pricing, docs.mistral.ai/inference/pricing)
        # could not be read from here; each changed figure agrees with at least two catalogs citing it:
        # github.com/anomalyco/models.dev providers/mistral/models/*.toml (citing docs.mistral.ai model
        # cards, accessed 2026-08/10), developer.puter.com/tutorials/mistral-api-pricing (June 2026),
        # margindash.com/mistral-api-pricing, and price fixes in other projects citing
        # docs.mistral.ai/inference/pricing (2026-09). The `-latest` aliases moved in 2026:
        # mistral-medium-latest is Medium 3.5 (was Medium 3.1, $0.40/$2.00), mistral-small-latest and
        # magistral-small-latest are Small 4, ministral-8b-latest is Ministral 3 8B. Disagreements:
        # Small 4 is $0.10/$0.30 on pages from May-June 2026 and $0.15/$0.60 on those from August on (the
        # later is used); ministral-3b-latest is priced as Ministral 3 3B, though no source said the alias
        # moved from Ministral 3B 24.10 ($0.04). Not confirmed anew: devstral-small-latest (a catalog
        # of 2026-04), open-mistral-nemo, pixtral-large-latest (older models, unchanged everywhere).
        "mistral": PriceTable(
            as_of="2026-12-02",
            default=Price(_usd("1.50"), _usd("7.50")),  # mistral-medium-latest's: a model missing below is not priced as free
            per_model=_prices(
                {
                    "mistral-large-latest": ("0.50", "1.50"),  # Large 3 (2512)
                    "mistral-medium-latest": ("1.50", "7.50"),  # Medium 3.5 (2604)
                    "mistral-small-latest": ("0.15", "0.60"),  # Small 4 (2603)
                    "magistral-medium-latest": ("2.00", "5.00"),
                    "magistral-small-latest": ("0.15", "0.60"),  # resolves to Small 4
                    "codestral-latest": ("0.30", "0.90"),
                    "devstral-medium-latest": ("0.40", "2.00"),  # Devstral 2 (2512)
                    "devstral-small-latest": ("0.10", "0.30"),
                    "ministral-8b-latest": ("0.15", "0.15"),  # Ministral 3 8B (2512)
                    "ministral-3b-latest": ("0.10", "0.10"),  # Ministral 3 3B (2512)
                    "open-mistral-nemo": ("0.15", "0.15"),
                    "pixtral-large-latest": ("2.00", "6.00"),
                    "mistral-embed": ("0.10", "0"),
                }
            ),
        ),
        # platform.claude.com/docs/en/about-claude/pricing and the models overview. Haiku 5.5
        # is left out: its price depends on the prompt's length (the default applies).
        "anthropic": PriceTable(
            as_of="2026-12-02",
            default=Price(_usd("3.00"), _usd("15.00")),  # Sonnet 4's
            per_model=_prices(
                {
                    "claude-fable-5-1": ("10.00", "50.00"),
                    "claude-fable-5": ("10.00", "50.00"),
                    "claude-opus-5-5": ("4.00", "20.00"),
                    "claude-opus-5": ("5.00", "25.00"),
                    "claude-opus-4-8": ("5.00", "25.00"),
                    "claude-opus-4-7": ("5.00", "25.00"),
                    "claude-opus-4-6": ("5.00", "25.00"),
                    "claude-opus-4-5": ("5.00", "25.00"),
                    "claude-opus-4-1": ("15.00", "75.00"),
                    "claude-opus-4-0": ("15.00", "75.00"),
                    "claude-sonnet-5-5": ("2.00", "10.00"),
                    "claude-sonnet-5": ("2.00", "10.00"),
                    "claude-sonnet-4-6": ("3.00", "15.00"),
                    "claude-sonnet-4-5": ("3.00", "15.00"),
                    "claude-sonnet-4-0": ("3.00", "15.00"),
                    "claude-haiku-4-5": ("1.00", "5.00"),
                    "claude-3-5-haiku-latest": ("0.80", "4.00"),
                }
            ),
        ),
    }
)


def provider_price(tables: Mapping[str, PriceTable], provider: str | None, model: str) -> Price:
    """What `provider` charges for `model`; nothing when no provider served the request
    (a cache hit). A provider without a table is priced at nothing, as Gemini's free tier."""
    table = tables.get(provider or "")
    return table.price_for(model) if table is not None else FREE


def saving(openai_cost: Decimal, charged: Decimal) -> Decimal:
    """What the request saved: OpenAI's price less the provider's charge, never below zero (an
    answer that cost more than OpenAI's price saved nothing; its charge says what it cost)."""
    return max(_ZERO, _CTX.subtract(openai_cost, charged))


def request_cost(price: Price, prompt_tokens: int, completion_tokens: int) -> Decimal:
    """Exact cost of one request. `completion_tokens` must already include
    thinking tokens (OpenAI bills reasoning tokens as output)."""
    if prompt_tokens < 0 or completion_tokens < 0:
        raise ValueError("token counts must be non-negative")
    cost_in = _CTX.multiply(price.input_per_million, Decimal(prompt_tokens))
    cost_out = _CTX.multiply(price.output_per_million, Decimal(completion_tokens))
    return _CTX.add(cost_in, cost_out).scaleb(-6, _CTX)


def estimate_tokens(text: str) -> int:
    """The seed's estimate, words x 1.3, rounded half up; at least 1 for
    non-empty text. Only for answers Gemini gave no counts for."""
    if not text:
        return 0
    words = len(text.split())
    estimate = (Decimal(words) * Decimal("1.3")).to_integral_value(ROUND_HALF_UP)
    return max(1, int(estimate))


def usage_or_estimate(usage: Usage | None, prompt_text: str, answer_text: str) -> tuple[int, int, bool]:
    """`(prompt_tokens, completion_tokens, estimated)`.

    Each count comes from the answer's `usage` (input and output tokens) when it
    is positive, else from `estimate_tokens`; `estimated` is True when any
    estimate of non-empty text was used. A reported 0 for an empty answer
    is therefore exact, not estimated.
    """
    usage = usage or Usage()
    prompt, prompt_est = _count(usage.input_tokens, prompt_text)
    completion, completion_est = _count(usage.output_tokens, answer_text)
    return prompt, completion, prompt_est or completion_est


TEXT_FIELDS = frozenset({"text", "content", "arguments", "input"})


def text_of(value: Any, *, limit: int = 1_000_000) -> str:
    """The prose in a JSON request or answer, for `estimate_tokens`: every string under a
    `text`, `content`, `arguments` or `input` field (OpenAI messages, Gemini parts, tool
    arguments, embedding inputs, also inside lists there), space-separated, cut at `limit`
    characters. Images, ids, stop sequences and other fields are not prose."""
    texts: list[str] = []
    size = 0
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack and size < limit:
        item, prose = stack.pop()
        if isinstance(item, str):
            if prose:
                texts.append(item)
                size += len(item) + 1
        elif isinstance(item, dict):
            stack.extend((child, name in TEXT_FIELDS) for name, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((child, prose) for child in reversed(item))
    return " ".join(texts)[:limit]


def _count(reported: int, text: str) -> tuple[int, bool]:
    if reported > 0:
        return reported, False
    estimate = estimate_tokens(text)
    return estimate, estimate > 0


class SavingsLedger:
    """Running total of savings.

    Not locked: it is only touched from mitmproxy's single event loop and
    `add` has no `await`, so no two updates interleave.
    """

    def __init__(self, start: Decimal = _ZERO) -> None:
        self._total = start

    def add(self, amount: Decimal) -> Decimal:
        """Add `amount` exactly; return the new total."""
        self._total = _CTX.add(self._total, amount)
        return self._total

    @property
    def total(self) -> Decimal:
        return self._total


def format_usd(amount: Decimal, places: int = 4, *, significant: int = 2) -> str:
    """`$0.0008` (per request, 4 places) or `$45.67` (totals, places=2), rounded half up.

    An amount smaller than one unit of the last place shows `significant` digits instead
    (`$0.0013`, `$0.000035`): rounded to `places` it would read as a misleading `$0.00`.
    Zero shows as `$0.00..`, never `$-0.00`."""
    unit = Decimal(1).scaleb(-places)
    rounded = amount.quantize(unit, ROUND_HALF_UP, _CTX)
    if amount and abs(amount) < unit:
        small = amount.quantize(Decimal(1).scaleb(amount.adjusted() - (significant - 1)), ROUND_HALF_UP, _CTX)
        rounded = small if abs(small) < unit else rounded  # $0.00999 rounds up to $0.01
    if rounded.is_zero():
        rounded = abs(rounded)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):f}"
