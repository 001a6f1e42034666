"""Keep credentials out of logs, exception texts and reprs.

Two layers: every secret value a resource holds is registered process-wide and replaced wherever
it shows up in text we produce, and credential-shaped patterns (``Authorization`` headers,
``Bearer`` tokens, OAuth signatures, ``access_token`` fields) are masked even when their values
were never registered — e.g. a freshly minted Salesforce access token inside a library's debug log.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any, ClassVar

MASK = "***"

# Loggers of the HTTP/OAuth libraries we use that print headers or signature material at DEBUG.
_LIBRARY_LOGGERS = (
    "requests_oauthlib",
    "requests_oauthlib.oauth1_auth",
    "requests_oauthlib.oauth2_session",
    "oauthlib",
    "oauthlib.oauth1.rfc5849",
    "oauthlib.oauth1.rfc5849.signature",
    "oauthlib.oauth2.rfc6749",
    "urllib3.connectionpool",
    "simple_salesforce",
)

_PATTERNS = (
    # Authorization: Bearer xyz / b'Authorization': b'OAuth realm=..., oauth_signature=...'
    re.compile(r"""(?i)(authorization['"]?\s*[:=]\s*)(?:b?'[^']*'|b?"[^"]*"|[^,}\n]+)"""),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=!-]+"),
    re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/=]{8,}"),
    re.compile(r"""(?i)(oauth_signature['"]?\s*[=:]\s*['"]?)[^'"&,\s]+"""),
    re.compile(r"(?i)(\bsignature:\s*)\S+"),  # oauthlib's debug line
    re.compile(
        r"""(?i)(["']?(?:access_token|refresh_token|client_secret|password|assertion|"""
        r"""session_?id|token_secret|consumer_secret)["']?\s*[:=]\s*["']?)[^"'&,\s}]+"""
    ),
)

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secrets(values: Iterable[str | None]) -> None:
    """Remember secret values so :func:`scrub` replaces them anywhere they appear."""
    with _lock:
        # very short values would mask innocent text; real credentials are long
        _secrets.update(v for v in values if v and len(v) >= 6)


def scrub(text: Any) -> str:
    """``text`` as a string with every registered secret and credential-shaped value masked."""
    out = str(text)
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        if value in out:
            out = out.replace(value, MASK)
    for pattern in _PATTERNS:
        out = pattern.sub(lambda m: m.group(1) + MASK, out)
    return out


class ScrubbingFilter(logging.Filter):
    """Rewrites a record's message with :func:`scrub` before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix; never leak its args
            message = str(record.msg)
        cleaned = scrub(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


_FILTER = ScrubbingFilter()


def install_log_scrubbing() -> None:
    """Attach the scrubbing filter to the loggers that may see credentials (idempotent)."""
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


class SecretFieldsReprMixin:
    """Masks the fields named in ``secret_fields`` in ``repr()``/``str()`` of a pydantic model."""

    secret_fields: ClassVar[frozenset[str]] = frozenset()

    def __repr_args__(self):  # type: ignore[no-untyped-def]
        for name, value in super().__repr_args__():  # type: ignore[misc]
            yield name, (MASK if name in self.secret_fields and value else value)
