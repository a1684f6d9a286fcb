"""Settings read from ``LOYALTY_*`` environment variables.

Each service builds its settings object once at start and passes it on; no
module reads the environment at import time. The README has the full table.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.orders import ORDER_STATUS_CHANGED_TOPIC
from schemas.points import POINTS_TOPIC


class CommonSettings(BaseSettings):
    """Database and Kafka settings that every service needs."""

    model_config = SettingsConfigDict(env_prefix="LOYALTY_", extra="ignore", frozen=True)

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/loyalty",
        description="PostgreSQL connection URL.",
    )
    database_pool_size: Annotated[int, Field(ge=1, le=100)] = 5

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Comma-separated host:port list of Kafka brokers."
    )
    kafka_idempotence: bool = Field(
        default=True,
        description="Use the idempotent producer. Turn off for brokers without it, such as Tansu.",
    )
    kafka_transactions: bool = Field(
        default=True,
        description="Publish points events in Kafka transactions; off for brokers without them.",
    )
    kafka_session_timeout_ms: Annotated[int, Field(ge=1000)] = 10_000
    kafka_heartbeat_interval_ms: Annotated[int, Field(ge=100)] = 3_000
    kafka_request_timeout_ms: Annotated[int, Field(ge=1000)] = 30_000

    orders_topic: str = ORDER_STATUS_CHANGED_TOPIC
    orders_topic_partitions: Annotated[int, Field(ge=1)] = 6
    points_topic: str = POINTS_TOPIC
    points_topic_partitions: Annotated[int, Field(ge=1)] = 6
    topic_replication_factor: Annotated[int, Field(ge=1)] = 1

    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|text)$")

    @property
    def orders_dlq_topic(self) -> str:
        return f"{self.orders_topic}.dlq"

    @property
    def points_dlq_topic(self) -> str:
        return f"{self.points_topic}.dlq"


class IngestSettings(CommonSettings):
    """Settings of the HTTP service: webhooks and the read API."""

    http_host: str = "127.0.0.1"
    http_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    max_body_bytes: Annotated[int, Field(ge=1024)] = 1024 * 1024
    publish_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0


class RewardingSettings(CommonSettings):
    """Settings of the rewarding consumer."""

    rewarding_group_id: str = "loyalty-rewarding"
    batch_max_records: Annotated[int, Field(ge=1)] = 500
    batch_timeout_ms: Annotated[int, Field(ge=1)] = 200
    batch_parallelism: Annotated[int, Field(ge=1, le=32)] = 2
    shutdown_timeout_seconds: Annotated[float, Field(gt=0)] = 15.0
