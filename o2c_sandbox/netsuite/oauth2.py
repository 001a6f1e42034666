"""NetSuite OAuth 2.0 machine to machine: the client credentials grant with a certificate-signed
JWT assertion, and the bearer access tokens it issues (accepted on every REST path beside TBA).

Token endpoint (Oracle's "OAuth 2.0 Client Credentials (M2M) Setup", "POST Request to the Token
Endpoint and the Access Token Response", "The Request Token Structure")
    ``POST /services/rest/auth/oauth2/v1/token``, form-encoded: ``grant_type=client_credentials``,
    ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``,
    ``client_assertion=<JWT>``. The JWT header carries ``kid`` = the certificate id of the mapping
    and ``alg`` PS256/PS384/PS512 (RSA-PSS) or ES256/ES384/ES512; NetSuite's current pages list no
    RS256, so it is refused. Claims: ``iss`` = the integration's client id, ``scope`` (``restlets``,
    ``rest_webservices``, ``suite_analytics``: a comma-separated string or a list, as Oracle's own
    example sends), ``aud`` = the token endpoint URL, ``iat``, and ``exp`` at most 60 minutes after
    ``iat``. The assertion is verified against the certificate registered for the integration (the
    sandbox's ``netsuite_m2m_certificate.pem``), which must be within its validity.
    The answer: ``{"access_token": <JWT>, "expires_in": "3600", "token_type": "Bearer"}`` with
    ``Cache-Control: no-store``; no refresh token (the grant has none).

Refusals, in the OAuth shape NetSuite documents for its token endpoint, ``{"error": "<value>"}``
    400 ``invalid_request``: a missing or malformed parameter, a grant type other than
    client_credentials (NetSuite's table: "The grant_type value is incorrect"), a wrong assertion
    type, an undecodable JWT or one lacking ``kid``/``iss``/``aud``/``iat``/``exp``, an ``exp`` more
    than 60 minutes after ``iat``; 400 ``invalid_scope``: no scope, or an unknown one; 401
    ``invalid_client``: client authentication failed -- unknown client id (``iss``), unknown
    certificate id (``kid``), a certificate out of its validity, an algorithm not accepted, a bad
    signature, a wrong ``aud``, an expired assertion or one issued in the future. The precise reason
    (what NetSuite shows only in the Login Audit Trail) is logged, never sent.

Bearer tokens
    ``Authorization: Bearer <access token>`` on any REST path; a token that is unknown, altered,
    expired (``ns_access_token_ttl_s``, 3600 s as in NetSuite) or lacks the ``rest_webservices``
    scope answers the same 401 ``INVALID_LOGIN`` as a bad TBA signature (the error body NetSuite
    gives for both), with ``WWW-Authenticate: Bearer ... error="invalid_token"`` [RFC 6750; the
    header NetSuite sends is not documented].
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.wrappers import Request, Response

from o2c_sandbox.core import Knobs
from o2c_sandbox.netsuite.oauth import IntegrationAuth, InvalidLogin
from o2c_sandbox.schema import Credentials

log = logging.getLogger(__name__)

TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"
GRANT_TYPE = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ("PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
MAX_ASSERTION_LIFETIME_S = 3600
SCOPES = ("restlets", "rest_webservices", "suite_analytics")
REST_SCOPE = "rest_webservices"
CLOCK_LEEWAY_S = 30
#: NetSuite's own signature on the access tokens it issues.
TOKEN_ISSUER = "https://system.netsuite.com"
TOKEN_SIGNING_KID = "s.SYSTEM.2025_1"
TOKEN_ALGORITHM = "PS256"
TOKEN_SIGNING_KEY_FILE = "netsuite_token_signing_key.pem"
#: The role and entity the mapping logs in as (``sub`` of the access token: "role;entity").
MAPPED_ROLE_ENTITY = "3;-5"


class OAuthError(Exception):
    """A token endpoint refusal: ``error`` goes on the wire, ``reason`` only to the log."""

    def __init__(self, status: int, error: str, reason: str):
        super().__init__(f"{status} {error}: {reason}")
        self.status = status
        self.error = error
        self.reason = reason


def _invalid_client(reason: str) -> OAuthError:
    return OAuthError(401, "invalid_client", reason)


def _invalid_request(reason: str) -> OAuthError:
    return OAuthError(400, "invalid_request", reason)


class ClientCredentialsAuthority(IntegrationAuth):
    """The sandbox account's token endpoint and the check of the bearer tokens it issued, for
    the one integration record and certificate mapping in :class:`Credentials`; its key
    material lives in ``state_dir``."""

    def __init__(
        self,
        state_dir: Path,
        credentials: Credentials,
        knobs: Knobs,
        clock: Callable[[], float] = time.time,
    ):
        super().__init__(credentials, knobs, clock)
        self._certificate = x509.load_pem_x509_certificate(
            (state_dir / self.credentials.ns_certificate_file).read_bytes()
        )
        self._signing_key = serialization.load_pem_private_key(
            (state_dir / TOKEN_SIGNING_KEY_FILE).read_bytes(), password=None
        )

    # -- the token endpoint --------------------------------------------------------------------
    def token_response(self, request: Request) -> Response:
        token_url = request.host_url.rstrip("/") + TOKEN_PATH
        try:
            scopes = self._verify_assertion(request, token_url)
        except OAuthError as err:
            log.debug("NetSuite OAuth 2.0 token request refused: %s", err.reason)
            return _json({"error": err.error}, err.status)
        ttl = max(1, int(self.knobs.ns_access_token_ttl_s))
        return _json(
            {
                "access_token": self._issue(scopes, ttl),
                "expires_in": str(ttl),
                "token_type": "Bearer",
            },
            200,
        )

    def _verify_assertion(self, request: Request, token_url: str) -> list[str]:
        if request.mimetype != "application/x-www-form-urlencoded":
            raise _invalid_request(f"content type {request.mimetype!r} is not form-encoded")
        form = request.form
        if form.get("grant_type") != GRANT_TYPE:
            raise _invalid_request(f"grant_type {form.get('grant_type')!r}")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise _invalid_request(f"client_assertion_type {form.get('client_assertion_type')!r}")
        assertion = form.get("client_assertion")
        if not assertion:
            raise _invalid_request("no client_assertion")
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.DecodeError as exc:
            raise _invalid_request(f"undecodable assertion: {exc}") from exc
        if not header.get("kid"):
            raise _invalid_request("assertion header has no kid")
        c = self.credentials
        if header["kid"] != c.ns_certificate_id:
            raise _invalid_client(f"unknown certificate id {header['kid']!r}")
        alg = header.get("alg")
        if alg not in ASSERTION_ALGORITHMS:
            raise _invalid_client(f"algorithm {alg!r} not accepted")
        now = self._clock()
        cert = self._certificate
        if not cert.not_valid_before_utc.timestamp() <= now <= cert.not_valid_after_utc.timestamp():
            raise _invalid_client("the mapped certificate is outside its validity")
        public_key = cert.public_key()
        if isinstance(public_key, rsa.RSAPublicKey) != alg.startswith("PS"):
            raise _invalid_client(f"{alg} does not fit the mapped certificate's key")
        try:
            claims = jwt.decode(
                assertion,
                public_key,
                algorithms=[alg],
                audience=token_url,
                issuer=c.ns_client_id,
                leeway=CLOCK_LEEWAY_S,
                options={"require": ["iss", "aud", "iat", "exp"]},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise _invalid_request(str(exc)) from exc
        except (jwt.InvalidIssuerError, jwt.InvalidAudienceError) as exc:
            raise _invalid_client(str(exc)) from exc
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError) as exc:
            raise _invalid_client(str(exc)) from exc
        except jwt.InvalidSignatureError as exc:
            raise _invalid_client("signature does not verify with the mapped certificate") from exc
        except (jwt.InvalidKeyError, jwt.InvalidAlgorithmError) as exc:
            raise _invalid_client(f"{alg} does not fit the mapped certificate: {exc}") from exc
        except jwt.InvalidTokenError as exc:
            raise _invalid_request(f"malformed assertion: {exc}") from exc
        if claims["exp"] - claims["iat"] > MAX_ASSERTION_LIFETIME_S:
            raise _invalid_request("exp is more than 60 minutes after iat")
        return _scopes(claims.get("scope"))

    def _issue(self, scopes: list[str], ttl: int) -> str:
        now = int(self._clock())
        payload: dict[str, Any] = {
            "sub": MAPPED_ROLE_ENTITY,
            "aud": [self.credentials.ns_client_id],
            "scope": scopes,
            "iss": TOKEN_ISSUER,
            "oit": now,
            "exp": now + ttl,
            "iat": now,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(
            payload,
            self._signing_key,
            algorithm=TOKEN_ALGORITHM,
            headers={"kid": TOKEN_SIGNING_KID},
        )

    # -- bearer tokens on REST requests --------------------------------------------------------
    def verify_bearer(self, token: str) -> None:
        """Raise 401 INVALID_LOGIN unless ``token`` is a live access token for REST web services."""
        realm = self.credentials.ns_account_id
        try:
            claims = jwt.decode(
                token,
                self._signing_key.public_key(),
                algorithms=[TOKEN_ALGORITHM],
                audience=self.credentials.ns_client_id,
                issuer=TOKEN_ISSUER,
                options={"require": ["exp", "iat", "scope"]},
            )
        except jwt.InvalidTokenError as exc:
            raise bearer_refused(realm, f"access token refused: {exc}") from exc
        if REST_SCOPE not in claims["scope"]:
            raise bearer_refused(realm, f"access token scope {claims['scope']} lacks {REST_SCOPE}")


def bearer_refused(realm: str, reason: str) -> InvalidLogin:
    return InvalidLogin(
        realm,
        reason,
        www_authenticate=f'Bearer realm="{realm}", error="invalid_token", '
        'error_description="Invalid login attempt."',
    )


def _scopes(raw: Any) -> list[str]:
    if isinstance(raw, str):
        scopes = [s for s in raw.replace(",", " ").split() if s]
    elif isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        scopes = [s.strip() for s in raw if s.strip()]
    else:
        raise OAuthError(400, "invalid_scope", f"scope {raw!r} is neither a string nor a list")
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes or unknown:
        raise OAuthError(400, "invalid_scope", f"scope {raw!r}: unknown or empty")
    return list(dict.fromkeys(scopes))


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(
        json.dumps(body),
        status=status,
        mimetype="application/json",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
