"""The settings a merchant controls, and their validation."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.orders import PaymentStatus
from services.rewarding.rules import AmountBasis, NegativeBalancePolicy, RewardRules

__all__ = ["DEFAULT_SETTINGS", "MerchantSettings", "NegativeBalancePolicy"]


class MerchantSettings(BaseModel):
    """A merchant's loyalty settings; ``version`` is the settings stream version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(default=1, ge=1)
    earning_enabled: bool = True
    reward_statuses: frozenset[PaymentStatus] = frozenset({PaymentStatus.PAID})
    cancel_statuses: frozenset[PaymentStatus] = frozenset({PaymentStatus.CANCELLED})
    points_per_unit: Decimal = Field(default=Decimal(1), ge=0)
    amount_basis: AmountBasis = AmountBasis.INCLUDING_TAX
    include_shipping: bool = True
    earned_email_enabled: bool = True
    earned_email_delay_seconds: int = Field(default=0, ge=0)
    negative_balance_policy: NegativeBalancePolicy = NegativeBalancePolicy.ALLOW

    @field_validator("reward_statuses", "cancel_statuses", mode="before")
    @classmethod
    def _known_statuses(cls, value: Any) -> Any:
        if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
            raise ValueError(
                f"must be a list of payment statuses, got {value!r}; "
                f"allowed values: {_allowed(PaymentStatus)}"
            )
        unknown = [item for item in value if item not in set(PaymentStatus)]
        if unknown:
            names = ", ".join(repr(item) for item in unknown)
            raise ValueError(
                f"unknown payment status {names}; allowed values: {_allowed(PaymentStatus)}"
            )
        return value

    @field_validator("amount_basis", "negative_balance_policy", mode="before")
    @classmethod
    def _known_choice(cls, value: Any, info: Any) -> Any:
        choices = AmountBasis if info.field_name == "amount_basis" else NegativeBalancePolicy
        if value not in set(choices):
            raise ValueError(f"unknown value {value!r}; allowed values: {_allowed(choices)}")
        return value

    @field_validator("points_per_unit", mode="before")
    @classmethod
    def _decimal_rate(cls, value: Any) -> Any:
        try:
            rate = Decimal(str(value)) if not isinstance(value, bool) else None
        except InvalidOperation:
            rate = None
        if rate is None or not rate.is_finite() or rate < 0:
            raise ValueError(
                f"{value!r} is not a valid rate; allowed values: a decimal number of "
                "at least 0, such as 1 or 2.5"
            )
        return rate

    @model_validator(mode="after")
    def _statuses_do_not_overlap(self) -> MerchantSettings:
        overlap = self.reward_statuses & self.cancel_statuses
        if overlap:
            names = ", ".join(sorted(status.value for status in overlap))
            raise ValueError(
                f"reward_statuses and cancel_statuses must not overlap; both contain {names}"
            )
        return self

    def rules(self) -> RewardRules:
        """Return the rules the decider applies under these settings."""
        return RewardRules(
            version=self.version,
            earning_enabled=self.earning_enabled,
            reward_statuses=self.reward_statuses,
            cancel_statuses=self.cancel_statuses,
            points_per_unit=self.points_per_unit,
            amount_basis=self.amount_basis,
            include_shipping=self.include_shipping,
            negative_balance_policy=self.negative_balance_policy,
        )


def _allowed(choices: type[StrEnum]) -> str:
    return ", ".join(choice.value for choice in choices)


DEFAULT_SETTINGS = MerchantSettings()
