"""NetSuite SuiteTalk REST (record API and SuiteQL), authenticated by token-based authentication
or OAuth 2.0 client credentials (:mod:`o2c_pipeline.netsuite.auth`).

Every request goes through the account's process-wide
:class:`~o2c_pipeline.netsuite.governor.AccountGovernor`, which keeps under the account's
concurrency and request-rate limits; whatever still fails transiently (429, 5xx, concurrency
errors, dropped connections) is retried with exponential back-off and full jitter, honouring
``Retry-After``. With OAuth 2.0, a 401 on a token the server no longer takes (expired early,
revoked) renews the token once and repeats the request at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar
from urllib.parse import quote, urlparse

import requests
from pydantic import Field, PrivateAttr

from o2c_pipeline.netsuite import queries
from o2c_pipeline.netsuite.auth import (
    AUTH_FLOWS,
    REST_SCOPE,
    TOKEN_PATH,
    BearerAuth,
    ClientCredentials,
    tba,
)
from o2c_pipeline.netsuite.errors import NetSuiteApiError
from o2c_pipeline.netsuite.governor import RATE_WINDOW_S, AccountGovernor, account_governor
from o2c_pipeline.netsuite.paging import items_of
from o2c_pipeline.resources.api_client import ApiClientResource
from o2c_pipeline.resources.http import CallCounter
from o2c_pipeline.resources.retry import is_network_error, parse_retry_after
from o2c_pipeline.resources.tokens import TOKENS

log = logging.getLogger(__name__)

TRANSIENT_CODES = frozenset(
    {"CONCURRENCY_LIMIT_EXCEEDED", "SSS_REQUEST_LIMIT_EXCEEDED", "REQUEST_LIMIT_EXCEEDED"}
)
SUITEQL_MAX_PAGE = 1000


class _Runtime:
    def __init__(
        self,
        session: requests.Session,
        counter: CallCounter,
        governor: AccountGovernor,
        m2m: ClientCredentials | None,
    ) -> None:
        self.session = session
        self.counter = counter
        self.governor = governor
        self.m2m = m2m


class NetSuiteResource(ApiClientResource):
    """SuiteTalk REST record API and SuiteQL over TBA (OAuth 1.0a, HMAC-SHA256) or OAuth 2.0
    client credentials (M2M)."""

    secret_fields: ClassVar[frozenset[str]] = frozenset({"consumer_secret", "token_secret"})

    account_id: str = Field(
        description="Account id as NetSuite shows it, e.g. 1234567_SB1 (realm)."
    )
    base_url: str | None = Field(
        default=None,
        description="Default https://{account slug}.suitetalk.api.netsuite.com.",
    )
    auth_flow: str = Field(default="tba", description="tba | oauth2_m2m")
    consumer_key: str | None = Field(default=None, description="Integration consumer key (tba).")
    consumer_secret: str | None = Field(
        default=None, description="Integration consumer secret (tba)."
    )
    token_id: str | None = Field(default=None, description="Access token id (tba).")
    token_secret: str | None = Field(default=None, description="Access token secret (tba).")
    client_id: str | None = Field(default=None, description="Integration client id (oauth2_m2m).")
    certificate_id: str | None = Field(
        default=None, description="Certificate id of the M2M mapping (oauth2_m2m)."
    )
    private_key_file: str | None = Field(
        default=None, description="PEM private key of the mapped certificate (oauth2_m2m)."
    )
    oauth_scope: str = Field(default=REST_SCOPE, description="OAuth 2.0 scope (oauth2_m2m).")
    concurrency_limit: int = Field(
        default=5, description="Account concurrency limit to stay under."
    )
    rate_limit_per_s: float = Field(default=10.0, description="Account request rate to stay under.")
    rate_window_s: float = Field(
        default=RATE_WINDOW_S,
        description="Window the rate limit is sustained over (NetSuite's frequency throttle: 60 s).",
    )
    rate_safety_margin: float = Field(
        default=0.05, description="Extra share of the window to wait."
    )
    read_timeout_s: float = Field(
        default=120.0,
        description=(
            "Longest wait for the server's next bytes. A SuiteQL page or record request answers in "
            "seconds; 120 s leaves room for heavy queries on large accounts, while a stalled "
            "connection is retried after two minutes rather than NetSuite's own 15-minute "
            "request timeout."
        ),
    )
    max_retries: int = Field(default=6, description="Retries of a transient failure.")

    _schemas: dict[str, dict[str, Any] | None] = PrivateAttr(default_factory=dict)
    _schemas_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    # -- plumbing --------------------------------------------------------------------------------
    @property
    def rest_url(self) -> str:
        """``https://{host}/services/rest`` for this account."""
        if self.base_url:
            return self.base_url.rstrip("/") + "/services/rest"
        slug = self.account_id.lower().replace("_", "-")
        return f"https://{slug}.suitetalk.api.netsuite.com/services/rest"

    @property
    def token_url(self) -> str:
        """The OAuth 2.0 token endpoint of the account's REST host."""
        return self.rest_url.removesuffix("/services/rest") + TOKEN_PATH

    @property
    def credential_fields(self) -> tuple[str, ...]:
        """The fields the configured flow authenticates with."""
        if self.auth_flow == "oauth2_m2m":
            return ("client_id", "certificate_id", "private_key_file")
        return ("consumer_key", "consumer_secret", "token_id", "token_secret")

    def _validate(self) -> None:
        if self.auth_flow not in AUTH_FLOWS:
            raise ValueError(
                f"auth_flow must be one of {', '.join(AUTH_FLOWS)}, not {self.auth_flow!r}"
            )
        missing = [name for name in self.credential_fields if not getattr(self, name)]
        if missing:
            raise ValueError(f"NetSuite auth_flow {self.auth_flow!r} needs {', '.join(missing)}")

    def _pool_size(self) -> int:
        return max(self.concurrency_limit, 1) * 2

    def _start(self, session: requests.Session, counter: CallCounter) -> _Runtime:
        m2m = None
        if self.auth_flow == "oauth2_m2m":
            m2m = ClientCredentials(
                self.token_url,
                self.client_id or "",
                self.certificate_id or "",
                self.private_key_file or "",
                self.oauth_scope,
            )
        else:
            session.auth = tba(
                self.account_id,
                self.consumer_key or "",
                self.consumer_secret or "",
                self.token_id or "",
                self.token_secret or "",
            )
        governor = account_governor(
            self.account_id,
            concurrency_limit=self.concurrency_limit,
            rate_per_s=self.rate_limit_per_s,
            window_s=self.rate_window_s,
            margin=self.rate_safety_margin,
        )
        return _Runtime(session, counter, governor, m2m)

    def _bearer(self, runtime: _Runtime) -> BearerAuth:
        """The current OAuth 2.0 access token, requested when none is live (a transient failure
        of the token request is retried with the request that needed it)."""
        assert runtime.m2m is not None
        m2m = runtime.m2m

        return BearerAuth(TOKENS.get(m2m.cache_key, lambda: m2m.fetch(runtime.session)))

    @property
    def governor(self) -> AccountGovernor:
        """The account's process-wide governor (peak in-flight requests, limits)."""
        return self._runtime().governor

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        idempotent: bool = True,
        tally: CallCounter | None = None,
    ) -> requests.Response:
        """One governed, retried request to ``{rest_url}/{path}``; returns the 2xx response or
        raises :class:`NetSuiteApiError`. ``tally`` also counts every attempt sent (retries
        included): the calls of one entity when several share the resource concurrently."""
        runtime = self._runtime()
        url = f"{self.rest_url}/{path.lstrip('/')}"
        where = f"{method} {path}"

        def send() -> requests.Response:
            auth = self._bearer(runtime) if runtime.m2m else None
            with runtime.governor.slot():
                if tally is not None:
                    tally.increment()
                response = runtime.session.request(
                    method, url, params=params, json=json, headers=headers, auth=auth
                )
            if response.status_code == 401 and auth is not None:
                # a token the server stopped taking before its time: renew once, at once
                log.info("NetSuite: access token refused on %s; requesting a new one", where)
                TOKENS.invalidate(runtime.m2m.cache_key, auth.token.access_token)  # type: ignore[union-attr]
                auth = self._bearer(runtime)
                with runtime.governor.slot():
                    if tally is not None:
                        tally.increment()
                    response = runtime.session.request(
                        method, url, params=params, json=json, headers=headers, auth=auth
                    )
            return response

        def attempt() -> requests.Response:
            response = send()
            if response.status_code < 300:
                return response
            error = _api_error(response, where)
            if error.retry_after_s:
                runtime.governor.pause(error.retry_after_s)
            raise error

        def is_transient(exc: BaseException) -> bool:
            if isinstance(exc, NetSuiteApiError):
                return exc.transient
            return is_network_error(exc, idempotent=idempotent)

        try:
            return self._retry_policy().call(
                attempt, is_transient=is_transient, describe=f"NetSuite {where}"
            )
        except NetSuiteApiError:
            raise
        except requests.RequestException as exc:
            raise NetSuiteApiError(
                0, type(exc).__name__, str(exc), request=where, transient=True
            ) from None

    # -- SuiteQL ---------------------------------------------------------------------------------
    def suiteql_page(
        self,
        q: str,
        *,
        limit: int = SUITEQL_MAX_PAGE,
        offset: int = 0,
        tally: CallCounter | None = None,
    ) -> dict[str, Any]:
        """One SuiteQL page as NetSuite returns it (items, hasMore, totalResults, count, offset)."""
        response = self.request(
            "POST",
            "query/v1/suiteql",
            params={"limit": limit, "offset": offset},
            json={"q": q},
            headers={"Prefer": "transient"},
            tally=tally,
        )
        return response.json()

    def suiteql_pages(
        self, q: str, *, page_size: int = SUITEQL_MAX_PAGE, tally: CallCounter | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Every row of ``q``, a page at a time (``links`` removed), by offset paging. NetSuite
        serves at most 100,000 rows of one query; split larger reads by window or id keyset."""
        page_size = min(page_size, SUITEQL_MAX_PAGE)
        offset = 0
        while True:
            page = self.suiteql_page(q, limit=page_size, offset=offset, tally=tally)
            items = items_of(page)
            if items:
                yield items
            offset += len(items)
            if not page.get("hasMore") or not items:
                return

    def ping(self) -> None:
        """One cheap authenticated call (a one-row SuiteQL query of DUAL)."""
        self.suiteql_page(queries.PING, limit=1)

    # -- metadata ---------------------------------------------------------------------------------
    def record_schemas(
        self, record_types: Sequence[str], *, tally: CallCounter | None = None
    ) -> dict[str, dict[str, Any]]:
        """The JSON Schemas of ``record_types`` (keyed by lowercase name) from one request: the
        catalog's OpenAPI 3.0 document of the types named in ``select``
        (``metadata-catalog?select=a,b`` as ``application/swagger+json``), each type a schema
        of ``components.schemas``. Asked once per resource instance (a run): later calls, from
        any thread, answer from what the first one read. A type the catalog refuses (400) makes
        the answer empty, and :meth:`record_schema` asks each type on its own."""
        wanted = sorted({t.lower() for t in record_types})
        with self._schemas_lock:
            missing = [t for t in wanted if t not in self._schemas]
            if missing:
                try:
                    response = self.request(
                        "GET",
                        "record/v1/metadata-catalog",
                        params={"select": ",".join(missing)},
                        headers={"Accept": "application/swagger+json"},
                        tally=tally,
                    )
                    components = (response.json().get("components") or {}).get("schemas") or {}
                except NetSuiteApiError as err:
                    if err.status not in (400, 404):
                        raise
                    components = {}
                for name in missing:
                    self._schemas[name] = components.get(name)
            return {t: self._schemas[t] for t in wanted if self._schemas[t] is not None}

    def record_schema(
        self, record_type: str, *, tally: CallCounter | None = None
    ) -> dict[str, Any] | None:
        """The record type's JSON Schema from the metadata catalog (``record/v1/metadata-catalog
        /<type>``), or None when the catalog has no such type; a schema already read with
        :meth:`record_schemas` costs no request."""
        with self._schemas_lock:
            known = self._schemas.get(record_type.lower())
        if known is not None:
            return known
        try:
            response = self.request(
                "GET",
                f"record/v1/metadata-catalog/{quote(record_type.lower(), safe='')}",
                headers={"Accept": "application/schema+json"},
                tally=tally,
            )
        except NetSuiteApiError as err:
            if err.status == 404:
                return None
            raise
        return response.json()

    # -- record API ------------------------------------------------------------------------------
    def get_record(
        self, record_type: str, id_or_eid: str, *, expand: bool = False
    ) -> dict[str, Any]:
        """One record by internal id (``"123"``) or external id (``"eid:SF_ACCT_..."``)."""
        params = {"expandSubResources": "true"} if expand else None
        return self.request("GET", _record_path(record_type, id_or_eid), params=params).json()

    def create_record(self, record_type: str, body: dict[str, Any]) -> str:
        """Create a record; returns the new internal id (from ``Location``). Not retried after an
        ambiguous network failure, since a repeat could create a duplicate: prefer
        :meth:`upsert_record` with an external id where exactly-once matters."""
        response = self.request("POST", _record_path(record_type), json=body, idempotent=False)
        return _id_from_location(response, record_type)

    def upsert_record(self, record_type: str, external_id: str, body: dict[str, Any]) -> str:
        """Create or update by external id (``PUT .../eid:{external_id}``); returns the internal
        id. Safe to repeat, so it is retried on every transient failure."""
        path = _record_path(record_type, f"eid:{external_id}")
        response = self.request("PUT", path, json=body)
        if response.headers.get("Location"):
            return _id_from_location(response, record_type)
        return str(self.get_record(record_type, f"eid:{external_id}")["id"])

    def update_record(self, record_type: str, record_id: str, body: dict[str, Any]) -> None:
        """Change the given fields (``PATCH``); omitted fields keep their values."""
        self.request("PATCH", _record_path(record_type, record_id), json=body)

    def delete_record(self, record_type: str, record_id: str) -> None:
        self.request("DELETE", _record_path(record_type, record_id))


def _record_path(record_type: str, id_or_eid: str | None = None) -> str:
    path = f"record/v1/{quote(record_type, safe='')}"
    return f"{path}/{quote(id_or_eid, safe=':')}" if id_or_eid else path


def _id_from_location(response: requests.Response, record_type: str) -> str:
    location = response.headers.get("Location")
    if not location:
        raise NetSuiteApiError(
            response.status_code,
            "NO_LOCATION",
            "the answer has no Location header",
            request=f"record/v1/{record_type}",
        )
    return urlparse(location).path.rstrip("/").rsplit("/", 1)[-1]


def _api_error(response: requests.Response, where: str) -> NetSuiteApiError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    details = body.get("o:errorDetails") or [{}]
    first = details[0] if isinstance(details[0], dict) else {}
    code = first.get("o:errorCode") or body.get("title") or f"HTTP_{status}"
    detail = (
        first.get("detail") or body.get("title") or response.text[:500] or response.reason or ""
    )
    transient = status == 429 or status >= 500 or code in TRANSIENT_CODES
    retry_after = parse_retry_after(response.headers.get("Retry-After")) if transient else None
    return NetSuiteApiError(
        status,
        code,
        detail,
        request=where,
        field_path=first.get("o:errorPath"),
        transient=transient,
        retry_after_s=retry_after,
    )
