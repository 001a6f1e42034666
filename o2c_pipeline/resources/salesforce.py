"""Salesforce through simple-salesforce 1.12: OAuth login against a configurable login URL,
REST queries, Bulk API 2.0 queries and ingest, composite sObject collections.

simple-salesforce hard-codes its login hosts to ``*.salesforce.com``, so this resource obtains the
access token itself (JWT bearer, client credentials or password grant, as the org's connected app
allows) and hands it to ``Salesforce(instance_url=..., session_id=..., session=...)``. The token is
cached process-wide per (login URL, flow, client, user), so every resource instance and thread in
a process shares one login; an expired session (401 ``INVALID_SESSION_ID``) triggers one re-login,
shared by all threads that saw the same stale token, and the call is repeated at once.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import dagster as dg
import jwt
import pyarrow as pa
import pyarrow.csv as pa_csv
import requests
from pydantic import Field, PrivateAttr
from simple_salesforce import Salesforce
from simple_salesforce.bulk2 import JobState, Operation, _Bulk2Client
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceOperationError,
)

from o2c_pipeline.resources.http import CallCounter, build_session
from o2c_pipeline.resources.retry import RetryPolicy, is_network_error
from o2c_pipeline.resources.secrets import (
    MASK,
    SecretFieldsReprMixin,
    install_log_scrubbing,
    register_secrets,
    scrub,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

AUTH_FLOWS = ("jwt", "client_credentials", "password")
COMPOSITE_BATCH = 200  # Salesforce's per-call limit for sObject collections
BULK_NULL = "#N/A"  # Bulk API 2.0's way of saying "set this field to null"
TRANSIENT_CODES = frozenset(
    {"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "UNEXPECTED_ERROR"}
)
JWT_LIFETIME_S = 180


class SalesforceApiError(Exception):
    """An error answer from Salesforce (or a network failure after all retries), secrets removed.

    ``transient`` says whether trying again later may succeed; the resource already retried.
    """

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
        self.status = status
        self.error_code = error_code
        self.message = scrub(message)
        self.fields = fields or []
        self.transient = transient
        self.retry_after_s = retry_after_s
        super().__init__(f"Salesforce {status} {error_code}: {self.message}")


class SalesforceAuthError(SalesforceApiError):
    """The token endpoint refused the credentials (bad client id/secret, key, user or password)."""


class _SessionExpired(Exception):
    """Internal signal: the session was renewed, repeat the call now."""

    transient = True
    retry_after_s = 0.0


@dataclass(frozen=True)
class _Token:
    access_token: str = field(repr=False)
    instance_url: str

    def __repr__(self) -> str:
        return f"_Token(access_token={MASK}, instance_url={self.instance_url!r})"


class _TokenCache:
    """Process-wide access tokens, so parallel resources and threads share one login."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], _Token] = {}
        self._key_locks: dict[tuple[str, ...], threading.Lock] = {}

    def _key_lock(self, key: tuple[str, ...]) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def get(self, key: tuple[str, ...], login: Callable[[], _Token]) -> _Token:
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


_TOKENS = _TokenCache()


class _Runtime:
    """Per-instance live state: the HTTP session, its call counter and the current client."""

    def __init__(self, session: requests.Session, counter: CallCounter) -> None:
        self.lock = threading.Lock()
        self.session = session
        self.counter = counter
        self.client: Salesforce | None = None
        self.client_token: _Token | None = None


_RUNTIME_LOCK = threading.Lock()


class SalesforceResource(SecretFieldsReprMixin, dg.ConfigurableResource):
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
    ca_bundle: str | None = Field(default=None, description="CA bundle for TLS verification.")
    connect_timeout_s: float = Field(default=10.0, description="TCP/TLS connect timeout.")
    read_timeout_s: float = Field(
        default=130.0,
        description=(
            "Longest wait for the server's next bytes. Salesforce ends a REST/SOAP query that runs "
            "past 120 s with its own QUERY_TIMEOUT error, which 130 s lets arrive; Bulk API 2.0 "
            "status polls and result pages answer well within it."
        ),
    )
    max_retries: int = Field(default=5, description="Retries of a transient failure.")
    backoff_initial_s: float = Field(default=0.5, description="First back-off ceiling.")
    backoff_max_s: float = Field(default=30.0, description="Largest back-off.")
    bulk_threshold_rows: int = Field(default=50_000, description="REST below, Bulk 2.0 above.")
    bulk_poll_interval_s: float = Field(default=2.0, description="Bulk 2.0 job polling interval.")
    bulk_ingest_batch_rows: int = Field(
        default=100_000, description="Rows per Bulk 2.0 ingest job."
    )
    pool_size: int = Field(default=16, description="HTTP connections kept per host.")

    _runtime_state: _Runtime | None = PrivateAttr(default=None)

    # -- plumbing --------------------------------------------------------------------------------
    def _runtime(self) -> _Runtime:
        if self._runtime_state is None:
            with _RUNTIME_LOCK:
                if self._runtime_state is None:
                    self._validate()
                    install_log_scrubbing()
                    register_secrets([self.client_secret, self.password, self.private_key])
                    counter = CallCounter()
                    session = build_session(
                        ca_bundle=self.ca_bundle,
                        counter=counter,
                        connect_timeout_s=self.connect_timeout_s,
                        read_timeout_s=self.read_timeout_s,
                        pool_size=self.pool_size,
                    )
                    self._runtime_state = _Runtime(session, counter)
        return self._runtime_state

    def _validate(self) -> None:
        if self.auth_flow not in AUTH_FLOWS:
            raise ValueError(
                f"auth_flow must be one of {', '.join(AUTH_FLOWS)}, not {self.auth_flow!r}"
            )
        needed = {
            "jwt": ("username",),
            "client_credentials": ("client_secret",),
            "password": ("client_secret", "username", "password"),
        }[self.auth_flow]
        missing = [name for name in needed if not getattr(self, name)]
        if self.auth_flow == "jwt" and not (self.private_key or self.private_key_file):
            missing.append("private_key_file")
        if missing:
            raise ValueError(f"Salesforce auth_flow {self.auth_flow!r} needs {', '.join(missing)}")
        if self.api_version.startswith("v"):
            raise ValueError(f"api_version is a bare number like 62.0, not {self.api_version!r}")

    @property
    def api_calls(self) -> int:
        """API requests this instance sent, retries included; logins are ``auth_calls``."""
        return self._runtime().counter.value

    @property
    def auth_calls(self) -> int:
        """Requests to the OAuth token endpoint (not counted against the org's API limits)."""
        return self._runtime().counter.auth_value

    @property
    def _token_key(self) -> tuple[str, ...]:
        """Who the token belongs to; credentials enter only as a digest, so instances with
        different secrets never share a token and the cache holds no secret."""
        fingerprint = hashlib.sha256(
            "\0".join(
                v or ""
                for v in (
                    self.client_secret,
                    self.password,
                    self.private_key,
                    self.private_key_file,
                )
            ).encode()
        ).hexdigest()
        return (
            self.login_url.rstrip("/"),
            self.auth_flow,
            self.client_id,
            self.username or "",
            fingerprint,
        )

    def _retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_retries, self.backoff_initial_s, self.backoff_max_s)

    # -- login -----------------------------------------------------------------------------------
    def _login(self) -> _Token:
        """One OAuth token request, retried on transient failures."""
        runtime = self._runtime()
        url = f"{self.login_url.rstrip('/')}/services/oauth2/token"
        data, headers = self._grant()

        def attempt() -> _Token:
            response = runtime.session.post(url, data=data, headers=headers)
            if response.status_code == 200:
                body = response.json()
                if not body.get("access_token") or not body.get("instance_url"):
                    raise SalesforceAuthError(
                        200,
                        "INVALID_TOKEN_RESPONSE",
                        "token response lacks access_token or instance_url",
                    )
                register_secrets([body["access_token"]])
                return _Token(body["access_token"], body["instance_url"].rstrip("/"))
            raise _token_error(response)

        token = self._retry_policy().call(
            attempt,
            is_transient=lambda exc: _is_transient(exc, idempotent=True),
            describe=f"Salesforce login ({self.auth_flow})",
        )
        log.info("Salesforce: logged in (%s flow) to %s", self.auth_flow, token.instance_url)
        return token

    def _grant(self) -> tuple[dict[str, str], dict[str, str]]:
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
        assert self.private_key_file is not None  # _validate checked
        try:
            with open(self.private_key_file, encoding="utf-8") as handle:
                return handle.read()
        except OSError as exc:
            raise ValueError(
                f"cannot read the Salesforce private key file {self.private_key_file}: {exc.strerror}"
            ) from None

    def client(self) -> Salesforce:
        """A simple-salesforce client on the current session (logging in if needed)."""
        runtime = self._runtime()
        token = _TOKENS.get(self._token_key, self._login)
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
                _TOKENS.invalidate(self._token_key, sf.session_id)
                raise _SessionExpired() from None
            except SalesforceError as exc:
                raise _api_error(exc) from None

        try:
            return self._retry_policy().call(
                attempt,
                is_transient=lambda exc: _is_transient(exc, idempotent=idempotent),
                describe=f"Salesforce {describe}",
            )
        except SalesforceApiError:
            raise
        except _SessionExpired:
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

    def count(self, sobject: str, where: str = "", *, include_deleted: bool = False) -> int:
        """``SELECT COUNT() FROM sobject [WHERE where]`` — one call, no rows transferred."""
        soql = f"SELECT COUNT() FROM {sobject}" + (f" WHERE {where}" if where else "")
        page = self._call("count", lambda sf: sf.query(soql, include_deleted=include_deleted))
        return int(page["totalSize"])

    # -- Bulk API 2.0 ----------------------------------------------------------------------------
    def _bulk2(self, sf: Salesforce, sobject: str = "") -> _Bulk2Client:
        """The library's Bulk 2.0 client, used step by step (create, poll, page) rather than
        through its all-in-one generators, so a transient failure on one results page is retried
        alone instead of restarting the job or silently ending the stream."""
        return _Bulk2Client(sobject, sf.bulk2_url, dict(sf.headers), sf.session)

    def bulk_query_frames(
        self, soql: str, *, include_deleted: bool = False, max_records: int = 50_000
    ) -> Iterator[pa.Table]:
        """Run a Bulk 2.0 query job (``queryAll`` when ``include_deleted``) and yield its
        results pages as Arrow tables, every column a nullable string."""
        operation = Operation.query_all if include_deleted else Operation.query
        job = self._call(
            "bulk2 create query job", lambda sf: self._bulk2(sf).create_job(operation, soql)
        )
        job_id = job["id"]
        self._call(
            "bulk2 wait for query job",
            lambda sf: self._bulk2(sf).wait_for_job(job_id, True, self.bulk_poll_interval_s),
        )
        locator = ""
        while True:
            page = self._call(
                "bulk2 query results",
                lambda sf, loc=locator: self._bulk2(sf).get_query_results(job_id, loc, max_records),
            )
            if page["number_of_records"]:
                yield csv_to_table(page["records"])
            locator = page["locator"]
            if not locator:
                return

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
            ok, failed = self._bulk_ingest(Operation.upsert, sobject, chunk, external_id_field)
            successes += ok
            failures += failed
        return successes, failures

    def _bulk_ingest(
        self,
        operation: Operation,
        sobject: str,
        records: list[dict[str, Any]],
        external_id_field: str,
    ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        data = records_to_csv(records)
        job = self._call(
            f"bulk2 create {operation.value} job",
            lambda sf: self._bulk2(sf, sobject).create_job(
                operation, external_id_field=external_id_field
            ),
        )
        job_id = job["id"]
        try:
            if job.get("state") != JobState.open:
                raise SalesforceApiError(
                    0, "BULK_JOB_NOT_OPEN", f"new ingest job is {job.get('state')}"
                )
            self._call(
                "bulk2 upload", lambda sf: self._bulk2(sf, sobject).upload_job_data(job_id, data)
            )
            self._call("bulk2 close job", lambda sf: self._bulk2(sf, sobject).close_job(job_id))
            self._call(
                "bulk2 wait for ingest job",
                lambda sf: self._bulk2(sf, sobject).wait_for_job(
                    job_id, False, self.bulk_poll_interval_s
                ),
            )
        except Exception:
            self._abort_quietly(job_id, sobject)
            raise

        def results(kind: str) -> list[dict[str, str]]:
            text = self._call(
                f"bulk2 {kind}",
                lambda sf: self._bulk2(sf, sobject).get_ingest_results(job_id, kind),
            )
            return list(csv.DictReader(io.StringIO(text)))

        unprocessed = [
            {**row, "sf__Error": "UNPROCESSED: the job ended before this row was processed"}
            for row in results("unprocessedrecords")
        ]
        return results("successfulResults"), results("failedResults") + unprocessed

    def _abort_quietly(self, job_id: str, sobject: str) -> None:
        try:
            self._call(
                "bulk2 abort job", lambda sf: self._bulk2(sf, sobject).abort_job(job_id, False)
            )
        except SalesforceApiError as exc:  # the job may already be finished; the cause matters more
            log.warning("Salesforce: could not abort bulk job %s: %s", job_id, exc)

    # -- composite sObject collections -----------------------------------------------------------
    def composite_create(
        self,
        records: list[dict[str, Any]],
        *,
        sobject: str | None = None,
        all_or_none: bool = False,
    ) -> list[dict[str, Any]]:
        """Insert in chunks of 200 (``POST composite/sobjects``); results in input order.
        Not retried after an ambiguous network failure, since a repeat could duplicate rows."""
        return self._composite(
            "POST", "composite/sobjects", records, sobject, all_or_none, idempotent=False
        )

    def composite_update(
        self,
        records: list[dict[str, Any]],
        *,
        sobject: str | None = None,
        all_or_none: bool = False,
    ) -> list[dict[str, Any]]:
        """Update by ``Id`` in chunks of 200 (``PATCH composite/sobjects``)."""
        return self._composite("PATCH", "composite/sobjects", records, sobject, all_or_none)

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
        typed = [_with_type(record, sobject) for record in records]
        results: list[dict[str, Any]] = []
        for start in range(0, len(typed), COMPOSITE_BATCH):
            chunk = typed[start : start + COMPOSITE_BATCH]
            results += self._composite_chunk(method, path, chunk, all_or_none, idempotent)
        return results

    def _composite_chunk(
        self,
        method: str,
        path: str,
        chunk: list[dict[str, Any]],
        all_or_none: bool,
        idempotent: bool,
    ) -> list[dict[str, Any]]:
        """One collection call, re-sending records that failed only because a row was locked
        (``UNABLE_TO_LOCK_ROW``), with back-off, until they succeed or retries run out."""
        results: list[dict[str, Any] | None] = [None] * len(chunk)
        pending = list(range(len(chunk)))
        policy = self._retry_policy()
        for attempt in range(policy.max_retries + 1):
            body = {"allOrNone": all_or_none, "records": [chunk[i] for i in pending]}
            answer = (
                self._call(
                    f"{method} {path}",
                    lambda sf, b=body: sf.restful(path, method=method, json=b),
                    idempotent=idempotent,
                )
                or []
            )
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


def csv_to_table(text: str) -> pa.Table:
    """A Bulk 2.0 CSV page as an Arrow table of nullable strings (empty means null)."""
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
    return pa_csv.read_csv(
        io.BytesIO(text.encode("utf-8")),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )


def records_to_csv(records: Iterable[dict[str, Any]]) -> str:
    """Records as Bulk 2.0 ingest CSV: columns in first-seen order, ``None`` as ``#N/A``."""
    rows = list(records)
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n", restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (BULK_NULL if v is None else _csv_value(v)) for k, v in row.items()})
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _api_error(exc: SalesforceError) -> SalesforceApiError:
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
        retry_after_s=None,
    )


def _token_error(response: requests.Response) -> SalesforceApiError:
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


def _is_transient(exc: BaseException, *, idempotent: bool) -> bool:
    if isinstance(exc, SalesforceApiError | _SessionExpired):
        return bool(exc.transient)
    return is_network_error(exc, idempotent=idempotent)
