"""The HTTP plumbing both API resources share: a ``requests.Session`` that trusts the configured
CA bundle, pools connections for concurrent threads and counts every request it sends."""

from __future__ import annotations

import threading

import requests
from requests.adapters import HTTPAdapter


class CallCounter:
    """A thread-safe count of HTTP requests (logins and retries included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0

    def increment(self) -> None:
        with self._lock:
            self._value += 1

    @property
    def value(self) -> int:
        with self._lock:
            return self._value


class CountingHTTPAdapter(HTTPAdapter):
    """Counts each request at the transport, so nothing a library sends goes uncounted."""

    def __init__(
        self,
        counter: CallCounter,
        pool_size: int,
        timeout: float | tuple[float, float],
        ca_bundle: str | None,
    ) -> None:
        self._counter = counter
        self._timeout = timeout
        self._ca_bundle = ca_bundle
        # no urllib3-level retries: our retry policy owns retries, and each one is counted
        super().__init__(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)

    def send(self, request, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        self._counter.increment()
        if kwargs.get("timeout") is None:  # libraries that never pass a timeout still get one
            kwargs["timeout"] = self._timeout
        if self._ca_bundle:
            # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override Session.verify; the
            # configured bundle must win
            kwargs["verify"] = self._ca_bundle
        return super().send(request, *args, **kwargs)


def build_session(
    *, ca_bundle: str | None, counter: CallCounter, timeout_s: float, pool_size: int = 16
) -> requests.Session:
    """A session verifying TLS against ``ca_bundle`` (or the system store when ``None``), with a
    default (connect, read) timeout on every request."""
    session = requests.Session()
    session.verify = ca_bundle if ca_bundle else True
    adapter = CountingHTTPAdapter(counter, pool_size, (min(10.0, timeout_s), timeout_s), ca_bundle)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
