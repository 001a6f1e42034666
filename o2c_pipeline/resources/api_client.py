"""What both API resources take to reach their service: TLS trust, timeouts and retries, and the
live state (HTTP session, call counter) each instance makes on first use."""

from __future__ import annotations

import threading
from typing import Any

import dagster as dg
import requests
from pydantic import Field, PrivateAttr

from o2c_pipeline.resources.http import CallCounter, build_session
from o2c_pipeline.resources.retry import RetryPolicy
from o2c_pipeline.resources.secrets import (
    SecretFieldsReprMixin,
    install_log_scrubbing,
    register_secrets,
)

_RUNTIME_LOCK = threading.Lock()


class ApiClientResource(SecretFieldsReprMixin, dg.ConfigurableResource):
    """The connection settings of an API resource; each system sets its own read timeout and
    retry count (the defaults suited to its API).

    A subclass checks its settings in :meth:`_validate`, sizes its connection pool with
    :meth:`_pool_size` and makes its live state in :meth:`_start` from the session and the
    counter of the requests sent on it (``counter`` an attribute of that state)."""

    ca_bundle: str | None = Field(default=None, description="CA bundle for TLS verification.")
    connect_timeout_s: float = Field(default=10.0, description="TCP/TLS connect timeout.")
    read_timeout_s: float = Field(
        default=120.0, description="Longest wait for the server's next bytes."
    )
    max_retries: int = Field(default=5, description="Retries of a transient failure.")
    backoff_initial_s: float = Field(default=0.5, description="First back-off ceiling.")
    backoff_max_s: float = Field(default=30.0, description="Largest back-off.")

    _runtime_state: Any = PrivateAttr(default=None)

    def _retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_retries, self.backoff_initial_s, self.backoff_max_s)

    # -- what differs per system -----------------------------------------------------------------
    def _validate(self) -> None:
        """Raise ``ValueError`` for settings that cannot reach the service."""

    def _pool_size(self) -> int:
        """HTTP connections kept per host."""
        raise NotImplementedError

    def _start(self, session: requests.Session, counter: CallCounter) -> Any:
        """The instance's live state on ``session`` (authentication set up as the system needs)."""
        raise NotImplementedError

    # -- the live state ----------------------------------------------------------------------------
    def _runtime(self) -> Any:
        """The live state, made once per instance whichever thread asks first: the settings are
        checked, the secret fields kept out of logs and the session built."""
        if self._runtime_state is None:
            with _RUNTIME_LOCK:
                if self._runtime_state is None:
                    self._validate()
                    install_log_scrubbing()
                    register_secrets(getattr(self, name) for name in sorted(self.secret_fields))
                    counter = CallCounter()
                    session = build_session(
                        ca_bundle=self.ca_bundle,
                        counter=counter,
                        connect_timeout_s=self.connect_timeout_s,
                        read_timeout_s=self.read_timeout_s,
                        pool_size=self._pool_size(),
                    )
                    self._runtime_state = self._start(session, counter)
        return self._runtime_state

    @property
    def api_calls(self) -> int:
        """API requests this instance sent, retries included; token requests are ``auth_calls``."""
        return self._runtime().counter.value

    @property
    def auth_calls(self) -> int:
        """Requests to the OAuth token endpoint (not counted against the API limits)."""
        return self._runtime().counter.auth_value
