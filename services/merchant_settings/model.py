"""The settings a merchant controls, and their validation."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.orders import PaymentStatus
from services.rewarding.rules import AmountBasis, RewardRules


class NegativeBalancePolicy(StrEnum):
    """Policy for a removal that the customer's balance cannot cover."""

    ALLOW = "allow"
    CLAMP = "clamp"


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
        )


DEFAULT_SETTINGS = MerchantSettings()
