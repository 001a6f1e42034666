"""The NetSuite half of the sandbox: SuiteTalk REST web services (2025.1) as real clients see them.

Routes (under ``/services/rest``): ``POST query/v1/suiteql``, ``record/v1/<type>[/<id> |
/eid:<externalId>[/<sublist>]]`` and ``GET record/v1/metadata-catalog[/<type>]``
(:mod:`.metadata`), and ``POST auth/oauth2/v1/token`` (:mod:`.oauth2`). Every other request is
admitted by account-wide governance (:mod:`.governance`), authenticated with OAuth 1.0a TBA
(:mod:`.oauth`) or an OAuth 2.0 bearer token (:mod:`.oauth2`), and answered with NetSuite's error
shape, where the error code sits *inside* ``o:errorDetails``.

Collection pages (SuiteQL and record lists) carry ``links`` in NetSuite's order -- previous,
first, next, last, self -- as absolute URLs on the host the client used; ``next`` is absent on the
last page, and also on the last page *reachable* below SuiteQL's 100,000-row ceiling, where
``hasMore`` stays true (more rows exist) and ``last`` points at that reachable page.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request, Response

from o2c_sandbox.core import ApiError, Routes, SandboxContext, Service, route_map
from o2c_sandbox.netsuite import metadata
from o2c_sandbox.netsuite.governance import Governor
from o2c_sandbox.netsuite.oauth import TbaVerifier
from o2c_sandbox.netsuite.oauth2 import TOKEN_PATH, ClientCredentialsAuthority
from o2c_sandbox.netsuite.records import MAX_PAGE as RECORD_MAX_PAGE
from o2c_sandbox.netsuite.records import RECORD_PREFIX, RecordStore
from o2c_sandbox.netsuite.suiteql import MAX_PAGE as SUITEQL_MAX_PAGE
from o2c_sandbox.netsuite.suiteql import MAX_REACHABLE_ROWS, SuiteQLEngine

SUITEQL_PATH = "/services/rest/query/v1/suiteql"
#: RFC 9110 section of each status, the ``type`` NetSuite puts in its error bodies.
ERROR_TYPES = {
    400: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1",
    401: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2",
    403: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.4",
    404: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.5",
    405: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.6",
    429: "https://www.rfc-editor.org/rfc/rfc6585.html#section-4",
    500: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.1",
    503: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.4",
}


_RECORD = f"{RECORD_PREFIX}/<record_type>"
#: every endpoint of the account's APIs, as :data:`o2c_sandbox.core.Routes` declares them
ROUTES: Routes = {
    TOKEN_PATH: {"POST": "oauth2.token"},
    SUITEQL_PATH: {"POST": "suiteql.query"},
    metadata.METADATA_PREFIX: {"GET": "metadata.catalog"},
    f"{metadata.METADATA_PREFIX}/<record_type>": {"GET": "metadata.describe"},
    _RECORD: {"GET": "record.list", "POST": "record.create"},
    f"{_RECORD}/<key>": {
        "GET": "record.get",
        "PATCH": "record.update",
        "PUT": "record.upsert",
        "DELETE": "record.delete",
    },
    f"{_RECORD}/<key>/<sublist>": {"GET": "record.sublist"},
}


class NetSuiteService(Service):
    system = "netsuite"
    url_map = route_map(ROUTES)

    def __init__(self, ctx: SandboxContext):
        super().__init__(ctx)
        self.governor = Governor(ctx.knobs, ctx.counters)
        self.verifier = TbaVerifier(ctx.credentials, ctx.knobs)
        self.authority = ClientCredentialsAuthority(ctx.state_dir, ctx.credentials, ctx.knobs)
        self.suiteql = SuiteQLEngine(ctx.store)
        self.records = RecordStore(ctx.store)

    # -- Service hooks -------------------------------------------------------------------------
    def error_response(self, err: ApiError) -> Response:
        detail: dict[str, Any] = {"detail": err.message, "o:errorCode": err.code}
        if err.path:
            detail["o:errorPath"] = err.path
        body = {
            "type": ERROR_TYPES.get(
                err.status, "https://www.rfc-editor.org/rfc/rfc9110.html#section-15"
            ),
            "title": HTTP_STATUS_CODES.get(err.status, "Error"),
            "status": err.status,
            "o:errorDetails": [detail],
        }
        return _resource(body, "error", status=err.status)

    def governance(self, request: Request) -> AbstractContextManager[None]:
        if request.path.rstrip("/") == TOKEN_PATH:  # a login, not a web services request
            return nullcontext()
        return self.governor.admit()

    def authenticate(self, request: Request, endpoint: str) -> None:
        """OAuth 2.0 bearer tokens and TBA signatures are both accepted on every REST path."""
        if endpoint == "oauth2.token":
            return
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            self.authority.verify_bearer(token.strip())
        else:
            self.verifier.verify(request)

    # -- OAuth 2.0 -----------------------------------------------------------------------------
    def oauth2_token(self, request: Request) -> Response:
        return self.authority.token_response(request)

    # -- SuiteQL -------------------------------------------------------------------------------
    def suiteql_query(self, request: Request) -> Response:
        if "transient" not in request.headers.get("Prefer", "").lower():
            raise ApiError(
                400,
                "INVALID_HEADER",
                "The request header 'Prefer' with the value 'transient' is required for "
                "SuiteQL queries.",
            )
        limit, offset = _paging(request, SUITEQL_MAX_PAGE)
        if offset % limit:
            raise ApiError(
                400,
                "INVALID_PARAMETER",
                f"Invalid value for query parameter 'offset': {offset}. The offset must be a "
                f"multiple of the limit ({limit}).",
            )
        if offset + limit > MAX_REACHABLE_ROWS:
            raise ApiError(
                400,
                "INVALID_PARAMETER",
                f"The requested page (offset {offset}, limit {limit}) lies beyond the "
                f"{MAX_REACHABLE_ROWS:,} results a SuiteQL query can return through REST web "
                "services. Narrow the query, for example with WHERE id > <last id seen>.",
            )
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("q"), str):
            raise ApiError(
                400,
                "INVALID_CONTENT",
                "The request body must be a JSON object with the SuiteQL query in the 'q' property.",
            )
        page = self.suiteql.run(body["q"], limit, offset)
        count = len(page.items)
        has_more = offset + count < page.total
        reachable = min(page.total, MAX_REACHABLE_ROWS)
        url = f"{_base(request)}{SUITEQL_PATH}"
        return _resource(
            {
                "links": _page_links(url, limit, offset, reachable, has_more),
                "count": count,
                "hasMore": has_more,
                "items": page.items,
                "offset": offset,
                "totalResults": page.total,
            },
            "collection",
        )

    # -- metadata catalog ----------------------------------------------------------------------
    def metadata_catalog(self, request: Request) -> Response:
        rtypes = metadata.record_types(request.args.get("select"))
        wanted = metadata.requested_format(request.headers.get("Accept", ""))
        if wanted == metadata.OPENAPI_JSON:
            return _document(metadata.openapi(rtypes, _base(request)), wanted)
        url = f"{_base(request)}{metadata.METADATA_PREFIX}"
        return _document(metadata.catalog(rtypes, _base(request), url), metadata.JSON)

    def metadata_describe(self, request: Request, record_type: str) -> Response:
        wanted = metadata.requested_format(request.headers.get("Accept", ""))
        if wanted == metadata.SCHEMA_JSON:
            return _document(metadata.json_schema(record_type), wanted)
        rtype = self.records.record_type(record_type)
        if wanted == metadata.OPENAPI_JSON:
            return _document(metadata.openapi([rtype], _base(request)), wanted)
        return _document(
            metadata.catalog_item(metadata.catalog_name(rtype), _base(request)), wanted
        )

    # -- record API ----------------------------------------------------------------------------
    def record_list(self, request: Request, record_type: str) -> Response:
        rtype = self.records.record_type(record_type)
        limit, offset = _paging(request, RECORD_MAX_PAGE)
        ids, total = self.records.list(rtype, limit, offset, request.args.get("q"))
        base = _base(request)
        type_url = f"{base}{RECORD_PREFIX}/{rtype.name}"
        has_more = offset + len(ids) < total
        return _resource(
            {
                "links": _page_links(type_url, limit, offset, total, has_more),
                "count": len(ids),
                "hasMore": has_more,
                "items": [
                    {"links": [{"rel": "self", "href": f"{type_url}/{i}"}], "id": str(i)}
                    for i in ids
                ],
                "offset": offset,
                "totalResults": total,
            },
            "collection",
        )

    def record_get(self, request: Request, record_type: str, key: str) -> Response:
        rtype = self.records.record_type(record_type)
        expand = request.args.get("expandSubResources", "false").lower() == "true"
        return _resource(self.records.get(rtype, key, _base(request), expand), "singular")

    def record_sublist(
        self, request: Request, record_type: str, key: str, sublist: str
    ) -> Response:
        rtype = self.records.record_type(record_type)
        return _resource(self.records.sublist(rtype, key, sublist, _base(request)), "collection")

    def record_create(self, request: Request, record_type: str) -> Response:
        rtype = self.records.record_type(record_type)
        record_id = self.records.create(rtype, _json_body(request))
        return _no_content(f"{_base(request)}{RECORD_PREFIX}/{rtype.name}/{record_id}")

    def record_update(self, request: Request, record_type: str, key: str) -> Response:
        rtype = self.records.record_type(record_type)
        record_id = self.records.update(rtype, key, _json_body(request))
        return _no_content(f"{_base(request)}{RECORD_PREFIX}/{rtype.name}/{record_id}")

    def record_upsert(self, request: Request, record_type: str, key: str) -> Response:
        rtype = self.records.record_type(record_type)
        if not key.startswith("eid:") or len(key) == 4:
            raise ApiError(
                400,
                "INVALID_PARAMETER",
                "PUT (upsert) is supported only with an external ID: "
                f"{RECORD_PREFIX}/{rtype.name}/eid:<externalId>.",
            )
        result = self.records.upsert(rtype, key[4:], _json_body(request))
        return _no_content(f"{_base(request)}{RECORD_PREFIX}/{rtype.name}/{result.record_id}")

    def record_delete(self, request: Request, record_type: str, key: str) -> Response:
        rtype = self.records.record_type(record_type)
        self.records.delete(rtype, key)
        return Response(status=204)


def _base(request: Request) -> str:
    """Scheme, host and port exactly as the client addressed us (the Host header)."""
    return request.host_url.rstrip("/")


def _resource(body: dict[str, Any], kind: str, status: int = 200) -> Response:
    """NetSuite's JSON media type: ``application/vnd.oracle.resource+json; type=<kind>``."""
    return Response(
        json.dumps(body),
        status=status,
        content_type=f"application/vnd.oracle.resource+json; type={kind}",
        headers={"Content-Language": "en"},
    )


def _document(body: dict[str, Any], media_type: str) -> Response:
    """A metadata document in the media type it was asked for."""
    return Response(json.dumps(body), content_type=media_type, headers={"Content-Language": "en"})


def _no_content(location: str) -> Response:
    return Response(status=204, headers={"Location": location})


def _json_body(request: Request) -> dict[str, Any]:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "INVALID_CONTENT", "The request body must be a JSON object.")
    return body


def _paging(request: Request, max_limit: int) -> tuple[int, int]:
    values = {}
    for name, default in (("limit", max_limit), ("offset", 0)):
        raw = request.args.get(name)
        try:
            values[name] = default if raw in (None, "") else int(raw)
        except ValueError as exc:
            raise ApiError(
                400,
                "INVALID_PARAMETER",
                f"Invalid value for query parameter '{name}': {raw}. Provide an integer.",
            ) from exc
    limit, offset = values["limit"], values["offset"]
    if not 1 <= limit <= max_limit:
        raise ApiError(
            400,
            "INVALID_PARAMETER",
            f"Invalid value for query parameter 'limit': {limit}. The limit must be between 1 "
            f"and {max_limit}.",
        )
    if offset < 0:
        raise ApiError(
            400,
            "INVALID_PARAMETER",
            f"Invalid value for query parameter 'offset': {offset}. The offset must not be negative.",
        )
    return limit, offset


def _page_links(
    url: str, limit: int, offset: int, total: int, has_more: bool
) -> list[dict[str, str]]:
    """previous/first/next/last/self, as NetSuite orders them; no next on the last reachable page."""

    def href(o: int) -> str:
        return f"{url}?limit={limit}&offset={o}"

    last = max(0, (total - 1) // limit * limit) if total else 0
    links = []
    if offset > 0:
        links.append({"rel": "previous", "href": href(max(0, offset - limit))})
    links.append({"rel": "first", "href": href(0)})
    if has_more and offset + limit < total:
        links.append({"rel": "next", "href": href(offset + limit)})
    links.append({"rel": "last", "href": href(last)})
    links.append({"rel": "self", "href": href(offset)})
    return links
