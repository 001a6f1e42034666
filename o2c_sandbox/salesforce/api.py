"""The Salesforce REST surface of a Winter '25 org (API v62.0; versions 21.0 to 62.0 served),
Bulk API 1.0 under ``/services/async/`` and the identity service.

Routes map onto handlers named ``<family>_<name>``; the family (``auth``, ``query``,
``sobjects``, ``composite``, ``bulk1``, ``bulk2``, ``limits``, ``describe``) is what the sandbox
counters report. Every ``/services/data/vNN.N/`` call needs a live Bearer session (Bulk API 1.0
takes it in ``X-SFDC-Session``); every answer carries ``Sforce-Limit-Info``; every REST error is
Salesforce's JSON list ``[{"message", "errorCode"}]``, Bulk API 1.0 errors are its
``exceptionCode`` documents.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from typing import Any
from urllib.parse import urlencode

from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Request, Response

from o2c_sandbox.core import ApiError, Routes, SandboxContext, Service, route_map
from o2c_sandbox.salesforce import composite, dml, org
from o2c_sandbox.salesforce.auth import (
    OAuthError,
    Sessions,
    TokenEndpoint,
    bearer_token,
)
from o2c_sandbox.salesforce.bulk1 import AsyncApiError, Bulk1, to_wire, wants_json
from o2c_sandbox.salesforce.bulk2 import Bulk2
from o2c_sandbox.salesforce.describe import (
    describe_basic,
    describe_global,
    describe_object,
)
from o2c_sandbox.salesforce.model import (
    API_VERSION,
    SfError,
    find_field,
    find_object,
    normalize_id,
    object_for_id,
    parse_datetime,
    record_url,
    table_sql,
)
from o2c_sandbox.salesforce.query import QueryEngine, parse_batch_size
from o2c_sandbox.schema import SfObject

DAILY_API_REQUESTS = 15_000
DAILY_BULK_V2_QUERY_JOBS = 10_000
COLLECTION_LIMIT = 200


class _VersionConverter(BaseConverter):
    """``v62.0`` in the path → ``"62.0"``."""

    regex = r"v\d+\.\d+"

    def to_python(self, value: str) -> str:
        return value[1:]

    def to_url(self, value: str) -> str:
        return f"v{value}"


class _AsyncVersionConverter(BaseConverter):
    """Bulk API 1.0 paths carry the bare version: ``/services/async/62.0/``."""

    regex = r"\d+\.\d+"


_DATA = "/services/data/<ver:version>"
_SOBJECT = f"{_DATA}/sobjects/<obj>"
_BULK1_JOB = "/services/async/<async_ver:version>/job"
#: every endpoint of the org's APIs, as :data:`o2c_sandbox.core.Routes` declares them
ROUTES: Routes = {
    "/services/oauth2/token": {"POST": "auth.token"},
    "/services/oauth2/authorize": {"GET POST": "auth.authorize"},
    "/services/oauth2/userinfo": {"GET POST": "auth.userinfo"},
    "/id/<org_id>/<user_id>": {"GET POST": "auth.identity"},
    "/services/data/": {"GET": "describe.versions"},
    f"{_DATA}/": {"GET": "describe.resources"},
    f"{_DATA}/limits/": {"GET": "limits.limits"},
    f"{_DATA}/query/": {"GET": ("query.first", {"all_rows": False})},
    f"{_DATA}/queryAll/": {"GET": ("query.first", {"all_rows": True})},
    f"{_DATA}/query/<locator>": {"GET": "query.more"},
    f"{_DATA}/queryAll/<locator>": {"GET": "query.more"},
    f"{_DATA}/sobjects/": {"GET": "describe.global_"},
    f"{_SOBJECT}/": {"GET": "describe.basic", "POST": "sobjects.create"},
    f"{_SOBJECT}/describe/": {"GET": "describe.object"},
    f"{_SOBJECT}/deleted/": {"GET": "sobjects.deleted"},
    f"{_SOBJECT}/updated/": {"GET": "sobjects.updated"},
    f"{_SOBJECT}/<record_id>": {"GET PATCH DELETE": "sobjects.record"},
    f"{_SOBJECT}/<ext_field>/<path:value>": {"GET PATCH DELETE": "sobjects.external"},
    f"{_DATA}/composite": {"POST": "composite.composite"},
    f"{_DATA}/composite/sobjects": {"POST PATCH DELETE": "composite.collection"},
    f"{_DATA}/composite/sobjects/<obj>": {"GET POST": "composite.retrieve"},
    f"{_DATA}/composite/sobjects/<obj>/<ext_field>": {"PATCH": "composite.upsert"},
    f"{_DATA}/jobs/query": {"GET POST": "bulk2.query_jobs"},
    f"{_DATA}/jobs/query/<job_id>": {"GET PATCH DELETE": "bulk2.query_job"},
    f"{_DATA}/jobs/query/<job_id>/results": {"GET": "bulk2.query_results"},
    f"{_DATA}/jobs/ingest": {"GET POST": "bulk2.ingest_jobs"},
    f"{_DATA}/jobs/ingest/<job_id>": {"GET PATCH DELETE": "bulk2.ingest_job"},
    f"{_DATA}/jobs/ingest/<job_id>/batches": {"PUT": "bulk2.ingest_upload"},
    f"{_DATA}/jobs/ingest/<job_id>/<any(successfulResults, failedResults, "
    "unprocessedrecords, unprocessedRecords):which>": {"GET": "bulk2.ingest_results"},
    _BULK1_JOB: {"POST": "bulk1.create_job"},
    f"{_BULK1_JOB}/<job_id>": {"GET POST": "bulk1.job"},
    f"{_BULK1_JOB}/<job_id>/batch": {"GET POST": "bulk1.batches"},
    f"{_BULK1_JOB}/<job_id>/batch/<batch_id>": {"GET": "bulk1.batch"},
    f"{_BULK1_JOB}/<job_id>/batch/<batch_id>/request": {"GET": "bulk1.request"},
    f"{_BULK1_JOB}/<job_id>/batch/<batch_id>/result": {"GET": "bulk1.result"},
    f"{_BULK1_JOB}/<job_id>/batch/<batch_id>/result/<result_id>": {"GET": "bulk1.query_result"},
}


_DATA_VERSION = re.compile(r"^/services/data/v(\d+\.\d+)")
#: endpoints that need no session
_OPEN_ENDPOINTS = ("auth.token", "auth.authorize", "describe.versions")


class SalesforceService(Service):
    system = "salesforce"
    url_map = route_map(
        ROUTES, converters={"ver": _VersionConverter, "async_ver": _AsyncVersionConverter}
    )

    def __init__(self, ctx: SandboxContext):
        super().__init__(ctx)
        self.sessions = Sessions()
        self.tokens = TokenEndpoint(
            ctx.credentials,
            ctx.jwt_cert_path,
            instance_url=lambda: (ctx.urls or {})["salesforce"],
            ttl_s=lambda: ctx.knobs.sf_session_ttl_s,
            sessions=self.sessions,
        )
        self.queries = QueryEngine(ctx.store)
        self.bulk = Bulk2(ctx.store)
        self.bulk1 = Bulk1(ctx.store)
        org.ensure_org_records(ctx.store, ctx.credentials.sf_username)
        self._usage_lock = threading.Lock()
        self._usage = itertools.count(1)
        self.api_requests = 0

    # -- Service hooks -------------------------------------------------------------------------
    def authenticate(self, request: Request, endpoint: str) -> None:
        if endpoint in _OPEN_ENDPOINTS:
            return
        token = bearer_token(request.headers.get("Authorization"))
        if endpoint.startswith("bulk1."):
            token = request.headers.get("X-SFDC-Session") or token
        elif endpoint == "auth.identity":
            token = token or request.values.get("oauth_token")
        if token is None or not self.sessions.valid(token):
            if endpoint.startswith("bulk1."):
                raise AsyncApiError(
                    "InvalidSessionId",
                    "Invalid session id",
                    as_json=wants_json(request.content_type),
                )
            if endpoint.startswith("auth."):
                raise ApiError(403, "Bad_OAuth_Token", "Bad_OAuth_Token")
            raise _invalid_session()
        version = _DATA_VERSION.match(request.path)
        if version is not None and not org.serves_version(version.group(1)):
            raise SfError("NOT_FOUND", "The requested resource does not exist", status=404)
        with self._usage_lock:
            self.api_requests = next(self._usage)

    def family(self, endpoint: str, request: Request) -> str:
        """A Composite call of GET subrequests only is counted as ``composite_read``, so that the
        counters tell reads batched in one call from the DML the other composite families do."""
        if endpoint == "composite.composite":
            try:
                subrequests = json.loads(request.get_data() or b"{}").get("compositeRequest")
            except (ValueError, AttributeError):
                subrequests = None
            if (
                isinstance(subrequests, list)
                and subrequests
                and all(
                    isinstance(s, dict) and str(s.get("method", "")).upper() == "GET"
                    for s in subrequests
                )
            ):
                return "composite_read"
        return super().family(endpoint, request)

    def session_expiry_fault(self, request: Request) -> Response | None:
        token = bearer_token(request.headers.get("Authorization"))
        if token is None:
            return None  # nothing to expire (e.g. the token endpoint itself)
        self.sessions.expire(token)
        return self.error_response(_invalid_session())

    def error_response(self, err: ApiError) -> Response:
        if isinstance(err, AsyncApiError):
            data, content_type = err.body()
            return self._limit_info(Response(data, status=err.status, content_type=content_type))
        if err.code == "Bad_OAuth_Token":  # the identity service answers in plain text
            return Response(err.message, status=err.status, content_type="text/plain")
        body: dict[str, Any] = {"message": err.message, "errorCode": err.code}
        if err.fields:
            body["fields"] = err.fields
        return self.json([body], status=err.status)

    def json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return self._limit_info(Service.json(body, status, headers))

    def _limit_info(self, response: Response) -> Response:
        response.headers["Sforce-Limit-Info"] = (
            f"api-usage={self.api_requests}/{DAILY_API_REQUESTS}"
        )
        return response

    def _no_content(self) -> Response:
        return self._limit_info(Response(status=204))

    def _csv(self, body: bytes, headers: dict[str, str] | None = None) -> Response:
        return self._limit_info(
            Response(body, headers=headers, content_type="text/csv; charset=UTF-8")
        )

    # -- auth ----------------------------------------------------------------------------------
    def auth_token(self, request: Request) -> Response:
        form = {k: v for k, v in request.form.items()}
        try:
            return self.json(self.tokens.grant(form, request.headers.get("Authorization")))
        except OAuthError as err:
            return self.json({"error": err.error, "error_description": err.description}, status=400)

    def auth_authorize(self, request: Request) -> Response:
        try:
            location = self.tokens.authorize(dict(request.values.items()))
        except OAuthError as err:
            redirect = request.values.get("redirect_uri")
            if not redirect or err.error in ("invalid_client_id", "redirect_uri_mismatch"):
                return self.json(
                    {"error": err.error, "error_description": err.description}, status=400
                )
            query = urlencode({"error": err.error, "error_description": err.description})
            location = f"{redirect}{'&' if '?' in redirect else '?'}{query}"
        return Response(status=302, headers={"Location": location})

    def auth_userinfo(self, request: Request) -> Response:
        url = self.ctx.urls["salesforce"]
        return self.json(org.userinfo(self.ctx.store, url, url))

    def auth_identity(self, request: Request, org_id: str, user_id: str) -> Response:
        if org_id[:15] != org.ORG_ID[:15] or user_id[:15] != org.USER_ID[:15]:
            raise ApiError(403, "Bad_OAuth_Token", "Bad_Id")
        url = self.ctx.urls["salesforce"]
        version = request.values.get("version")
        if version == "latest":
            version = API_VERSION
        return self.json(org.identity(self.ctx.store, url, url, version))

    # -- describe ------------------------------------------------------------------------------
    def describe_versions(self, request: Request) -> Response:
        return self.json(org.api_versions())

    def describe_resources(self, request: Request, version: str) -> Response:
        return self.json(org.resources(version, org.identity_url(self.ctx.urls["salesforce"])))

    def describe_global_(self, request: Request, version: str) -> Response:
        return self.json(describe_global(version))

    def describe_basic(self, request: Request, version: str, obj: str) -> Response:
        return self.json(describe_basic(version, _object(obj)))

    def describe_object(self, request: Request, version: str, obj: str) -> Response:
        return self.json(describe_object(version, _object(obj)))

    def limits_limits(self, request: Request, version: str) -> Response:
        used = self.api_requests

        def limit(maximum: int, used_: int) -> dict[str, int]:
            return {"Max": maximum, "Remaining": max(0, maximum - used_)}

        return self.json(
            {
                "DailyApiRequests": limit(DAILY_API_REQUESTS, used),
                "DailyBulkApiBatches": limit(15_000, 0),
                "DailyBulkV2QueryJobs": limit(
                    DAILY_BULK_V2_QUERY_JOBS, self.bulk.query_jobs_created
                ),
                "DailyBulkV2QueryFileStorageMB": limit(976_562, 0),
                "DailyAsyncApexExecutions": limit(250_000, 0),
                "DataStorageMB": limit(1024, 0),
                "FileStorageMB": limit(1024, 0),
                "SingleEmail": limit(5_000, 0),
            }
        )

    # -- query ---------------------------------------------------------------------------------
    def query_first(self, request: Request, version: str, all_rows: bool) -> Response:
        soql = request.args.get("q", "").strip()
        explain = request.args.get("explain", "").strip()
        if explain and not soql:
            return self.json(self.queries.explain(explain))
        if not soql:
            raise SfError("MALFORMED_QUERY", "A query string has to be specified")
        if request.args.get("columns", "").lower() == "true":
            return self.json(self.queries.columns(soql))
        batch = parse_batch_size(request.headers.get("Sforce-Query-Options"))
        return self.json(
            self.queries.run(soql, include_deleted=all_rows, batch=batch, version=version)
        )

    def query_more(self, request: Request, version: str, locator: str) -> Response:
        return self.json(self.queries.more(locator, version=version))

    # -- sObject rows --------------------------------------------------------------------------
    def sobjects_create(self, request: Request, version: str, obj: str) -> Response:
        sobject = _object(obj)
        outcome = dml.save(self.ctx.store, [dml.Batch(sobject, "insert", [_json_object(request)])])[
            0
        ]
        if outcome.error:
            raise outcome.error
        return self.json({"id": outcome.id, "success": True, "errors": []}, status=201)

    def sobjects_record(self, request: Request, version: str, obj: str, record_id: str) -> Response:
        sobject = _object(obj)
        normalized = normalize_id(record_id)
        if normalized is None or not normalized.startswith(sobject.key_prefix):
            raise SfError("NOT_FOUND", "The requested resource does not exist", status=404)
        if request.method == "GET":
            return self.json(
                self._fetch_one(sobject, "Id", normalized, version, request.args.get("fields"))
            )
        if request.method == "PATCH":
            record = {**_json_object(request), "Id": normalized}
            self._save_one(dml.Batch(sobject, "update", [record]))
            return self._no_content()
        self._save_one(dml.Batch(sobject, "delete", [{"Id": normalized}]))
        return self._no_content()

    def sobjects_external(
        self, request: Request, version: str, obj: str, ext_field: str, value: str
    ) -> Response:
        sobject = _object(obj)
        fld = find_field(sobject, ext_field)
        if fld is None or not (fld.external_id or fld.name == "Id"):
            raise SfError(
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {ext_field}",
                status=404,
            )
        if request.method == "GET":
            return self.json(
                self._fetch_one(sobject, fld.name, value, version, request.args.get("fields"))
            )
        if request.method == "DELETE":
            matches = self._ids_by_field(sobject, fld.name, value)
            if len(matches) > 1:
                return self._multiple(sobject, matches, version)
            if not matches:
                raise SfError("NOT_FOUND", "The requested resource does not exist", status=404)
            self._save_one(dml.Batch(sobject, "delete", [{"Id": matches[0]}]))
            return self._no_content()
        record = {**_json_object(request), fld.name: value}
        try:
            outcome = self._save_one(dml.Batch(sobject, "upsert", [record], fld.name))
        except dml.MultipleMatches as err:
            return self._multiple(sobject, err.ids, version)
        body = {"id": outcome.id, "success": True, "errors": [], "created": bool(outcome.created)}
        return self.json(body, status=201 if outcome.created else 200)

    def sobjects_deleted(self, request: Request, version: str, obj: str) -> Response:
        sobject = _object(obj)
        start, end = _window(request)
        rows = self._rows(
            f'SELECT "Id", strftime("SystemModstamp", \'%Y-%m-%dT%H:%M:%S.%g+0000\') '
            f'FROM {table_sql(sobject)} WHERE "IsDeleted" AND "SystemModstamp" '
            'BETWEEN ? AND ? ORDER BY "SystemModstamp"',
            [start, end],
        )
        return self.json(
            {
                "deletedRecords": [{"id": i, "deletedDate": d} for i, d in rows],
                "earliestDateAvailable": "2000-01-01T00:00:00.000+0000",
                "latestDateCovered": request.args.get("end"),
            }
        )

    def sobjects_updated(self, request: Request, version: str, obj: str) -> Response:
        sobject = _object(obj)
        start, end = _window(request)
        rows = self._rows(
            f'SELECT "Id" FROM {table_sql(sobject)} WHERE NOT "IsDeleted" AND '
            '"SystemModstamp" BETWEEN ? AND ? ORDER BY "SystemModstamp"',
            [start, end],
        )
        return self.json(
            {"ids": [r[0] for r in rows], "latestDateCovered": request.args.get("end")}
        )

    def _fetch_one(
        self, sobject: SfObject, field_name: str, value: str, version: str, fields: str | None
    ) -> dict[str, Any]:
        selected = fields or ", ".join(sobject.field_names)
        literal = value.replace("\\", "\\\\").replace("'", "\\'")
        soql = f"SELECT {selected} FROM {sobject.name} WHERE {field_name} = '{literal}'"
        page = self.queries.run(soql, include_deleted=False, batch=2000, version=version)
        if not page["records"]:
            raise SfError("NOT_FOUND", "The requested resource does not exist", status=404)
        if len(page["records"]) > 1:
            raise SfError("MULTIPLE_CHOICES", "More than one record found", status=300)
        return page["records"][0]

    def _ids_by_field(self, sobject: SfObject, field_name: str, value: str) -> list[str]:
        return [
            r[0]
            for r in self._rows(
                f'SELECT "Id" FROM {table_sql(sobject)} WHERE NOT "IsDeleted" AND "{field_name}" = ?',
                [value],
            )
        ]

    def _rows(self, sql: str, params: list[Any]) -> list[tuple]:
        con = self.ctx.store.cursor()
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def _multiple(self, sobject: SfObject, ids: list[str], version: str) -> Response:
        return self.json([record_url(version, sobject.name, i) for i in ids], status=300)

    def _save_one(self, batch: dml.Batch) -> dml.Outcome:
        outcome = dml.save(self.ctx.store, [batch])[0]
        if outcome.error:
            raise outcome.error
        return outcome

    # -- composite -----------------------------------------------------------------------------
    def composite_composite(self, request: Request, version: str) -> Response:
        """Several requests in one call (:mod:`o2c_sandbox.salesforce.composite`)."""
        answers = composite.run(self, request, version, _json_object(request))
        return self.json({"compositeResponse": answers})

    # -- composite sObject collections ---------------------------------------------------------
    def composite_collection(self, request: Request, version: str) -> Response:
        if request.method == "DELETE":
            ids = [i for i in request.args.get("ids", "").split(",") if i]
            all_or_none = request.args.get("allOrNone", "false").lower() == "true"
            items: list[tuple[SfObject | SfError, dict[str, Any]]] = []
            for raw in _limited(ids):
                normalized = normalize_id(raw)
                sobject = object_for_id(normalized) if normalized else None
                items.append(
                    (
                        sobject or SfError("MALFORMED_ID", f"malformed id {raw}", ["Id"]),
                        {"Id": normalized or raw},
                    )
                )
            return self.json(self._collection(items, "delete", all_or_none, None, with_ids=True))
        body = _json_object(request)
        records = _limited(body.get("records") or [])
        operation = "insert" if request.method == "POST" else "update"
        items = []
        for record in records:
            declared = (
                (record.get("attributes") or {}).get("type") if isinstance(record, dict) else None
            )
            sobject = find_object(declared) if declared else None
            items.append(
                (
                    sobject or SfError("INVALID_TYPE", "Must send a concrete entity type."),
                    record if isinstance(record, dict) else {},
                )
            )
        return self.json(self._collection(items, operation, bool(body.get("allOrNone")), None))

    def composite_retrieve(self, request: Request, version: str, obj: str) -> Response:
        """sObject Collections retrieve: ``GET ?ids=&fields=`` or ``POST {"ids", "fields"}``;
        records in the order of ``ids``, null where an id matches no record."""
        sobject = _object(obj)
        if request.method == "GET":
            ids = [i for i in request.args.get("ids", "").split(",") if i]
            fields = [f for f in request.args.get("fields", "").split(",") if f]
        else:
            body = _json_object(request)
            ids, fields = body.get("ids") or [], body.get("fields") or []
            if not isinstance(ids, list) or not isinstance(fields, list):
                raise SfError("JSON_PARSER_ERROR", "ids and fields are JSON arrays")
        if not ids:
            raise SfError("MISSING_ARGUMENT", "ids: The ids parameter is required", ["ids"])
        if not fields:
            raise SfError(
                "MISSING_ARGUMENT", "fields: The fields parameter is required", ["fields"]
            )
        if len(ids) > 2000:
            raise SfError("EXCEEDED_ID_LIMIT", "Too many ids: no more than 2000 in one call")
        normalized = [normalize_id(str(i)) for i in ids]
        bad = next((raw for raw, n in zip(ids, normalized, strict=True) if n is None), None)
        if bad is not None:
            raise SfError("MALFORMED_ID", f"malformed id {bad}", ["ids"])
        wanted = sorted({n for n in normalized if n and n.startswith(sobject.key_prefix)})
        found: dict[str, dict[str, Any]] = {}
        if wanted:
            columns = ["Id", *(f for f in fields if f.lower() != "id")]
            soql = (
                f"SELECT {', '.join(columns)} FROM {sobject.name} "
                f"WHERE Id IN ({', '.join(repr(i) for i in wanted)})"
            )
            page = self.queries.run(soql, include_deleted=False, batch=2000, version=version)
            for record in page["records"]:
                found[record["Id"]] = record
        selected = {f.lower() for f in fields}
        records: list[dict[str, Any] | None] = []
        for n in normalized:
            record = found.get(n or "")
            if record is not None and "id" not in selected:
                record = {k: v for k, v in record.items() if k != "Id"}
            records.append(record)
        return self.json(records)

    def composite_upsert(
        self, request: Request, version: str, obj: str, ext_field: str
    ) -> Response:
        sobject = _object(obj)
        body = _json_object(request)
        items = [
            (sobject, r if isinstance(r, dict) else {}) for r in _limited(body.get("records") or [])
        ]
        return self.json(self._collection(items, "upsert", bool(body.get("allOrNone")), ext_field))

    def _collection(
        self,
        items: list[tuple[SfObject | SfError, dict[str, Any]]],
        operation: str,
        all_or_none: bool,
        ext_field: str | None,
        with_ids: bool = False,
    ) -> list[dict]:
        """Group consecutive same-object records into batches; keep input order in the answer."""
        batches: list[dml.Batch] = []
        positions: list[int | SfError] = []
        for target, record in items:
            if isinstance(target, SfError):
                positions.append(target)
                continue
            if not batches or batches[-1].obj is not target:
                batches.append(dml.Batch(target, operation, [], ext_field))
            batches[-1].records.append(record)
            positions.append(0)
        pre_failed = any(isinstance(p, SfError) for p in positions)
        if all_or_none and pre_failed:
            outcomes = [dml.Outcome(error=dml.ROLLED_BACK) for b in batches for _ in b.records]
        else:
            outcomes = dml.save(self.ctx.store, batches, all_or_none=all_or_none)
        results: list[dict[str, Any]] = []
        flow = iter(outcomes)
        for (_, record), position in zip(items, positions, strict=True):
            outcome = dml.Outcome(error=position) if isinstance(position, SfError) else next(flow)
            entry: dict[str, Any] = {}
            if outcome.success:
                entry = {"id": outcome.id, "success": True, "errors": []}
            else:
                assert outcome.error is not None
                if with_ids:
                    entry["id"] = record.get("Id")
                entry.update(
                    success=False,
                    errors=[
                        {
                            "statusCode": outcome.error.code,
                            "message": outcome.error.message,
                            "fields": outcome.error.fields,
                        }
                    ],
                )
            if operation == "upsert" and outcome.success:
                entry["created"] = bool(outcome.created)
            results.append(entry)
        return results

    # -- Bulk API 1.0 --------------------------------------------------------------------------
    def _bulk1_answer(self, tag: str, values: Any, as_json: bool, status: int = 200) -> Response:
        data, content_type = to_wire(tag, values, as_json)
        return self._limit_info(Response(data, status=status, content_type=content_type))

    def bulk1_create_job(self, request: Request, version: str) -> Response:
        job = self.bulk1.create_job(
            request.get_data(),
            request.content_type,
            version,
            request.headers.get("Sforce-Enable-PKChunking"),
        )
        return self._bulk1_answer("jobInfo", job.info(), job.as_json, status=201)

    def bulk1_job(self, request: Request, version: str, job_id: str) -> Response:
        if request.method == "POST":
            job = self.bulk1.update_job(job_id, request.get_data(), request.content_type)
        else:
            job = self.bulk1.job(job_id, wants_json(request.content_type))
        return self._bulk1_answer("jobInfo", job.info(), job.as_json)

    def bulk1_batches(self, request: Request, version: str, job_id: str) -> Response:
        if request.method == "POST":
            info = self.bulk1.add_batch(job_id, request.get_data(), request.content_type)
            job = self.bulk1.job(job_id, False)
            return self._bulk1_answer("batchInfo", info, job.as_json, status=201)
        job = self.bulk1.job(job_id, wants_json(request.content_type))
        infos = [b.info() for b in job.batches.values()]
        body: Any = {"batchInfo": infos}
        return self._bulk1_answer("batchInfoList", body, job.as_json)

    def bulk1_batch(self, request: Request, version: str, job_id: str, batch_id: str) -> Response:
        batch = self.bulk1.batch(job_id, batch_id)
        return self._bulk1_answer("batchInfo", batch.info(), batch.job.as_json)

    def bulk1_request(self, request: Request, version: str, job_id: str, batch_id: str) -> Response:
        batch = self.bulk1.batch(job_id, batch_id)
        kind = {"JSON": "application/json"}.get(batch.job.content_type, "text/csv")
        if batch.job.operation in ("query", "queryAll"):
            kind = "text/plain"
        return self._limit_info(Response(batch.request, content_type=kind))

    def bulk1_result(self, request: Request, version: str, job_id: str, batch_id: str) -> Response:
        data, content_type = self.bulk1.batch_result(job_id, batch_id)
        return self._limit_info(Response(data, content_type=content_type))

    def bulk1_query_result(
        self, request: Request, version: str, job_id: str, batch_id: str, result_id: str
    ) -> Response:
        data, content_type = self.bulk1.query_result(job_id, batch_id, result_id)
        return self._limit_info(Response(data, content_type=content_type))

    # -- Bulk API 2.0 --------------------------------------------------------------------------
    def bulk2_query_jobs(self, request: Request, version: str) -> Response:
        if request.method == "GET":
            return self.json(
                {"done": True, "records": self.bulk.list_jobs("query"), "nextRecordsUrl": None}
            )
        return self.json(self.bulk.create("query", _json_object(request), version).info())

    def bulk2_ingest_jobs(self, request: Request, version: str) -> Response:
        if request.method == "GET":
            return self.json(
                {"done": True, "records": self.bulk.list_jobs("ingest"), "nextRecordsUrl": None}
            )
        return self.json(self.bulk.create("ingest", _json_object(request), version).info())

    def bulk2_query_job(self, request: Request, version: str, job_id: str) -> Response:
        return self._job(request, "query", job_id)

    def bulk2_ingest_job(self, request: Request, version: str, job_id: str) -> Response:
        return self._job(request, "ingest", job_id)

    def _job(self, request: Request, kind: str, job_id: str) -> Response:
        if request.method == "DELETE":
            self.bulk.delete(kind, job_id)
            return self._no_content()
        if request.method == "PATCH":
            state = _json_object(request).get("state", "")
            return self.json(self.bulk.set_state(kind, job_id, state).info())
        return self.json(self.bulk.get(kind, job_id).info())

    def bulk2_query_results(self, request: Request, version: str, job_id: str) -> Response:
        max_records = request.args.get("maxRecords", type=int)
        body, count, locator = self.bulk.results(
            job_id, request.args.get("locator"), max_records, version
        )
        return self._csv(body, {"Sforce-NumberOfRecords": str(count), "Sforce-Locator": locator})

    def bulk2_ingest_upload(self, request: Request, version: str, job_id: str) -> Response:
        self.bulk.upload(job_id, request.get_data())
        return self._limit_info(Response(status=201))

    def bulk2_ingest_results(
        self, request: Request, version: str, job_id: str, which: str
    ) -> Response:
        kind = "unprocessedRecords" if which.lower() == "unprocessedrecords" else which
        return self._csv(self.bulk.ingest_results(job_id, kind))


# -- helpers -----------------------------------------------------------------------------------
def _invalid_session() -> ApiError:
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def _object(name: str) -> SfObject:
    obj = find_object(name)
    if obj is None:
        raise SfError(
            "NOT_FOUND",
            f"The requested resource does not exist (sObject type '{name}' is not supported)",
            status=404,
        )
    return obj


def _json_object(request: Request) -> dict[str, Any]:
    data = request.get_data()
    if not data:
        return {}
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise SfError("JSON_PARSER_ERROR", f"Unexpected character in request body: {exc}") from exc
    if not isinstance(body, dict):
        raise SfError("JSON_PARSER_ERROR", "Expected a JSON object")
    return body


def _limited(items: list[Any]) -> list[Any]:
    if len(items) > COLLECTION_LIMIT:
        raise SfError(
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than "
            f"{COLLECTION_LIMIT} records into this call",
        )
    return items


def _window(request: Request) -> tuple[Any, Any]:
    try:
        return parse_datetime(request.args["start"]), parse_datetime(request.args["end"])
    except (KeyError, ValueError) as exc:
        raise SfError(
            "INVALID_REPLICATION_DATE", "start and end must be ISO-8601 datetimes"
        ) from exc
