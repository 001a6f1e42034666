"""One shape for every error an API answers, so code that records failures needs no per-system
branches: the sync's writers dead-letter a record from ``error_code``, ``reason`` and
``transient`` whichever system refused it."""

from __future__ import annotations

from o2c_pipeline.resources.secrets import scrub


class ApiError(Exception):
    """An error answer from an API (or a network failure after all retries), secrets removed.

    ``transient`` says whether trying again later may succeed (the resource already retried);
    ``retry_after_s`` is the server's hint; ``field_path`` points at the offending field(s) when
    the answer names them; ``request`` is what was asked (e.g. ``PUT record/v1/customer/...``).
    """

    system = "API"

    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        *,
        field_path: str | None = None,
        transient: bool = False,
        retry_after_s: float | None = None,
        request: str | None = None,
    ) -> None:
        self.status = status
        self.error_code = error_code
        self.message = scrub(message)
        self.field_path = field_path or None
        self.transient = transient
        self.retry_after_s = retry_after_s
        self.request = request
        on = f" on {request}" if request else ""
        super().__init__(f"{self.system} {status} {error_code}{on}: {self.reason}")

    @property
    def reason(self) -> str:
        """The message with the field it concerns, for a person to act on."""
        return self.message + (f" (at {self.field_path})" if self.field_path else "")
