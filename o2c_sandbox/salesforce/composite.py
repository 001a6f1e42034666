"""The Composite resource (``POST /services/data/vXX.X/composite``): several REST requests in one
call, counted as one call toward the API limits.

As Salesforce documents it: at most 25 subrequests, of which at most 5 are query operations
(Query, QueryAll) or sObject Collections; each subrequest names ``method``, ``url`` (a resource
of the same or an earlier API version, 34.0 or later) and ``referenceId`` (unique, letters,
digits and underscores, starting with a letter), optionally ``body`` and ``httpHeaders``; a later
subrequest may use ``@{referenceId.field}`` or ``@{referenceId.list[0].field}`` in its url or body.
The answer is HTTP 200 with ``compositeResponse``: per subrequest ``body``, ``httpHeaders``,
``httpStatusCode`` and ``referenceId``, in request order. With ``allOrNone`` a failed subrequest
stops the rest (each answered ``PROCESSING_HALTED``); without it the others still run.

Supported resources: sObject rows and basic information, query and queryAll (with their
``nextRecordsUrl`` pages), sObject Collections. The sandbox does not roll back the DML
subrequests that ran before a failure under ``allOrNone``, and does not collate subrequests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from werkzeug.exceptions import HTTPException
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from o2c_sandbox.core import ApiError
from o2c_sandbox.salesforce.model import SfError

MAX_SUBREQUESTS = 25
MAX_QUERIES = 5
MIN_VERSION = 34.0
METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})
#: endpoints a subrequest may reach; the query family and the collections count toward 5
ALLOWED = (
    "sobjects.",
    "describe.basic",
    "query.",
    "composite.collection",
    "composite.retrieve",
    "composite.upsert",
)
QUERY_LIKE = ("query.", "composite.collection", "composite.retrieve", "composite.upsert")
_REFERENCE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_REFERENCE = re.compile(r"@\{([A-Za-z][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_PATH_VERSION = re.compile(r"^/services/data/v(\d+\.\d+)/")


def _invalid(message: str) -> SfError:
    return SfError("INVALID_API_INPUT", message)


def _subrequests(body: dict[str, Any], version: str) -> list[dict[str, Any]]:
    subrequests = body.get("compositeRequest")
    if not isinstance(subrequests, list) or not subrequests:
        raise _invalid("compositeRequest: a non-empty list of subrequests is required")
    if len(subrequests) > MAX_SUBREQUESTS:
        raise _invalid(
            f"Composite Request cannot have more than {MAX_SUBREQUESTS} subrequests; "
            f"{len(subrequests)} given"
        )
    seen: set[str] = set()
    for sub in subrequests:
        if not isinstance(sub, dict):
            raise _invalid("each subrequest is a JSON object")
        method, url, ref = sub.get("method"), sub.get("url"), sub.get("referenceId")
        if method not in METHODS:
            raise _invalid(f"method: one of {', '.join(sorted(METHODS))} (case-sensitive)")
        if not isinstance(url, str) or not url.startswith("/services/data/"):
            raise _invalid(f"url: a /services/data/ resource, not {url!r}")
        if not isinstance(ref, str) or not _REFERENCE_ID.match(ref):
            raise _invalid(f"referenceId: letters, digits and underscores, not {ref!r}")
        if ref in seen:
            raise _invalid(f"Duplicate referenceId provided in the request: {ref}")
        seen.add(ref)
        found = _PATH_VERSION.match(url)
        if found is None or not MIN_VERSION <= float(found.group(1)) <= float(version):
            raise _invalid(
                f"{ref}: the subrequest's API version must be between {MIN_VERSION} and {version}"
            )
    return subrequests


def _resolve(text: str, answers: dict[str, Any]) -> str:
    """``@{ref.field[0].x}`` in ``text`` replaced by the value from an earlier subrequest."""

    def value(match: re.Match[str]) -> str:
        ref, path = match.group(1), match.group(2)
        if ref not in answers:
            raise _invalid(f"reference {ref} is not an earlier subrequest")
        current: Any = answers[ref]
        for part in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
            name, index = part
            try:
                current = current[int(index)] if index else current[name]
            except (KeyError, IndexError, TypeError):
                raise _invalid(f"reference {match.group(0)} does not resolve") from None
        return current if isinstance(current, str) else json.dumps(current)

    return _REFERENCE.sub(value, text)


def run(service: Any, request: Request, version: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every subrequest of ``body``, dispatched to the service's own handlers."""
    subrequests = _subrequests(body, version)
    all_or_none = bool(body.get("allOrNone"))
    planned: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
    for sub in subrequests:
        endpoint, args = _match(service, sub["method"], sub["url"])
        planned.append((sub, endpoint, args))
    queries = sum(endpoint.startswith(QUERY_LIKE) for _, endpoint, _ in planned)
    if queries > MAX_QUERIES:
        raise _invalid(
            f"Composite Request cannot have more than {MAX_QUERIES} query operations or "
            f"sObject Collections; {queries} given"
        )
    answers: dict[str, Any] = {}
    results: list[dict[str, Any]] = []
    halted = False
    for sub, _, _ in planned:
        ref = sub["referenceId"]
        if halted:
            results.append(_answer(ref, 400, [_error("PROCESSING_HALTED", _HALTED)]))
            continue
        response = _dispatch(service, request, sub, answers)
        payload = json.loads(response.get_data() or b"null")
        answers[ref] = payload
        results.append(_answer(ref, response.status_code, payload, response))
        halted = all_or_none and response.status_code >= 400
    return results


_HALTED = "The transaction was rolled back since another operation in the same transaction failed."


def _error(code: str, message: str) -> dict[str, str]:
    return {"errorCode": code, "message": message}


def _answer(ref: str, status: int, body: Any, response: Response | None = None) -> dict[str, Any]:
    headers = {}
    if response is not None and response.headers.get("Location"):
        headers["Location"] = response.headers["Location"]
    return {"body": body, "httpHeaders": headers, "httpStatusCode": status, "referenceId": ref}


def _match(service: Any, method: str, url: str) -> tuple[str, dict[str, Any]]:
    parts = urlsplit(url)
    adapter = service.url_map.bind("sandbox", url_scheme="https")
    try:
        endpoint, args = adapter.match(parts.path, method=method)
    except HTTPException:
        raise _invalid(
            f"{method} {parts.path} is not a resource a composite request can reach"
        ) from None
    if not endpoint.startswith(ALLOWED):
        raise _invalid(f"{method} {parts.path} is not supported in a composite request")
    return endpoint, args


def _dispatch(
    service: Any, request: Request, sub: dict[str, Any], answers: dict[str, Any]
) -> Response:
    url = _resolve(sub["url"], answers)
    parts = urlsplit(url)
    headers = {
        k: v
        for k, v in (sub.get("httpHeaders") or {}).items()
        if k.lower() not in ("accept", "authorization", "content-type")
    }
    headers["Authorization"] = request.headers.get("Authorization", "")
    data = None
    if sub.get("body") is not None:
        data = _resolve(json.dumps(sub["body"]), answers).encode()
    environ = EnvironBuilder(
        path=parts.path,
        query_string=parts.query,
        method=sub["method"],
        headers=headers,
        data=data,
        content_type="application/json" if data is not None else None,
    ).get_environ()
    inner = Request(environ)
    handler: Callable[..., Response]
    try:
        endpoint, args = _match(service, sub["method"], url)
        handler = getattr(service, endpoint.replace(".", "_"))
        return handler(inner, **args)
    except ApiError as err:
        return service.error_response(err)
