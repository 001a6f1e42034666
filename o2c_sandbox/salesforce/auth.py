"""OAuth 2.0: the token endpoint, the (auto-approving) authorization endpoint, in-memory sessions
and refresh tokens.

Grants, as a connected app allows them: client_credentials (HTTP Basic client id/secret),
password (client id/secret + username/password), the JWT bearer flow (an RS256 assertion signed
with the integration's private key and verified against the connected app's certificate),
authorization_code (the web-server flow, with or without PKCE) and refresh_token. As in
Salesforce, only the web-server flow issues refresh tokens, and only when the ``refresh_token``
(or ``full``) scope is requested; password, JWT bearer and client credentials never do. The
integration user has approved the app once, so ``Credentials.sf_refresh_token`` is always
valid. Sessions live in memory and expire after ``knobs.sf_session_ttl_s`` as read when the
token is issued; an unknown or expired token is refused with ``INVALID_SESSION_ID``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography import x509

from o2c_sandbox.salesforce.org import ORG_ID, identity_url
from o2c_sandbox.schema import Credentials

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOGIN_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
#: the scopes the connected app allows
APP_SCOPES = ("api", "web", "id", "openid", "refresh_token", "full")
DEFAULT_SCOPES = "api web id refresh_token"
CODE_TTL_S = 15 * 60


class OAuthError(Exception):
    """An OAuth failure, answered as ``400 {"error", "error_description"}``."""

    def __init__(self, error: str, description: str):
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


class Sessions:
    """Access tokens → expiry (monotonic seconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}

    def issue(self, ttl_s: float) -> str:
        token = f"{ORG_ID[:15]}!{secrets.token_urlsafe(48)}"
        with self._lock:
            now = time.monotonic()
            self._expiry = {t: e for t, e in self._expiry.items() if e > now}
            self._expiry[token] = now + ttl_s
        return token

    def valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._expiry.get(token)
            return expiry is not None and expiry > time.monotonic()

    def expire(self, token: str) -> None:
        with self._lock:
            self._expiry.pop(token, None)


class TokenEndpoint:
    """``POST /services/oauth2/token`` and ``GET /services/oauth2/authorize``."""

    def __init__(
        self,
        credentials: Credentials,
        cert_path: Path | None,
        instance_url: Callable[[], str],
        ttl_s: Callable[[], float],
        sessions: Sessions,
    ):
        self.credentials = credentials
        self.cert_path = cert_path
        self.instance_url = instance_url
        self.ttl_s = ttl_s
        self.sessions = sessions
        self._public_key: Any = None
        self._lock = threading.Lock()
        self._codes: dict[str, dict[str, Any]] = {}
        self._refresh_tokens: dict[str, str] = {credentials.sf_refresh_token: DEFAULT_SCOPES}

    def grant(self, form: dict[str, str], authorization: str | None) -> dict[str, Any]:
        grant_type = form.get("grant_type", "")
        scope = "api"
        refresh_token: str | None = None
        if grant_type == "client_credentials":
            client_id, secret = _basic_credentials(authorization) or (
                form.get("client_id", ""),
                form.get("client_secret", ""),
            )
            self._check_client(client_id, secret)
        elif grant_type == "password":
            self._check_client(form.get("client_id", ""), form.get("client_secret", ""))
            c = self.credentials
            if form.get("username") != c.sf_username or form.get("password") != c.sf_password:
                raise OAuthError("invalid_grant", "authentication failure")
        elif grant_type == JWT_GRANT:
            self._check_assertion(form.get("assertion", ""))
        elif grant_type == "authorization_code":
            scope = self._redeem_code(form, authorization)
            if {"refresh_token", "full"} & set(scope.split()):
                refresh_token = self._new_refresh_token(scope)
        elif grant_type == "refresh_token":
            scope = self._check_refresh_token(form, authorization)
        else:
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        body = self._token_response(scope)
        if refresh_token:
            body["refresh_token"] = refresh_token
        return body

    # -- web-server flow -----------------------------------------------------------------------
    def authorize(self, args: dict[str, str]) -> str:
        """The redirect an approved authorization request answers with (the integration user
        approves every request: the sandbox has no login page)."""
        if args.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "response type not supported")
        if not hmac.compare_digest(args.get("client_id", ""), self.credentials.sf_client_id):
            raise OAuthError("invalid_client_id", "client identifier invalid")
        redirect_uri = args.get("redirect_uri", "")
        if not redirect_uri:
            raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
        scope = args.get("scope") or DEFAULT_SCOPES
        unknown = set(scope.split()) - set(APP_SCOPES)
        if unknown:
            raise OAuthError(
                "invalid_scope", f"the requested scope is not allowed: {' '.join(sorted(unknown))}"
            )
        code = "aPrx" + secrets.token_urlsafe(36)
        with self._lock:
            self._codes[code] = {
                "redirect_uri": redirect_uri,
                "scope": scope,
                "challenge": args.get("code_challenge"),
                "expires": time.monotonic() + CODE_TTL_S,
            }
        query = {"code": code, **({"state": args["state"]} if args.get("state") else {})}
        return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(query)}"

    def _redeem_code(self, form: dict[str, str], authorization: str | None) -> str:
        with self._lock:
            issued = self._codes.pop(form.get("code", ""), None)
        if issued is None or issued["expires"] < time.monotonic():
            raise OAuthError("invalid_grant", "invalid authorization code")
        if form.get("redirect_uri", "") != issued["redirect_uri"]:
            raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
        client_id, secret = _basic_credentials(authorization) or (
            form.get("client_id", ""),
            form.get("client_secret", ""),
        )
        if issued["challenge"]:
            verifier = form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            if digest.decode().rstrip("=") != issued["challenge"].rstrip("="):
                raise OAuthError("invalid_grant", "invalid code verifier")
            if not hmac.compare_digest(client_id, self.credentials.sf_client_id):
                raise OAuthError("invalid_client_id", "client identifier invalid")
            if secret:
                self._check_client(client_id, secret)
        else:
            self._check_client(client_id, secret)
        return issued["scope"]

    # -- refresh tokens ------------------------------------------------------------------------
    def _new_refresh_token(self, scope: str) -> str:
        token = f"5Aep861{secrets.token_urlsafe(60)}"
        with self._lock:
            self._refresh_tokens[token] = scope
        return token

    def _check_refresh_token(self, form: dict[str, str], authorization: str | None) -> str:
        client_id, secret = _basic_credentials(authorization) or (
            form.get("client_id", ""),
            form.get("client_secret", ""),
        )
        if not hmac.compare_digest(client_id, self.credentials.sf_client_id):
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if secret:  # the secret is optional for the refresh flow, but checked when sent
            self._check_client(client_id, secret)
        with self._lock:
            scope = self._refresh_tokens.get(form.get("refresh_token", ""))
        if scope is None:
            raise OAuthError("invalid_grant", "expired access/refresh token")
        return scope

    # -- checks --------------------------------------------------------------------------------
    def _check_client(self, client_id: str, secret: str) -> None:
        c = self.credentials
        if not (
            hmac.compare_digest(client_id, c.sf_client_id)
            and hmac.compare_digest(secret, c.sf_client_secret)
        ):
            raise OAuthError("invalid_client", "invalid client credentials")

    def _check_assertion(self, assertion: str) -> None:
        if not assertion:
            raise OAuthError("invalid_grant", "assertion is missing")
        audiences = [*LOGIN_AUDIENCES, self.instance_url().rstrip("/")]
        try:
            claims = jwt.decode(
                assertion,
                self._key(),
                algorithms=["RS256"],
                audience=audiences,
                issuer=self.credentials.sf_client_id,
                options={"require": ["exp", "iss", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise OAuthError("invalid_grant", "expired authorization code") from exc
        except jwt.InvalidAudienceError as exc:
            raise OAuthError("invalid_grant", "audience is invalid") from exc
        except jwt.InvalidIssuerError as exc:
            raise OAuthError("invalid_client_id", "client identifier invalid") from exc
        except jwt.InvalidSignatureError as exc:
            raise OAuthError("invalid_grant", "invalid assertion signature") from exc
        except jwt.PyJWTError as exc:
            raise OAuthError("invalid_grant", f"invalid assertion: {exc}") from exc
        if claims.get("sub") != self.credentials.sf_username:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")

    def _key(self) -> Any:
        if self._public_key is None:
            if self.cert_path is None:
                raise OAuthError("invalid_grant", "no certificate configured for the connected app")
            cert = x509.load_pem_x509_certificate(Path(self.cert_path).read_bytes())
            self._public_key = cert.public_key()
        return self._public_key

    def _token_response(self, scope: str) -> dict[str, Any]:
        token = self.sessions.issue(self.ttl_s())
        issued_at = str(int(time.time() * 1000))
        url = self.instance_url()
        identity = identity_url(url)  # the login host is the instance host here
        signature = base64.b64encode(
            hmac.new(
                self.credentials.sf_client_secret.encode(),
                (identity + issued_at).encode(),
                hashlib.sha256,
            ).digest()
        ).decode()
        return {
            "access_token": token,
            "instance_url": url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": signature,
            "scope": scope,
        }


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "oauth") and token.strip() else None
