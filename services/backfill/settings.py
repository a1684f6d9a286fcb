"""Settings of ``loyalty backfill``, read from ``LOYALTY_*`` environment variables."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr

from services.common.settings import CommonSettings

# REST hosts per cluster; the path continues with the shop language, such as /en/.
CLUSTER_API_URLS = {
    "eu1": "https://api.webshopapp.com",
    "us1": "https://api.shoplightspeed.com",
}

MAX_PAGE_SIZE = 250
"""Largest ``limit`` the platform's list endpoints accept."""

MAX_REQUESTS_PER_SECOND = 20.0
"""The platform's limit per shop."""

DEFAULT_REQUESTS_PER_SECOND = 18.0
"""Below the limit, because the platform counts arrivals and network delay bunches them."""


class BackfillSettings(CommonSettings):
    """REST credentials, paging and retry limits of a backfill."""

    lightspeed_api_key: SecretStr | None = None
    lightspeed_api_secret: SecretStr | None = None
    lightspeed_api_url: str | None = Field(
        default=None,
        description="Base URL up to and including the language, such as "
        "https://api.webshopapp.com/en; default: the merchant's cluster host with /en.",
    )
    backfill_page_size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE
    backfill_requests_per_second: Annotated[float, Field(gt=0, le=MAX_REQUESTS_PER_SECOND)] = (
        DEFAULT_REQUESTS_PER_SECOND
    )
    backfill_max_retries: Annotated[int, Field(ge=0)] = 8
    backfill_retry_base_seconds: Annotated[float, Field(gt=0)] = 1.0
    backfill_max_wait_seconds: Annotated[float, Field(gt=0)] = 900.0
    backfill_request_timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    publish_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0

    def api_url(self, cluster_id: str, language: str = "en") -> str:
        """Return the configured base URL, else the cluster's REST host with ``language``."""
        if self.lightspeed_api_url:
            return self.lightspeed_api_url.rstrip("/")
        host = CLUSTER_API_URLS.get(cluster_id)
        if host is None:
            raise ValueError(
                f"cluster {cluster_id!r} has no known REST host; set LOYALTY_LIGHTSPEED_API_URL"
            )
        return f"{host}/{language}"
