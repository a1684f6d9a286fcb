"""Settings of the notifier, read from ``LOYALTY_*`` environment variables."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, model_validator

from services.common.settings import CommonSettings


class NotifierSettings(CommonSettings):
    """Consumer group, SMTP server and retry policy of the notifier."""

    notifier_group_id: str = "loyalty-notifier"
    batch_max_records: Annotated[int, Field(ge=1)] = 500
    batch_timeout_ms: Annotated[int, Field(ge=1)] = 200
    shutdown_timeout_seconds: Annotated[float, Field(gt=0)] = 15.0

    smtp_host: str = "127.0.0.1"
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 25
    smtp_starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS.")
    smtp_tls: bool = Field(default=False, description="Connect with implicit TLS (port 465).")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = Field(
        default="loyalty@localhost",
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="Envelope sender and From address of every email.",
    )
    smtp_timeout_seconds: Annotated[float, Field(gt=0)] = 30.0

    email_max_attempts: Annotated[int, Field(ge=1)] = 10
    email_retry_base_seconds: Annotated[float, Field(gt=0)] = 5.0
    email_retry_max_seconds: Annotated[float, Field(gt=0)] = 600.0
    email_send_concurrency: Annotated[int, Field(ge=1, le=32)] = 2
    email_poll_interval_seconds: Annotated[float, Field(gt=0)] = 1.0

    @model_validator(mode="after")
    def _one_tls_mode(self) -> NotifierSettings:
        if self.smtp_tls and self.smtp_starttls:
            raise ValueError(
                "LOYALTY_SMTP_TLS and LOYALTY_SMTP_STARTTLS are both true; "
                "set LOYALTY_SMTP_STARTTLS=false for implicit TLS or LOYALTY_SMTP_TLS=false "
                "for STARTTLS"
            )
        return self

    @property
    def sender_domain(self) -> str:
        return self.smtp_sender.rpartition("@")[2]
