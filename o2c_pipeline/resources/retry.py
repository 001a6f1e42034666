"""One retry policy for every API client: exponential back-off with full jitter (tenacity),
``Retry-After`` honoured, and a clear split between transient and data errors.

Clients raise exceptions carrying ``transient`` (retry it?) and ``retry_after_s`` (the server's
hint, or 0 to retry at once, e.g. after a re-login); network failures are classified here.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import requests
import tenacity
from urllib3.exceptions import NewConnectionError

from o2c_pipeline.resources.secrets import scrub

T = TypeVar("T")
log = logging.getLogger(__name__)


def is_network_error(exc: BaseException, *, idempotent: bool) -> bool:
    """Is ``exc`` a network failure worth retrying?

    A request that may have reached the server (read timeout, connection reset mid-response) is
    only retried when repeating it cannot duplicate a write; a connection that never opened is
    always safe to retry.
    """
    if isinstance(exc, requests.exceptions.InvalidURL):
        return False  # a URL problem does not heal by waiting
    if isinstance(exc, requests.exceptions.SSLError):
        # A certificate problem does not heal by waiting; a TLS stream cut short (the peer reset
        # or closed the connection mid-record) is an ordinary dropped connection.
        if not any(isinstance(c, _TLS_DROPPED) for c in causes(exc)):
            return False
        return idempotent
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and _never_connected(exc):
        return True
    return idempotent and isinstance(
        exc,
        requests.exceptions.ConnectionError
        | requests.exceptions.Timeout
        | requests.exceptions.ChunkedEncodingError,
    )


_TLS_DROPPED = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError)


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: requests and urllib3 nest the real error in args and reasons."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        yield cause
        reason = getattr(cause, "reason", None)
        if isinstance(reason, BaseException):
            yield reason
        nested = cause.args[0] if cause.args and isinstance(cause.args[0], BaseException) else None
        cause = nested or cause.__cause__ or cause.__context__


def _never_connected(exc: BaseException) -> bool:
    return any(isinstance(c, NewConnectionError) for c in causes(exc))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form; HTTP dates are ignored)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` retries after the first attempt, full-jitter back-off between them."""

    max_retries: int = 5
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0

    def call(
        self,
        attempt: Callable[[], T],
        *,
        is_transient: Callable[[BaseException], bool],
        describe: str,
    ) -> T:
        """Run ``attempt`` until it succeeds, fails with a non-transient error, or retries run out;
        the last exception propagates unchanged."""
        jitter = tenacity.wait_random_exponential(
            multiplier=self.initial_backoff_s, max=self.max_backoff_s
        )

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            hinted = getattr(exc, "retry_after_s", None)
            if hinted is not None:  # the server knows when it will take us again
                return float(hinted)
            return jitter(state)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "%s: transient failure (%s), retry %d/%d in %.2f s",
                describe,
                scrub(_short(exc)),
                state.attempt_number,
                self.max_retries,
                state.upcoming_sleep,
            )

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=wait,
            retry=tenacity.retry_if_exception(is_transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(attempt)


def _short(exc: BaseException | None) -> str:
    if exc is None:
        return "?"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:300]}"
