"""The process-wide cache of OAuth access tokens both resources use, so parallel resource
instances and threads share one login, a token is renewed before it expires, and a token the
server refused is replaced once however many threads saw the refusal."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar


class AccessToken(Protocol):
    access_token: str

    @property
    def renew_at(self) -> float | None:
        """Epoch seconds from which the token is renewed before use (None: until refused)."""
        ...


T = TypeVar("T", bound=AccessToken)


class TokenCache:
    """Tokens by who they belong to (a key holding no secret, only digests)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], AccessToken] = {}
        self._key_locks: dict[tuple[str, ...], threading.Lock] = {}
        self._clock = clock

    def _key_lock(self, key: tuple[str, ...]) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def get(self, key: tuple[str, ...], login: Callable[[], T]) -> T:
        """The cached token, or a new one from ``login`` when there is none or it is due for
        renewal; one login per key at a time."""
        with self._key_lock(key):
            token = self._tokens.get(key)
            if token is None or (token.renew_at is not None and self._clock() >= token.renew_at):
                token = self._tokens[key] = login()
            return token  # type: ignore[return-value]

    def invalidate(self, key: tuple[str, ...], stale_access_token: str) -> None:
        """Drop the token if it is still the one that was refused (another thread may have
        renewed it already)."""
        with self._key_lock(key):
            token = self._tokens.get(key)
            if token is not None and token.access_token == stale_access_token:
                del self._tokens[key]


TOKENS = TokenCache()
