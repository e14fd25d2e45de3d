from __future__ import annotations

from decimal import Decimal

import pytest
from hpn_router.core.model.answer import Usage
from hpn_router.core.pricing import (
    FREE,
    PROVIDER_PRICES,
    SEED_DEFAULT_PRICE,
    SEED_PRICE_TABLE,
    Price,
    PriceTable,
    SavingsLedger,
    estimate_tokens,
    format_usd,
    provider_price,
    request_cost,
    saving,
    text_of,
    usage_or_estimate,
)

GPT4O = Price(Decimal("2.50"), Decimal("10.00"))


def test_seed_prices() -> None:
    assert SEED_PRICE_TABLE.as_of == "2024-01-25"
    assert SEED_PRICE_TABLE.price_for("gpt-3.5-turbo") == Price(Decimal("0.50"), Decimal("1.50"))


def test_price_for_exact_match_else_default() -> None:
    table = PriceTable(as_of="2024-08-06", default=SEED_DEFAULT_PRICE, per_model={"gpt-4o": GPT4O})
    assert table.price_for("gpt-4o") == GPT4O
    assert table.price_for("gpt-4o-2024-08-06") == SEED_DEFAULT_PRICE
    assert table.price_for("GPT-4O") == SEED_DEFAULT_PRICE


def test_price_table_is_immutable() -> None:
    source = {"gpt-4o": GPT4O}
    table = PriceTable(as_of="x", default=SEED_DEFAULT_PRICE, per_model=source)
    source["gpt-4o"] = SEED_DEFAULT_PRICE
    assert table.price_for("gpt-4o") == GPT4O
    with pytest.raises(TypeError):
        table.per_model["new"] = GPT4O  # type: ignore[index]


@pytest.mark.parametrize("bad", [Decimal("-1"), Decimal("NaN"), 0.5])
def test_price_validation(bad: object) -> None:
    with pytest.raises(ValueError):
        Price(bad, Decimal(1))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("prompt", "completion", "expected"),
    [
        (1000, 500, Decimal("0.00125")),  # 0.0005 + 0.00075
        (0, 0, Decimal("0")),
        (1, 0, Decimal("0.0000005")),
        (1_000_000, 1_000_000, Decimal("2.00")),
    ],
)
def test_request_cost_exact(prompt: int, completion: int, expected: Decimal) -> None:
    cost = request_cost(SEED_DEFAULT_PRICE, prompt, completion)
    assert isinstance(cost, Decimal)
    assert cost == expected


def test_request_cost_rejects_negative_tokens() -> None:
    with pytest.raises(ValueError):
        request_cost(SEED_DEFAULT_PRICE, -1, 0)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("   ", 1),
        ("hello", 1),  # 1.3 -> 1
        ("a b", 3),  # 2.6 -> 3
        ("a b c d e", 7),  # 6.5 -> 7 (half up)
        ("one two three four five six seven eight nine ten", 13),
        ("a\nb\tc", 4),  # 3.9 -> 4
    ],
)
def test_estimate_tokens(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (Usage(input_tokens=12, output_tokens=30), (12, 30, False)),
        (None, (3, 7, True)),
        (Usage(), (3, 7, True)),
        (Usage(input_tokens=12, output_tokens=0), (12, 7, True)),
        (Usage(input_tokens=0, output_tokens=9, reasoning_tokens=9), (3, 9, True)),
    ],
)
def test_usage_or_estimate(usage: Usage | None, expected: tuple[int, int, bool]) -> None:
    assert usage_or_estimate(usage, "a b", "a b c d e") == expected


def test_reported_zero_for_empty_answer_is_not_an_estimate() -> None:
    assert usage_or_estimate(Usage(input_tokens=5, output_tokens=0), "x", "") == (5, 0, False)


def test_ledger_exact_over_a_million_adds() -> None:
    ledger = SavingsLedger()
    step = Decimal("0.0000005")
    for _ in range(1_000_000):
        ledger.add(step)
    assert ledger.total == Decimal("0.5")


def test_ledger_add_returns_total() -> None:
    ledger = SavingsLedger()
    assert ledger.total == 0
    assert ledger.add(Decimal("1.25")) == Decimal("1.25")
    assert ledger.add(Decimal("0.75")) == ledger.total == Decimal("2.00")


@pytest.mark.parametrize(
    ("amount", "places", "text"),
    [
        (Decimal("0.00075"), 4, "$0.0008"),
        (Decimal("0.00125"), 4, "$0.0013"),
        (Decimal("45.665"), 2, "$45.67"),
        (Decimal("45.6749"), 2, "$45.67"),
        (Decimal("0"), 2, "$0.00"),
        # Under one unit of the last place: two significant digits, never a misleading $0.00.
        (Decimal("0.0013"), 2, "$0.0013"),
        (Decimal("0.00125"), 2, "$0.0013"),
        (Decimal("0.004"), 2, "$0.0040"),
        (Decimal("0.00999"), 2, "$0.01"),
        (Decimal("0.01"), 2, "$0.01"),
        (Decimal("0.0135"), 2, "$0.01"),
        (Decimal("0.000035"), 4, "$0.000035"),
        (Decimal("0.0000001234"), 4, "$0.00000012"),
        (Decimal("-0.001"), 2, "-$0.0010"),
        (Decimal("1234567.891"), 2, "$1234567.89"),
        (Decimal("-1.5"), 2, "-$1.50"),
        (Decimal("1E+2"), 2, "$100.00"),
    ],
)
def test_format_usd(amount: Decimal, places: int, text: str) -> None:
    assert format_usd(amount, places=places) == text


def test_format_usd_default_places() -> None:
    assert format_usd(Decimal("0")) == "$0.0000"


def test_text_of_openai_request() -> None:
    body = {
        "model": "gpt-4o",
        "stop": ["END"],
        "messages": [
            {"role": "system", "content": "Be terse."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}],
            },
        ],
    }
    assert text_of(body) == 'Be terse. What is this? {"x": 1}'


def test_text_of_gemini_request_and_embedding_inputs() -> None:
    gemini = {
        "systemInstruction": {"parts": [{"text": "Be terse."}]},
        "contents": [{"role": "user", "parts": [{"text": "Hi"}, {"inlineData": {"data": "AAAA"}}]}],
    }
    assert text_of(gemini) == "Be terse. Hi"
    assert text_of({"model": "text-embedding-3-small", "input": ["one two", "three"]}) == "one two three"
    assert text_of(None) == "" and text_of("loose string") == ""


def test_text_of_is_bounded() -> None:
    assert len(text_of({"messages": [{"content": "word " * 1000}] * 10}, limit=100)) == 100


def test_provider_prices_are_dated_and_gemini_is_free() -> None:
    assert all(table.as_of for table in PROVIDER_PRICES.values())
    assert provider_price(PROVIDER_PRICES, "gemini", "gemini-2.5-pro") == FREE
    assert provider_price(PROVIDER_PRICES, "mistral", "mistral-small-latest") == Price(Decimal("0.15"), Decimal("0.60"))
    assert provider_price(PROVIDER_PRICES, "anthropic", "claude-haiku-4-5") == Price(Decimal("1.00"), Decimal("5.00"))
    # A model a paid provider's table lacks is priced at its default, never free.
    assert provider_price(PROVIDER_PRICES, "mistral", "mistral-new-model") == PROVIDER_PRICES["mistral"].default != FREE
    assert provider_price(PROVIDER_PRICES, None, "gpt-4o") == FREE  # a cache hit


@pytest.mark.parametrize(
    ("model", "input_usd", "output_usd"),
    [
        ("mistral-medium-latest", "1.50", "7.50"),  # Medium 3.5 since April 2026 (was Medium 3.1, $0.40/$2.00)
        ("mistral-small-latest", "0.15", "0.60"),  # Small 4 (was Small 3.2, $0.10/$0.30)
        ("magistral-small-latest", "0.15", "0.60"),  # resolves to Small 4 (was Magistral Small, $0.50/$1.50)
        ("ministral-8b-latest", "0.15", "0.15"),  # Ministral 3 8B (was Ministral 8B 24.10, $0.10)
        ("ministral-3b-latest", "0.10", "0.10"),  # Ministral 3 3B (was Ministral 3B 24.10, $0.04)
    ],
)
def test_mistral_prices_checked_on_2026_12_02(model: str, input_usd: str, output_usd: str) -> None:
    table = PROVIDER_PRICES["mistral"]
    assert table.as_of == "2026-12-02"
    assert table.price_for(model) == Price(Decimal(input_usd), Decimal(output_usd))


def test_an_unlisted_mistral_model_is_priced_as_mistral_medium_latest() -> None:
    table = PROVIDER_PRICES["mistral"]
    assert table.price_for("mistral-new-model") == table.price_for("mistral-medium-latest") == Price(Decimal("1.50"), Decimal("7.50"))


def test_a_dated_snapshot_is_priced_as_its_family() -> None:
    haiku = provider_price(PROVIDER_PRICES, "anthropic", "claude-haiku-4-5")
    assert provider_price(PROVIDER_PRICES, "anthropic", "claude-haiku-4-5-20251001") == haiku != PROVIDER_PRICES["anthropic"].default
    assert provider_price(PROVIDER_PRICES, "anthropic", "claude-sonnet-5") == Price(Decimal("2.00"), Decimal("10.00"))
    # Only an 8-digit date is a snapshot: other suffixes are other models.
    assert provider_price(PROVIDER_PRICES, "anthropic", "claude-haiku-4-5-fast") == PROVIDER_PRICES["anthropic"].default
    assert provider_price(PROVIDER_PRICES, "anthropic", "20251001") == PROVIDER_PRICES["anthropic"].default


def test_saving_is_the_difference_never_below_zero() -> None:
    assert saving(Decimal("0.000035"), Decimal("0.000007")) == Decimal("0.000028")
    assert saving(Decimal("0.000035"), Decimal("0.0001")) == Decimal(0)
