"""Settings validation: every invalid field is named with its allowed values."""

import pytest
from pydantic import ValidationError

from services.merchant_settings.errors import describe, setting_problems, unknown_settings
from services.merchant_settings.model import MerchantSettings


def problems_of(values: dict[str, object]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        MerchantSettings.model_validate(values)
    return {p.field: p.message for p in setting_problems(caught.value)}


def test_unknown_status_lists_allowed_values() -> None:
    problems = problems_of({"reward_statuses": ["paid", "refunded"]})

    assert problems == {
        "reward_statuses": "unknown payment status 'refunded'; allowed values: "
        "not_paid, partially_paid, paid, cancelled"
    }


def test_status_string_instead_of_list_rejected() -> None:
    problems = problems_of({"cancel_statuses": "cancelled"})

    assert "must be a list of payment statuses" in problems["cancel_statuses"]


def test_every_invalid_field_is_named() -> None:
    problems = problems_of(
        {
            "points_per_unit": "-1",
            "amount_basis": "net",
            "negative_balance_policy": "never",
            "earning_enabled": "maybe",
            "earned_email_delay_seconds": -5,
        }
    )

    assert set(problems) == {
        "points_per_unit",
        "amount_basis",
        "negative_balance_policy",
        "earning_enabled",
        "earned_email_delay_seconds",
    }
    assert "allowed values: including_tax, excluding_tax" in problems["amount_basis"]
    assert "allowed values: allow, clamp" in problems["negative_balance_policy"]
    assert "allowed values: true, false" in problems["earning_enabled"]
    assert "at least 0" in problems["points_per_unit"]
    assert "0 or more" in problems["earned_email_delay_seconds"]


def test_overlap_names_both_fields() -> None:
    problems = problems_of({"reward_statuses": ["paid"], "cancel_statuses": ["paid"]})

    assert problems == {
        "reward_statuses, cancel_statuses": "reward_statuses and cancel_statuses must not "
        "overlap; both contain paid"
    }


def test_unknown_setting_lists_settings() -> None:
    problems = unknown_settings({"points_per_euro": 1, "earning_enabled": True})

    assert len(problems) == 1
    assert problems[0].field == "points_per_euro"
    assert "negative_balance_policy" in problems[0].message
    assert "version" not in problems[0].message


def test_describe_joins_problems() -> None:
    text = describe(unknown_settings({"a": 1, "b": 2}))

    assert text.startswith("a: unknown setting")
    assert "; b: unknown setting" in text


def test_valid_settings_round_trip_through_json() -> None:
    settings = MerchantSettings.model_validate(
        {"points_per_unit": "2.5", "reward_statuses": ["paid", "partially_paid"]}
    )

    assert MerchantSettings.model_validate_json(settings.model_dump_json()) == settings
