"""A merchant's rewarding rules, as the decider applies them."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas.orders import Amounts, PaymentStatus


class AmountBasis(StrEnum):
    """Order total that the points are computed from."""

    INCLUDING_TAX = "including_tax"
    EXCLUDING_TAX = "excluding_tax"


class NegativeBalancePolicy(StrEnum):
    """Policy for a removal that the customer's balance cannot cover."""

    ALLOW = "allow"
    CLAMP = "clamp"


class RewardRules(BaseModel):
    """The settings that decide points, at one settings version."""

    model_config = ConfigDict(frozen=True)

    version: int = Field(default=1, ge=1)
    earning_enabled: bool = True
    reward_statuses: frozenset[PaymentStatus] = frozenset({PaymentStatus.PAID})
    cancel_statuses: frozenset[PaymentStatus] = frozenset({PaymentStatus.CANCELLED})
    points_per_unit: Decimal = Field(default=Decimal(1), ge=0)
    amount_basis: AmountBasis = AmountBasis.INCLUDING_TAX
    include_shipping: bool = True
    negative_balance_policy: NegativeBalancePolicy = NegativeBalancePolicy.ALLOW

    def basis_amount(self, amounts: Amounts) -> Decimal:
        """Return the order amount that points are computed from, never below zero."""
        if self.amount_basis is AmountBasis.INCLUDING_TAX:
            total, shipping = amounts.total_incl, amounts.shipping_incl
        else:
            total, shipping = amounts.total_excl, amounts.shipping_excl
        basis = total if self.include_shipping else total - shipping
        return max(basis, Decimal(0))


def points_for(amount: Decimal, rate: Decimal) -> int:
    """Return ``amount`` times ``rate``, rounded down to whole points."""
    return int((amount * rate).to_integral_value(rounding=ROUND_FLOOR))


DEFAULT_RULES = RewardRules()
