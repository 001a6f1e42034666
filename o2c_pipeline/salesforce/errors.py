"""Salesforce's error answers in the one shape of :class:`~o2c_pipeline.resources.errors.ApiError`:
REST errors from simple-salesforce, token-endpoint refusals, per-record results of sObject
collections and the failed rows of Bulk API 2.0 ingest jobs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from simple_salesforce.exceptions import SalesforceError

from o2c_pipeline.resources.errors import ApiError
from o2c_pipeline.resources.retry import is_network_error

TRANSIENT_CODES = frozenset(
    {"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "UNEXPECTED_ERROR"}
)
#: Per-record codes worth a later retry (the resource already re-sent locked rows).
RECORD_TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW"})


class SalesforceApiError(ApiError):
    """An error answer from Salesforce (or a network failure after all retries), secrets removed;
    ``fields`` are the fields the answer names."""

    system = "Salesforce"

    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        *,
        fields: list[str] | None = None,
        transient: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        self.fields = list(fields or [])
        super().__init__(
            status,
            error_code,
            message,
            field_path=", ".join(self.fields),
            transient=transient,
            retry_after_s=retry_after_s,
        )


class SalesforceAuthError(SalesforceApiError):
    """The token endpoint refused the credentials (bad client id/secret, key, user or password)."""


class SessionExpired(Exception):
    """Internal signal: the session was renewed, repeat the call now."""

    transient = True
    retry_after_s = 0.0


def api_error(exc: SalesforceError) -> SalesforceApiError:
    """simple-salesforce's exception as ours: status, the first error's code and message."""
    content: Any = exc.content
    code, message, fields = type(exc).__name__, "", []
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        code = first.get("errorCode") or code
        message = first.get("message") or ""
        fields = list(first.get("fields") or [])
    elif isinstance(content, dict):
        code = content.get("errorCode") or content.get("error") or code
        message = content.get("message") or content.get("error_description") or ""
    else:
        message = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
    status = int(exc.status or 0)
    transient = status == 429 or status >= 500 or code in TRANSIENT_CODES
    return SalesforceApiError(
        status,
        code,
        f"{exc.resource_name or 'request'}: {message[:1000]}",
        fields=fields,
        transient=transient,
    )


def token_error(response: requests.Response) -> SalesforceApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if isinstance(body, list):  # some proxies answer in the REST error shape
        body = body[0] if body and isinstance(body[0], dict) else {}
    code = body.get("error") or body.get("errorCode") or f"HTTP_{response.status_code}"
    description = body.get("error_description") or body.get("message") or response.reason or ""
    transient = response.status_code == 429 or response.status_code >= 500
    cls = SalesforceApiError if transient else SalesforceAuthError
    return cls(response.status_code, code, f"login failed: {description}", transient=transient)


def record_error(result: Mapping[str, Any]) -> SalesforceApiError:
    """The first error of a failed sObject-collection result (``{"success": false, "errors"}``)."""
    error = (result.get("errors") or [{}])[0]
    code = str(error.get("statusCode", "UNKNOWN"))
    return SalesforceApiError(
        0,
        code,
        str(error.get("message", "refused by Salesforce")),
        fields=list(error.get("fields") or []),
        transient=code in RECORD_TRANSIENT_CODES,
    )


def bulk_row_error(row: Mapping[str, str]) -> SalesforceApiError:
    """A failed row of a Bulk API 2.0 ingest job (``sf__Error`` = ``CODE:message``)."""
    code, _, message = (row.get("sf__Error") or "UNKNOWN:").partition(":")
    code = code.strip()
    return SalesforceApiError(0, code, message.strip(), transient=code in RECORD_TRANSIENT_CODES)


def is_transient(exc: BaseException, *, idempotent: bool) -> bool:
    if isinstance(exc, SalesforceApiError | SessionExpired):
        return bool(exc.transient)
    return is_network_error(exc, idempotent=idempotent)
