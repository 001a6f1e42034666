"""What both API resources take to reach their service: TLS trust, timeouts and retries."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from o2c_pipeline.resources.retry import RetryPolicy
from o2c_pipeline.resources.secrets import SecretFieldsReprMixin


class ApiClientResource(SecretFieldsReprMixin, dg.ConfigurableResource):
    """The connection settings of an API resource; each system sets its own read timeout and
    retry count (the defaults suited to its API)."""

    ca_bundle: str | None = Field(default=None, description="CA bundle for TLS verification.")
    connect_timeout_s: float = Field(default=10.0, description="TCP/TLS connect timeout.")
    read_timeout_s: float = Field(
        default=120.0, description="Longest wait for the server's next bytes."
    )
    max_retries: int = Field(default=5, description="Retries of a transient failure.")
    backoff_initial_s: float = Field(default=0.5, description="First back-off ceiling.")
    backoff_max_s: float = Field(default=30.0, description="Largest back-off.")

    def _retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_retries, self.backoff_initial_s, self.backoff_max_s)
