"""Salesforce OAuth: the token request of each flow the connected app may allow, and the
process-wide token cache.

simple-salesforce hard-codes its login hosts to ``*.salesforce.com``, so the resource obtains the
access token here (JWT bearer, client credentials or password grant) and hands it to
``Salesforce(instance_url=..., session_id=...)``. Tokens are cached per (login URL, flow, client,
user, credential digest), so every resource instance and thread in a process shares one login.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import jwt
import requests

from o2c_pipeline.resources.retry import RetryPolicy
from o2c_pipeline.resources.secrets import MASK, register_secrets
from o2c_pipeline.salesforce.errors import SalesforceAuthError, is_transient, token_error

log = logging.getLogger(__name__)

AUTH_FLOWS = ("jwt", "client_credentials", "password")
JWT_LIFETIME_S = 180
TOKEN_PATH = "/services/oauth2/token"


@dataclass(frozen=True)
class Token:
    access_token: str = field(repr=False)
    instance_url: str

    def __repr__(self) -> str:
        return f"Token(access_token={MASK}, instance_url={self.instance_url!r})"


@dataclass(frozen=True)
class Credentials:
    """What a login needs; ``repr`` never shows a secret."""

    login_url: str
    auth_flow: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    private_key_file: str | None = None
    private_key: str | None = field(default=None, repr=False)
    jwt_audience: str | None = None

    def problems(self) -> list[str]:
        """What this flow lacks (empty when it can log in)."""
        if self.auth_flow not in AUTH_FLOWS:
            return [f"auth_flow must be one of {', '.join(AUTH_FLOWS)}, not {self.auth_flow!r}"]
        needed = {
            "jwt": ("username",),
            "client_credentials": ("client_secret",),
            "password": ("client_secret", "username", "password"),
        }[self.auth_flow]
        missing = [name for name in needed if not getattr(self, name)]
        if self.auth_flow == "jwt" and not (self.private_key or self.private_key_file):
            missing.append("private_key_file")
        if missing:
            return [f"Salesforce auth_flow {self.auth_flow!r} needs {', '.join(missing)}"]
        return []

    @property
    def cache_key(self) -> tuple[str, ...]:
        """Who the token belongs to; credentials enter only as a digest, so instances with
        different secrets never share a token and the cache holds no secret."""
        secrets = (self.client_secret, self.password, self.private_key, self.private_key_file)
        fingerprint = hashlib.sha256("\0".join(v or "" for v in secrets).encode()).hexdigest()
        return (
            self.login_url.rstrip("/"),
            self.auth_flow,
            self.client_id,
            self.username or "",
            fingerprint,
        )

    def grant(self) -> tuple[dict[str, str], dict[str, str]]:
        """Form fields and headers of the token request for the configured flow."""
        if self.auth_flow == "jwt":
            claims = {
                "iss": self.client_id,
                "sub": self.username,
                "aud": (self.jwt_audience or self.login_url).rstrip("/"),
                "exp": int(time.time()) + JWT_LIFETIME_S,
            }
            assertion = jwt.encode(claims, self._private_key_pem(), algorithm="RS256")
            register_secrets([assertion])
            return {
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": assertion,
            }, {}
        if self.auth_flow == "client_credentials":
            basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            register_secrets([basic])
            return {"grant_type": "client_credentials"}, {"Authorization": f"Basic {basic}"}
        return {
            "grant_type": "password",
            "client_id": self.client_id,
            "client_secret": self.client_secret or "",
            "username": self.username or "",
            "password": self.password or "",
        }, {}

    def _private_key_pem(self) -> str:
        if self.private_key:
            return self.private_key
        assert self.private_key_file is not None  # problems() checked
        try:
            with open(self.private_key_file, encoding="utf-8") as handle:
                return handle.read()
        except OSError as exc:
            raise ValueError(
                f"cannot read the Salesforce private key file {self.private_key_file}: {exc.strerror}"
            ) from None

    def login(self, session: requests.Session, policy: RetryPolicy) -> Token:
        """One OAuth token request, retried on transient failures."""
        url = f"{self.login_url.rstrip('/')}{TOKEN_PATH}"
        data, headers = self.grant()

        def attempt() -> Token:
            response = session.post(url, data=data, headers=headers)
            if response.status_code == 200:
                body = response.json()
                if not body.get("access_token") or not body.get("instance_url"):
                    raise SalesforceAuthError(
                        200,
                        "INVALID_TOKEN_RESPONSE",
                        "token response lacks access_token or instance_url",
                    )
                register_secrets([body["access_token"]])
                return Token(body["access_token"], body["instance_url"].rstrip("/"))
            raise token_error(response)

        token = policy.call(
            attempt,
            is_transient=lambda exc: is_transient(exc, idempotent=True),
            describe=f"Salesforce login ({self.auth_flow})",
        )
        log.info("Salesforce: logged in (%s flow) to %s", self.auth_flow, token.instance_url)
        return token


class TokenCache:
    """Process-wide access tokens, so parallel resources and threads share one login."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], Token] = {}
        self._key_locks: dict[tuple[str, ...], threading.Lock] = {}

    def _key_lock(self, key: tuple[str, ...]) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def get(self, key: tuple[str, ...], login: Callable[[], Token]) -> Token:
        with self._key_lock(key):
            token = self._tokens.get(key)
            if token is None:
                token = self._tokens[key] = login()
            return token

    def invalidate(self, key: tuple[str, ...], stale_access_token: str) -> None:
        """Drop the token if it is still the one that was refused (another thread may have
        renewed it already)."""
        with self._key_lock(key):
            token = self._tokens.get(key)
            if token is not None and token.access_token == stale_access_token:
                del self._tokens[key]


TOKENS = TokenCache()
