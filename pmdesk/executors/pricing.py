"""USD per million tokens (input, output) by model family; unknown models cost "unknown"."""

from __future__ import annotations

from pmdesk.models import Usage

# Cache writes cost 1.25x input, cache reads 0.1x input.
_PRICES: list[tuple[str, float, float]] = [
    ("claude-opus-4-5", 5.0, 25.0),
    ("claude-opus-4", 15.0, 75.0),
    ("claude-3-opus", 15.0, 75.0),
    ("claude-sonnet-4", 3.0, 15.0),
    ("claude-3-7-sonnet", 3.0, 15.0),
    ("claude-3-5-sonnet", 3.0, 15.0),
    ("claude-haiku-4-5", 1.0, 5.0),
    ("claude-3-5-haiku", 0.8, 4.0),
    ("claude-3-haiku", 0.25, 1.25),
]


def price_of(model: str | None) -> tuple[float, float] | None:
    if not model:
        return None
    for prefix, inp, out in _PRICES:
        if model.startswith(prefix):
            return inp, out
    return None


def cost_usd(model: str | None, usage: Usage) -> float | None:
    price = price_of(model)
    if price is None:
        return None
    inp, out = price
    return (
        usage.input_tokens * inp
        + usage.output_tokens * out
        + usage.cache_creation_input_tokens * inp * 1.25
        + usage.cache_read_input_tokens * inp * 0.1
    ) / 1_000_000
