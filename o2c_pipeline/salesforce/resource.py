"""Salesforce through simple-salesforce 1.12: REST queries, Bulk API 2.0 queries and ingest,
composite sObject collections, with login, retries and call counting.

The access token comes from :mod:`o2c_pipeline.salesforce.auth` (simple-salesforce cannot log in
against a configurable login URL) and is shared process-wide; an expired session (401
``INVALID_SESSION_ID``) triggers one re-login, shared by all threads that saw the same stale
token, and the call is repeated at once.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote_plus

import pyarrow as pa
import requests
from pydantic import Field
from simple_salesforce import Salesforce
from simple_salesforce.bulk2 import Operation
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceOperationError,
)

from o2c_pipeline.resources.api_client import ApiClientResource
from o2c_pipeline.resources.http import CallCounter
from o2c_pipeline.resources.tokens import TOKENS
from o2c_pipeline.salesforce.auth import Credentials, Token
from o2c_pipeline.salesforce.bulk import Bulk2Jobs
from o2c_pipeline.salesforce.errors import (
    SalesforceApiError,
    SessionExpired,
    api_error,
    is_transient,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

COMPOSITE_BATCH = 200  # Salesforce's per-call limit for sObject collections
COMPOSITE_QUERIES = 5  # query subrequests per Composite call (of its 25 subrequests)


class _Runtime:
    """Per-instance live state: the HTTP session, its call counter and the current client."""

    def __init__(self, session: requests.Session, counter: CallCounter) -> None:
        self.lock = threading.Lock()
        self.session = session
        self.counter = counter
        self.client: Salesforce | None = None
        self.client_token: Token | None = None


def _collection_call(method: str, doc: str, *, idempotent: bool = True) -> Callable[..., Any]:
    """A ``composite/sobjects`` call by ``method`` (records carry ``attributes.type``, or
    ``sobject`` adds it); create and update differ in nothing else."""

    def call(
        self: SalesforceResource,
        records: list[dict[str, Any]],
        *,
        sobject: str | None = None,
        all_or_none: bool = False,
    ) -> list[dict[str, Any]]:
        return self._composite(
            method, "composite/sobjects", records, sobject, all_or_none, idempotent=idempotent
        )

    call.__doc__ = doc
    return call


class SalesforceResource(ApiClientResource):
    """Salesforce REST, Bulk 2.0 and composite APIs with login, retries and call counting."""

    secret_fields: ClassVar[frozenset[str]] = frozenset(
        {"client_secret", "password", "private_key"}
    )

    login_url: str = Field(
        default="https://login.salesforce.com",
        description="OAuth host: https://login.salesforce.com, https://test.salesforce.com or My Domain.",
    )
    auth_flow: str = Field(default="jwt", description="jwt | client_credentials | password")
    client_id: str = Field(description="Connected app consumer key.")
    client_secret: str | None = Field(default=None, description="Consumer secret (not for jwt).")
    username: str | None = Field(default=None, description="Integration user (jwt, password).")
    password: str | None = Field(default=None, description="Password + security token (password).")
    private_key_file: str | None = Field(default=None, description="PEM key for the JWT flow.")
    private_key: str | None = Field(default=None, description="PEM key text, instead of a file.")
    jwt_audience: str | None = Field(default=None, description="JWT aud claim; default login_url.")
    api_version: str = Field(default="62.0", description="Pinned REST API version, e.g. 62.0.")
    read_timeout_s: float = Field(
        default=130.0,
        description=(
            "Longest wait for the server's next bytes. Salesforce ends a REST/SOAP query that runs "
            "past 120 s with its own QUERY_TIMEOUT error, which 130 s lets arrive; Bulk API 2.0 "
            "status polls and result pages answer well within it."
        ),
    )
    max_retries: int = Field(default=5, description="Retries of a transient failure.")
    bulk_threshold_rows: int = Field(default=50_000, description="REST below, Bulk 2.0 above.")
    bulk_poll_interval_s: float = Field(default=2.0, description="Bulk 2.0 job polling interval.")
    bulk_ingest_batch_rows: int = Field(
        default=100_000, description="Rows per Bulk 2.0 ingest job."
    )
    pool_size: int = Field(default=16, description="HTTP connections kept per host.")

    # -- plumbing --------------------------------------------------------------------------------
    def _pool_size(self) -> int:
        return self.pool_size

    def _start(self, session: requests.Session, counter: CallCounter) -> _Runtime:
        return _Runtime(session, counter)

    def _validate(self) -> None:
        problems = self.credentials().problems()
        if problems:
            raise ValueError(problems[0])
        if self.api_version.startswith("v"):
            raise ValueError(f"api_version is a bare number like 62.0, not {self.api_version!r}")

    def credentials(self) -> Credentials:
        """What a login needs: the fields of the same names."""
        return Credentials(
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(Credentials)}
        )

    @property
    def call_counter(self) -> CallCounter:
        """The counter of every request this instance sends (see ``SOURCE_TALLY``)."""
        return self._runtime().counter

    def client(self) -> Salesforce:
        """A simple-salesforce client on the current session (logging in if needed)."""
        runtime = self._runtime()
        credentials = self.credentials()
        token = TOKENS.get(
            credentials.cache_key, lambda: credentials.login(runtime.session, self._retry_policy())
        )
        with runtime.lock:
            if runtime.client is None or runtime.client_token is not token:
                runtime.client = Salesforce(
                    instance_url=token.instance_url,
                    session_id=token.access_token,
                    session=runtime.session,
                    version=self.api_version,
                )
                runtime.client_token = token
            return runtime.client

    def _call(
        self, describe: str, operation: Callable[[Salesforce], T], *, idempotent: bool = True
    ) -> T:
        """Run ``operation`` against the client with re-login and retries; errors become
        :class:`SalesforceApiError` without secrets."""

        def attempt() -> T:
            sf = self.client()
            try:
                return operation(sf)
            except SalesforceExpiredSession:
                log.info("Salesforce: session expired during %s; logging in again", describe)
                TOKENS.invalidate(self.credentials().cache_key, sf.session_id)
                raise SessionExpired() from None
            except SalesforceError as exc:
                raise api_error(exc) from None

        try:
            return self._retry_policy().call(
                attempt,
                is_transient=lambda exc: is_transient(exc, idempotent=idempotent),
                describe=f"Salesforce {describe}",
            )
        except SalesforceApiError:
            raise
        except SessionExpired:
            raise SalesforceApiError(
                401, "INVALID_SESSION_ID", f"{describe}: session kept expiring after re-login"
            ) from None
        except SalesforceOperationError as exc:
            raise SalesforceApiError(0, "BULK_JOB_FAILED", f"{describe}: {exc}") from None
        except requests.RequestException as exc:
            raise SalesforceApiError(
                0, type(exc).__name__, f"{describe}: {exc}", transient=True
            ) from None

    # -- REST queries ----------------------------------------------------------------------------
    def query_pages(
        self, soql: str, *, include_deleted: bool = False, batch_size: int | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of records (``attributes`` removed, relationship dicts kept) following
        ``nextRecordsUrl``; ``include_deleted`` uses ``queryAll`` so deleted rows come too."""
        options = (
            {"headers": {"Sforce-Query-Options": f"batchSize={batch_size}"}} if batch_size else {}
        )
        page = self._call(
            "query", lambda sf: sf.query(soql, include_deleted=include_deleted, **options)
        )
        while True:
            if page["records"]:
                yield [_strip_attributes(record) for record in page["records"]]
            if page.get("done", True):
                return
            next_url = page["nextRecordsUrl"]
            page = self._call(
                "query_more",
                lambda sf, url=next_url: sf.query_more(url, identifier_is_url=True, **options),
            )

    def composite_queries(
        self, soqls: list[str], *, include_deleted: bool = False
    ) -> list[dict[str, Any] | None]:
        """The first page of each query (``queryAll`` when ``include_deleted``), five to a
        ``POST composite`` call (Salesforce's limit of query subrequests; the call counts once
        toward the API limits); ``None`` for a query Salesforce refused, logged."""
        resource = "queryAll" if include_deleted else "query"
        pages: list[dict[str, Any] | None] = []
        for start in range(0, len(soqls), COMPOSITE_QUERIES):
            chunk = soqls[start : start + COMPOSITE_QUERIES]

            def send(sf: Salesforce, chunk: list[str] = chunk) -> Any:
                base = f"/services/data/v{sf.sf_version}/{resource}/?q="
                body = {
                    "compositeRequest": [
                        {"method": "GET", "url": base + quote_plus(q), "referenceId": f"q{i}"}
                        for i, q in enumerate(chunk)
                    ]
                }
                return sf.restful("composite", method="POST", json=body)

            answer = self._call("composite queries", send)["compositeResponse"]
            for result in answer:
                if result.get("httpStatusCode") == 200:
                    body = result["body"]
                    pages.append(
                        {**body, "records": [_strip_attributes(r) for r in body["records"]]}
                    )
                else:
                    log.warning("Salesforce refused a composite query: %s", result.get("body"))
                    pages.append(None)
        return pages

    def ping(self) -> None:
        """Log in and make one cheap call (the pinned API version's resource list): proves the
        host, the credentials and the version."""
        self._call("the version's resources", lambda sf: sf.restful(""))

    def describe(self, sobject: str) -> dict[str, Any]:
        """``sobjects/<sobject>/describe``: the object's fields with their types (one call)."""
        return self._call("describe", lambda sf: sf.restful(f"sobjects/{sobject}/describe"))

    def count(self, sobject: str, where: str = "", *, include_deleted: bool = False) -> int:
        """``SELECT COUNT() FROM sobject [WHERE where]`` — one call, no rows transferred."""
        soql = f"SELECT COUNT() FROM {sobject}" + (f" WHERE {where}" if where else "")
        page = self._call("count", lambda sf: sf.query(soql, include_deleted=include_deleted))
        return int(page["totalSize"])

    # -- Bulk API 2.0 ----------------------------------------------------------------------------
    def _bulk(self) -> Bulk2Jobs:
        return Bulk2Jobs(self._call, self.bulk_poll_interval_s)

    def bulk_query_frames(
        self, soql: str, *, include_deleted: bool = False, max_records: int = 50_000
    ) -> Iterator[pa.Table]:
        """Run a Bulk 2.0 query job (``queryAll`` when ``include_deleted``) and yield its
        results pages as Arrow tables, every column a nullable string."""
        return self._bulk().query_frames(
            soql, include_deleted=include_deleted, max_records=max_records
        )

    def bulk_upsert(
        self, sobject: str, external_id_field: str, records: list[dict[str, Any]]
    ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        """Upsert through Bulk 2.0 ingest jobs; returns (successes, failures) as the job's result
        rows (``sf__Id``/``sf__Created`` resp. ``sf__Error`` plus the submitted columns).
        Unprocessed rows count as failures. ``None`` values clear the field."""
        successes: list[dict[str, str]] = []
        failures: list[dict[str, str]] = []
        for start in range(0, len(records), self.bulk_ingest_batch_rows):
            chunk = records[start : start + self.bulk_ingest_batch_rows]
            ok, failed = self._bulk().ingest(Operation.upsert, sobject, chunk, external_id_field)
            successes += ok
            failures += failed
        return successes, failures

    # -- composite sObject collections -----------------------------------------------------------
    composite_create = _collection_call(
        "POST",
        """Insert in chunks of 200 (``POST composite/sobjects``); results in input order.
        Not retried after an ambiguous network failure, since a repeat could duplicate rows.""",
        idempotent=False,
    )
    composite_update = _collection_call(
        "PATCH", """Update by ``Id`` in chunks of 200 (``PATCH composite/sobjects``)."""
    )

    def composite_upsert(
        self,
        sobject: str,
        external_id_field: str,
        records: list[dict[str, Any]],
        *,
        all_or_none: bool = False,
    ) -> list[dict[str, Any]]:
        """Upsert by external id in chunks of 200 (``PATCH composite/sobjects/{obj}/{field}``);
        each result carries ``id``, ``success``, ``created`` and ``errors``."""
        return self._composite(
            "PATCH",
            f"composite/sobjects/{sobject}/{external_id_field}",
            records,
            sobject,
            all_or_none,
        )

    def composite_delete(
        self, ids: list[str], *, all_or_none: bool = False
    ) -> list[dict[str, Any]]:
        """Delete by id in chunks of 200 (``DELETE composite/sobjects?ids=...``)."""
        results: list[dict[str, Any]] = []
        for start in range(0, len(ids), COMPOSITE_BATCH):
            chunk = ids[start : start + COMPOSITE_BATCH]
            params = {"ids": ",".join(chunk), "allOrNone": str(all_or_none).lower()}
            results += (
                self._call(
                    "composite delete",
                    lambda sf, p=params: sf.restful(
                        "composite/sobjects", params=p, method="DELETE"
                    ),
                )
                or []
            )
        return results

    def _composite(
        self,
        method: str,
        path: str,
        records: list[dict[str, Any]],
        sobject: str | None,
        all_or_none: bool,
        *,
        idempotent: bool = True,
    ) -> list[dict[str, Any]]:
        def send(body: dict[str, Any]) -> list[dict[str, Any]]:
            return (
                self._call(
                    f"{method} {path}",
                    lambda sf: sf.restful(path, method=method, json=body),
                    idempotent=idempotent,
                )
                or []
            )

        typed = [_with_type(record, sobject) for record in records]
        results: list[dict[str, Any]] = []
        for start in range(0, len(typed), COMPOSITE_BATCH):
            chunk = typed[start : start + COMPOSITE_BATCH]
            results += self._locked_rows_resent(send, chunk, all_or_none, path)
        return results

    def _locked_rows_resent(
        self, send: Callable[[dict], list], chunk: list[dict], all_or_none: bool, path: str
    ) -> list[dict[str, Any]]:
        """One collection call, re-sending records that failed only because a row was locked
        (``UNABLE_TO_LOCK_ROW``), with back-off, until they succeed or retries run out."""
        results: list[dict[str, Any] | None] = [None] * len(chunk)
        pending = list(range(len(chunk)))
        policy = self._retry_policy()
        for attempt in range(policy.max_retries + 1):
            answer = send({"allOrNone": all_or_none, "records": [chunk[i] for i in pending]})
            if len(answer) != len(pending):
                raise SalesforceApiError(
                    0,
                    "UNEXPECTED_RESPONSE",
                    f"{path}: {len(answer)} results for {len(pending)} records",
                )
            locked = []
            for index, result in zip(pending, answer, strict=True):
                results[index] = result
                if _locked(result):
                    locked.append(index)
            if not locked or attempt == policy.max_retries:
                break
            if all_or_none:  # the whole chunk was rolled back: send all of it again
                locked = pending
            log.warning(
                "Salesforce %s: %d record(s) hit UNABLE_TO_LOCK_ROW; retrying", path, len(locked)
            )
            time.sleep(
                random.uniform(0, min(policy.max_backoff_s, policy.initial_backoff_s * 2**attempt))
            )
            pending = locked
        return [result or {} for result in results]


# -- helpers -----------------------------------------------------------------------------------


def _strip_attributes(record: dict[str, Any]) -> dict[str, Any]:
    """A REST record without the ``attributes`` envelopes (also in relationship sub-records)."""
    out = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, dict):
            value = _strip_attributes(value)
        elif isinstance(value, list):
            value = [_strip_attributes(v) if isinstance(v, dict) else v for v in value]
        out[key] = value
    return out


def _with_type(record: dict[str, Any], sobject: str | None) -> dict[str, Any]:
    if "attributes" in record:
        return record
    if not sobject:
        raise ValueError("composite records need attributes.type or the sobject argument")
    return {"attributes": {"type": sobject}, **record}


def _locked(result: dict[str, Any]) -> bool:
    return not result.get("success") and any(
        error.get("statusCode") == "UNABLE_TO_LOCK_ROW" for error in result.get("errors") or []
    )
