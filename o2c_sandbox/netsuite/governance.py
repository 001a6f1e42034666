"""NetSuite's account-wide governance: a concurrency limit and a request-frequency limit.

The concurrency limit is the real-time one: NetSuite shares one pool of concurrent requests
across SOAP, REST and RESTlets (5 on a base account, 15 with SuiteCloud Plus), and a request
arriving while the pool is full is refused at once with 429 ``CONCURRENCY_LIMIT_EXCEEDED`` (it is
not queued, and no ``Retry-After`` comes with it). The frequency throttle is a *sustained* rate:
about 10 requests a second averaged over a 60-second sliding window (``ns_rate_limit`` x
``ns_rate_window_s`` requests per window), so a client that stays under the concurrency limit
can burst without 429s, and only one that keeps above the rate for most of a minute is refused,
with 429 ``REQUEST_LIMIT_EXCEEDED`` and a ``Retry-After`` of the seconds until the oldest request
in the window leaves it.

Both limits are read from the knobs on every request because tests and benchmarks change them at
run time. A refused request never holds a concurrency slot, and does not count toward the
frequency window (it did no work), so a client that backs off recovers as soon as the window
slides.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from o2c_sandbox.core import ApiError, Counters, Knobs

CONCURRENCY_DETAIL = (
    "Concurrent request limit exceeded. Request blocked. The account allows {limit} "
    "concurrent requests."
)
FREQUENCY_DETAIL = (
    "Request limit exceeded. The account allows {limit} requests per {window:g} s; "
    "retry after {retry_after} s."
)


class Governor:
    """Admission control for one NetSuite account."""

    def __init__(
        self, knobs: Knobs, counters: Counters, clock: Callable[[], float] = time.monotonic
    ):
        self.knobs = knobs
        self.counters = counters
        self._clock = clock
        self._lock = threading.Lock()
        self._admitted: deque[float] = deque()  # admission times within the sliding window

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold one concurrency slot for the duration of the request, or raise a 429."""
        self._acquire()
        try:
            yield
        finally:
            with self._lock:
                self.counters.ns_in_flight -= 1

    def _acquire(self) -> None:
        limit = max(1, int(self.knobs.ns_concurrency_limit))
        window = max(1e-3, float(self.knobs.ns_rate_window_s))
        allowed = max(1, math.floor(self.knobs.ns_rate_limit * window))
        now = self._clock()
        with self._lock:
            if self.counters.ns_in_flight >= limit:
                raise ApiError(
                    429, "CONCURRENCY_LIMIT_EXCEEDED", CONCURRENCY_DETAIL.format(limit=limit)
                )
            while self._admitted and now - self._admitted[0] >= window:
                self._admitted.popleft()
            if len(self._admitted) >= allowed:
                retry_after = max(1, math.ceil(window - (now - self._admitted[0])))
                raise ApiError(
                    429,
                    "REQUEST_LIMIT_EXCEEDED",
                    FREQUENCY_DETAIL.format(limit=allowed, window=window, retry_after=retry_after),
                    headers={"Retry-After": str(retry_after)},
                )
            self._admitted.append(now)
            self.counters.ns_in_flight += 1
            self.counters.ns_peak_in_flight = max(
                self.counters.ns_peak_in_flight, self.counters.ns_in_flight
            )
