"""NetSuite authentication: token-based authentication (TBA: OAuth 1.0a, HMAC-SHA256, one
signature per request) or OAuth 2.0 client credentials, machine to machine (M2M), as Oracle's
"OAuth 2.0 Client Credentials (M2M) Setup" describes it.

M2M: the integration signs a short JWT *client assertion* with the private key of the certificate
mapped to it (header ``kid`` = the mapping's certificate id; ``PS256`` for an RSA key, ``ES256``/
``ES384``/``ES512`` for an EC key by its curve; NetSuite accepts no RS256), with claims ``iss`` =
the client id, ``scope`` = ``rest_webservices``, ``aud`` = the token URL and ``iat``/``exp`` (at
most an hour apart). It posts it to ``/services/rest/auth/oauth2/v1/token`` as a
``client_credentials`` grant and receives a bearer token for about an hour; there is no refresh
token, so a new assertion buys the next one. Tokens live in the process-wide
:data:`~o2c_pipeline.resources.tokens.TOKENS` cache and are renewed shortly before they expire.

Libraries: PyJWT (with cryptography) signs the assertion; oauthlib (requests-oauthlib's core)
builds the RFC 6749 token request body and parses the answer, turning NetSuite's ``{"error":
...}`` refusals into typed errors; the request itself goes through the resource's own
``requests`` session (its CA bundle, timeouts and call counting). requests-oauthlib's
``OAuth2Session`` cannot sign JWT client assertions, which is why it is not used for M2M.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error
from requests_oauthlib import OAuth1

from o2c_pipeline.netsuite.errors import NetSuiteAuthError
from o2c_pipeline.resources.secrets import MASK, register_secrets

log = logging.getLogger(__name__)

AUTH_FLOWS = ("tba", "oauth2_m2m")
TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_S = 300
REST_SCOPE = "rest_webservices"
#: renew a token this long before it expires (a tenth of its lifetime for short-lived ones)
RENEW_BEFORE_S = 300.0
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
#: what each token endpoint refusal means for the person fixing it
REFUSAL_HINTS = {
    "invalid_client": "check NETSUITE_CLIENT_ID, NETSUITE_CERTIFICATE_ID and that "
    "NETSUITE_PRIVATE_KEY_FILE belongs to the certificate mapped in OAuth 2.0 Client Credentials "
    "(M2M) Setup (not revoked or expired)",
    "invalid_scope": "the integration record must allow the REST Web Services scope",
    "invalid_request": "the token request was malformed (assertion claims or lifetime)",
    "unauthorized_client": "the integration record must have the Client Credentials (Machine "
    "to Machine) Grant checked",
    "invalid_grant": "the assertion was refused; check the machine's clock",
}


def tba(
    account_id: str, consumer_key: str, consumer_secret: str, token_id: str, token_secret: str
) -> OAuth1:
    """Request signing for token-based authentication (realm = the account id, upper case)."""
    return OAuth1(
        client_key=consumer_key,
        client_secret=consumer_secret,
        resource_owner_key=token_id,
        resource_owner_secret=token_secret,
        signature_method="HMAC-SHA256",
        realm=account_id.upper(),
    )


@dataclass(frozen=True)
class BearerToken:
    access_token: str = field(repr=False)
    expires_at: float
    renew_at: float

    def __repr__(self) -> str:
        return f"BearerToken(access_token={MASK}, expires_at={self.expires_at:.0f})"


def signing_algorithm(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    """The JWS algorithm NetSuite accepts for ``key``: RSA-PSS for RSA, ECDSA by curve."""
    if isinstance(key, rsa.RSAPrivateKey):
        return "PS256"
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in _EC_ALGORITHMS:
        return _EC_ALGORITHMS[key.curve.name]
    raise ValueError(f"a {type(key).__name__} key cannot sign NetSuite client assertions")


@dataclass(frozen=True)
class ClientCredentials:
    """The M2M grant of one integration record and certificate mapping; ``repr`` shows no key."""

    token_url: str
    client_id: str
    certificate_id: str
    private_key_file: str
    scope: str = REST_SCOPE

    @property
    def cache_key(self) -> tuple[str, ...]:
        """Who a token belongs to: the key file enters only as a digest of its contents."""
        digest = hashlib.sha256(self._key_bytes()).hexdigest()
        return ("netsuite-m2m", self.token_url, self.client_id, self.certificate_id, digest)

    def _key_bytes(self) -> bytes:
        try:
            return Path(self.private_key_file).expanduser().read_bytes()
        except OSError as exc:
            raise ValueError(
                f"cannot read NETSUITE_PRIVATE_KEY_FILE {self.private_key_file}: {exc.strerror}"
            ) from None

    def assertion(self, now: float | None = None) -> str:
        """A fresh client assertion signed with the mapped certificate's private key."""
        key = serialization.load_pem_private_key(self._key_bytes(), password=None)
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": self.client_id,
            "scope": [self.scope],
            "aud": self.token_url,
            "iat": issued,
            "exp": issued + ASSERTION_LIFETIME_S,
        }
        token = jwt.encode(
            claims,
            key,  # type: ignore[arg-type]
            algorithm=signing_algorithm(key),  # type: ignore[arg-type]
            headers={"kid": self.certificate_id, "typ": "JWT"},
        )
        register_secrets([token])
        return token

    def fetch(self, session: requests.Session) -> BearerToken:
        """One token request. A refusal raises :class:`NetSuiteAuthError` (not transient); a
        5xx or 429 answer is transient and raised for the caller's retry policy."""
        client = BackendApplicationClient(client_id=self.client_id)
        body = client.prepare_request_body(
            client_assertion_type=ASSERTION_TYPE,
            client_assertion=self.assertion(),
            include_client_id=False,
        )
        response = session.post(
            self.token_url,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        where = f"POST {TOKEN_PATH}"
        if response.status_code == 429 or response.status_code >= 500:
            raise NetSuiteAuthError(
                response.status_code,
                f"HTTP_{response.status_code}",
                "the token endpoint is unavailable",
                request=where,
                transient=True,
            )
        try:
            token = client.parse_request_body_response(response.text)
        except OAuth2Error as err:
            code = err.error or f"HTTP_{response.status_code}"
            hint = REFUSAL_HINTS.get(code, "see the Login Audit Trail in NetSuite")
            raise NetSuiteAuthError(
                response.status_code,
                code,
                f"OAuth 2.0 client credentials (client {self.client_id}, certificate "
                f"{self.certificate_id}) refused: {hint}",
                request=where,
            ) from None
        except ValueError:  # not an OAuth answer at all (e.g. an HTML error page)
            raise NetSuiteAuthError(
                response.status_code,
                f"HTTP_{response.status_code}",
                "the token endpoint did not answer with an OAuth 2.0 token",
                request=where,
            ) from None
        access_token = str(token["access_token"])
        register_secrets([access_token])
        now = time.time()
        lifetime = float(token.get("expires_in") or 3600)
        log.info("NetSuite: OAuth 2.0 access token for %.0f s", lifetime)
        return BearerToken(
            access_token,
            expires_at=now + lifetime,
            renew_at=now + lifetime - min(RENEW_BEFORE_S, lifetime / 10),
        )


class BearerAuth(requests.auth.AuthBase):
    """Sets ``Authorization: Bearer`` from whatever token the current one is."""

    def __init__(self, token: BearerToken) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token.access_token}"
        return request
