"""OAuth 2.0 token endpoint and in-memory sessions.

Three grants, as a connected app allows them: client_credentials (HTTP Basic client id/secret),
password (client id/secret + username/password) and the JWT bearer flow (an RS256 assertion
signed with the integration's private key and verified against the connected app's
certificate). Sessions live in memory and expire after ``knobs.sf_session_ttl_s`` as read when
the token is issued; an unknown or expired token is refused with ``INVALID_SESSION_ID``.
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

import jwt
from cryptography import x509

from o2c_sandbox.schema import Credentials

ORG_ID = "00D000000000001AAA"
USER_ID = "005000000000001AAA"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOGIN_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


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
    """``POST /services/oauth2/token``."""

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

    def grant(self, form: dict[str, str], authorization: str | None) -> dict[str, Any]:
        grant_type = form.get("grant_type", "")
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
        else:
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        return self._token_response()

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

    def _token_response(self) -> dict[str, Any]:
        token = self.sessions.issue(self.ttl_s())
        issued_at = str(int(time.time() * 1000))
        url = self.instance_url()
        identity = f"{url}/id/{ORG_ID}/{USER_ID}"
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
            "scope": "api",
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
