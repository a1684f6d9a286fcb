"""Settings of the relay, read from ``LOYALTY_*`` environment variables."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from services.common.settings import CommonSettings


class RelaySettings(CommonSettings):
    """Settings of the relay that publishes points events from the store to Kafka."""

    relay_name: str = Field(
        default="loyalty-points",
        min_length=1,
        description="Key of the relay's checkpoint row; also its Kafka transactional id.",
    )
    relay_batch_size: Annotated[int, Field(ge=1, le=10_000)] = 500
    relay_poll_interval_seconds: Annotated[float, Field(gt=0)] = 0.2
