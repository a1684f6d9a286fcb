"""Money types: decimal amounts that serialize as JSON strings, never floats."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema


def _reject_float(value: object) -> object:
    # A float has already lost precision (0.1 + 0.2), so money must arrive as a
    # string or an integer.
    if isinstance(value, float):
        raise ValueError(
            f"amount {value!r} is a JSON number with a fraction; send it as a decimal string"
        )
    return value


Amount = Annotated[
    Decimal,
    BeforeValidator(_reject_float),
    Field(allow_inf_nan=False),
    PlainSerializer(lambda value: str(value), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "examples": ["19.95"]}),
]
"""A decimal amount, written as a string such as ``"19.95"`` in JSON."""

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])]
"""An ISO 4217 currency code."""
