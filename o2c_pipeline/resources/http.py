"""The HTTP plumbing both API resources share: a ``requests.Session`` that trusts the configured
CA bundle, pools connections for concurrent threads and counts every request it sends."""

from __future__ import annotations

import contextvars
import threading

import requests
from requests.adapters import HTTPAdapter

#: OAuth token endpoints: requests to them are logins, counted apart from API calls (Salesforce
#: does not count them against the org's API request limits).
AUTH_PATHS = ("/services/oauth2/token", "/services/rest/auth/oauth2/")


class CallCounter:
    """Thread-safe counts of HTTP requests: API calls (retries included) and logins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0
        self._auth = 0

    def increment(self, *, auth: bool = False) -> None:
        with self._lock:
            if auth:
                self._auth += 1
            else:
                self._value += 1

    @property
    def value(self) -> int:
        """API calls, logins excluded."""
        with self._lock:
            return self._value

    @property
    def auth_value(self) -> int:
        """Requests to an OAuth token endpoint."""
        with self._lock:
            return self._auth


#: ``(resource counter, source tally)`` of the extraction source working in this context: entities
#: extracted concurrently over one resource (one session, one counter) each count their own calls
#: too. Set by the source, carried into its fetching threads by ``contextvars.copy_context``.
SOURCE_TALLY: contextvars.ContextVar[tuple[CallCounter, CallCounter] | None] = (
    contextvars.ContextVar("o2c_source_tally", default=None)
)


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
        auth = request.path_url.startswith(AUTH_PATHS)
        self._counter.increment(auth=auth)
        owner, tally = SOURCE_TALLY.get() or (None, None)
        if owner is self._counter and tally is not None:
            tally.increment(auth=auth)
        if kwargs.get("timeout") is None:  # libraries that never pass a timeout still get one
            kwargs["timeout"] = self._timeout
        if self._ca_bundle:
            # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override Session.verify; the
            # configured bundle must win
            kwargs["verify"] = self._ca_bundle
        return super().send(request, *args, **kwargs)


def build_session(
    *,
    ca_bundle: str | None,
    counter: CallCounter,
    connect_timeout_s: float,
    read_timeout_s: float,
    pool_size: int = 16,
) -> requests.Session:
    """A session verifying TLS against ``ca_bundle`` (or the system store when ``None``), with a
    (connect, read) timeout on every request that does not set its own. The read timeout bounds
    each wait for bytes from the server, not the whole transfer: a large download that keeps
    flowing is never cut, a connection that goes silent is given up (and retried)."""
    session = requests.Session()
    session.verify = ca_bundle if ca_bundle else True
    adapter = CountingHTTPAdapter(
        counter, pool_size, (connect_timeout_s, read_timeout_s), ca_bundle
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
