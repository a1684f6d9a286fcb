from decimal import Decimal

import pytest
from pydantic import ValidationError

from schemas.export import SCHEMA_DIR, render_schemas
from schemas.orders import Amounts


def test_checked_in_schemas_match_models() -> None:
    for file_name, text in render_schemas().items():
        path = SCHEMA_DIR / file_name
        assert path.exists(), f"{path} is missing; run 'make schemas'"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} differs from the models; run 'make schemas' and commit the result"
        )


def test_amounts_serialize_as_strings() -> None:
    amounts = Amounts(
        currency="EUR",
        total_incl=Decimal("10.50"),
        total_excl=Decimal("8.68"),
        shipping_incl=Decimal(0),
        shipping_excl=Decimal(0),
    )

    assert '"total_incl":"10.50"' in amounts.model_dump_json()


def test_float_amount_rejected() -> None:
    with pytest.raises(ValidationError, match="decimal string"):
        Amounts.model_validate(
            {
                "currency": "EUR",
                "total_incl": 10.5,
                "total_excl": "1",
                "shipping_incl": "0",
                "shipping_excl": "0",
            }
        )
