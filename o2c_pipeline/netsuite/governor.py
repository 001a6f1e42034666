"""Client-side admission for a NetSuite account: a concurrency gate, a sliding-window rate limiter
and a shared pause after the server asks us to back off.

NetSuite limits concurrency and request frequency per *account*, across every integration that
uses it, and answers an excess with 429 rather than queueing. So there is one
:class:`AccountGovernor` per account per process, which every resource instance, thread and asset
in the process goes through.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


#: NetSuite's frequency throttle averages the request rate over a 60-second sliding window; the
#: account's concurrency limit is the real-time one.
RATE_WINDOW_S = 60.0


class SlidingWindowLimiter:
    """At most ``floor(rate_per_s * window_s)`` admissions in any span of ``window_s`` stretched
    by ``safety_margin``.

    NetSuite's frequency throttle counts requests in a 60-second window, so a client may send
    the window's whole allowance as fast as the concurrency limit lets it and then wait for the
    window to slide: a load of fewer requests than the window allows runs at the concurrency
    limit, a longer one at the rate. Pacing requests evenly would leave that allowance idle. The
    margin (3 s of a 60 s window by default) is what keeps the server's count under the limit
    however the network delays a request between admission here and arrival there: any
    server window of 60 s holds only requests admitted within one client span."""

    def __init__(
        self, rate_per_s: float, window_s: float = RATE_WINDOW_S, safety_margin: float = 0.05
    ) -> None:
        self.configure(rate_per_s, window_s, safety_margin)
        self._lock = threading.Lock()
        self._admitted: deque[float] = deque()

    def configure(self, rate_per_s: float, window_s: float, safety_margin: float) -> None:
        self.allowed = max(1, math.floor(rate_per_s * window_s))
        self.span_s = window_s * (1.0 + safety_margin)

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                while self._admitted and now - self._admitted[0] >= self.span_s:
                    self._admitted.popleft()
                if len(self._admitted) < self.allowed:
                    self._admitted.append(now)
                    return
                wait = self.span_s - (now - self._admitted[0])
            time.sleep(max(wait, 0.001))


class AccountGovernor:
    """Client-side admission for one NetSuite account: a concurrency gate, a rate limiter and a
    shared pause after the server asks us to back off (``Retry-After``)."""

    def __init__(
        self, concurrency_limit: int, rate_per_s: float, window_s: float, margin: float
    ) -> None:
        self._cond = threading.Condition()
        self.concurrency_limit = concurrency_limit
        self.in_flight = 0
        self.peak_in_flight = 0
        self._paused_until = 0.0
        self.limiter = SlidingWindowLimiter(rate_per_s, window_s, margin)

    def configure(
        self, concurrency_limit: int, rate_per_s: float, window_s: float, margin: float
    ) -> None:
        """Adopt new limits (the latest configuration of the account wins)."""
        with self._cond:
            self.concurrency_limit = concurrency_limit
            self.limiter.configure(rate_per_s, window_s, margin)
            self._cond.notify_all()

    def pause(self, seconds: float) -> None:
        """Hold every thread's next request back for ``seconds``."""
        with self._cond:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a concurrency slot and a rate permit for one request."""
        with self._cond:
            while self.in_flight >= self.concurrency_limit:
                self._cond.wait()
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            delay = self._paused_until - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            # permit taken after the slot, right before sending, so permits track send times
            self.limiter.acquire()
            yield
        finally:
            with self._cond:
                self.in_flight -= 1
                self._cond.notify()


_GOVERNORS: dict[str, AccountGovernor] = {}
_GOVERNORS_LOCK = threading.Lock()


def account_governor(
    account_id: str,
    *,
    concurrency_limit: int,
    rate_per_s: float,
    window_s: float = RATE_WINDOW_S,
    margin: float = 0.05,
) -> AccountGovernor:
    """The process-wide governor of ``account_id`` (created on first use, reconfigured if the
    limits given differ from the current ones)."""
    key = account_id.upper()
    with _GOVERNORS_LOCK:
        governor = _GOVERNORS.get(key)
        if governor is None:
            governor = _GOVERNORS[key] = AccountGovernor(
                concurrency_limit, rate_per_s, window_s, margin
            )
        elif (governor.concurrency_limit, governor.limiter.allowed) != (
            concurrency_limit,
            max(1, math.floor(rate_per_s * window_s)),
        ):
            log.info(
                "NetSuite %s: client limits now %d concurrent, %g/s",
                key,
                concurrency_limit,
                rate_per_s,
            )
            governor.configure(concurrency_limit, rate_per_s, window_s, margin)
        return governor
