"""NetSuite Token-Based Authentication: OAuth 1.0a (RFC 5849) signature verification.

NetSuite accepts only HMAC-SHA256 signatures, wants the account id as ``realm`` exactly as the
account shows it (uppercase, so ``1234567_sb1`` is refused), and signs over the URL the client
used. The signature base string is rebuilt with oauthlib's own server-side helpers so we agree
with every RFC-conformant client byte for byte: query parameters are decoded and re-encoded
(never hashed raw), every ``oauth_*`` parameter received is included (``oauth_body_hash`` too)
except ``oauth_signature`` and ``realm``, and form-encoded bodies contribute their parameters.

Any failure answers the same opaque 401 ``INVALID_LOGIN`` real NetSuite gives; the precise reason
is kept in the exception for logs and tests but never changes the wire answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from types import SimpleNamespace
from urllib.parse import quote

from oauthlib.common import safe_string_equals
from oauthlib.oauth1.rfc5849 import signature, utils
from werkzeug.wrappers import Request

from o2c_sandbox.core import ApiError, Knobs
from o2c_sandbox.schema import Credentials

log = logging.getLogger(__name__)

INVALID_LOGIN_DETAIL = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
    "Setup > Users/Roles > User Management > View Login Audit Trail."
)
SIGNATURE_METHOD = "HMAC-SHA256"
REQUIRED_PARAMS = (
    "oauth_consumer_key",
    "oauth_token",
    "oauth_nonce",
    "oauth_timestamp",
    "oauth_signature_method",
    "oauth_signature",
)
MAX_REMEMBERED_NONCES = 200_000


class InvalidLogin(ApiError):
    """401 INVALID_LOGIN; ``reason`` says why (never sent to the client, as in NetSuite)."""

    def __init__(self, realm: str, reason: str, www_authenticate: str | None = None):
        super().__init__(
            401,
            "INVALID_LOGIN",
            INVALID_LOGIN_DETAIL,
            headers={
                "WWW-Authenticate": www_authenticate
                or f'OAuth realm="{realm}", error="token_rejected", '
                f'error_description="Invalid login attempt."'
            },
        )
        self.reason = reason
        log.debug("NetSuite TBA login refused: %s", reason)


class NonceCache:
    """Nonces seen within the timestamp window, so a captured request cannot be replayed.

    Keyed by (consumer key, token, nonce, timestamp) as RFC 5849 §3.3 allows. An accepted
    timestamp may lag or lead the clock by the skew, so entries are kept for twice the skew (a
    replay after that fails the timestamp check anyway); the cache is bounded so a flood of fresh
    nonces cannot exhaust memory.
    """

    def __init__(self, max_entries: int = MAX_REMEMBERED_NONCES):
        self._seen: OrderedDict[tuple[str, str, str, str], float] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    def check_and_remember(
        self, key: tuple[str, str, str, str], now: float, window_s: float
    ) -> bool:
        """True if ``key`` is new (and remember it); False for a replay."""
        with self._lock:
            while self._seen:
                oldest_key, seen_at = next(iter(self._seen.items()))
                if now - seen_at <= window_s and len(self._seen) < self._max:
                    break
                del self._seen[oldest_key]
            if key in self._seen:
                return False
            self._seen[key] = now
            return True


class IntegrationAuth:
    """Authentication for the sandbox account's one integration record: its credentials, the
    knobs (read per request: they change at run time) and the clock it checks times against."""

    def __init__(
        self, credentials: Credentials, knobs: Knobs, clock: Callable[[], float] = time.time
    ):
        self.credentials = credentials
        self.knobs = knobs
        self._clock = clock


class TbaVerifier(IntegrationAuth):
    """Checks the ``Authorization: OAuth ...`` header of one request against the sandbox's
    single integration record (consumer key/secret) and access token (token id/secret)."""

    def __init__(
        self, credentials: Credentials, knobs: Knobs, clock: Callable[[], float] = time.time
    ):
        super().__init__(credentials, knobs, clock)
        self.nonces = NonceCache()

    def verify(self, request: Request) -> None:
        realm = self.credentials.ns_account_id
        header = request.headers.get("Authorization", "")
        if header[:6].lower() != "oauth ":
            raise InvalidLogin(realm, "missing OAuth Authorization header")
        try:
            header_params = {
                k: utils.unescape(v) for k, v in utils.parse_authorization_header(header)
            }
        except (ValueError, IndexError) as exc:
            raise InvalidLogin(realm, f"malformed Authorization header: {exc}") from exc
        missing = [p for p in REQUIRED_PARAMS if not header_params.get(p)]
        if missing:
            raise InvalidLogin(realm, f"missing {', '.join(missing)}")
        if header_params.get("realm") != realm:
            raise InvalidLogin(realm, f"realm {header_params.get('realm')!r} is not the account id")
        if header_params["oauth_signature_method"] != SIGNATURE_METHOD:
            raise InvalidLogin(
                realm, f"unsupported signature method {header_params['oauth_signature_method']}"
            )
        if header_params.get("oauth_version", "1.0") != "1.0":
            raise InvalidLogin(realm, "oauth_version must be 1.0")
        c = self.credentials
        if not safe_string_equals(header_params["oauth_consumer_key"], c.ns_consumer_key):
            raise InvalidLogin(realm, "unknown consumer key")
        if not safe_string_equals(header_params["oauth_token"], c.ns_token_id):
            raise InvalidLogin(realm, "unknown token")
        try:
            timestamp = int(header_params["oauth_timestamp"])
        except ValueError as exc:
            raise InvalidLogin(realm, "non-integer timestamp") from exc
        now = self._clock()
        window = self.knobs.ns_timestamp_skew_s
        if abs(now - timestamp) > window:
            raise InvalidLogin(realm, f"stale timestamp ({now - timestamp:.0f}s off)")

        expected = self.signature_for(request, header, c.ns_consumer_secret, c.ns_token_secret)
        if not safe_string_equals(expected, header_params["oauth_signature"]):
            raise InvalidLogin(realm, "signature mismatch")
        # Only a correctly signed request may burn a nonce; otherwise anyone could pre-empt one.
        nonce_key = (
            c.ns_consumer_key,
            c.ns_token_id,
            header_params["oauth_nonce"],
            header_params["oauth_timestamp"],
        )
        if not self.nonces.check_and_remember(nonce_key, now, 2 * window):
            raise InvalidLogin(realm, "replayed nonce")

    @staticmethod
    def signature_for(
        request: Request, header: str, consumer_secret: str, token_secret: str
    ) -> str:
        """RFC 5849 §3.4.2 HMAC-SHA256 over the request as the client addressed it."""
        body = None
        if request.mimetype == "application/x-www-form-urlencoded":
            body = request.get_data(as_text=True)
        params = signature.collect_parameters(
            uri_query=request.query_string.decode("latin-1"),
            body=body,
            headers={"Authorization": header},
            exclude_oauth_signature=True,
            with_realm=False,
        )
        normalized = signature.normalize_parameters(params)
        # request.host_url comes from the Host header, i.e. the scheme/host/port the client used.
        raw_path = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
        path = raw_path.split("?", 1)[0] if raw_path else quote(request.path)
        uri = signature.base_string_uri(request.host_url.rstrip("/") + path)
        base = signature.signature_base_string(request.method.upper(), uri, normalized)
        secrets = SimpleNamespace(client_secret=consumer_secret, resource_owner_secret=token_secret)
        return signature.sign_hmac_sha256_with_client(base, secrets)
