"""What both sandbox servers share: the world store, run-time knobs, call counters, fault
injection, latency and the admin API, wrapped around each system's own WSGI routes.

A system plugs in as a :class:`Service`: a werkzeug ``Map`` of endpoints, handlers taking
``(request, **url_args)``, and its own error shape. Everything in :class:`SandboxApp` happens
before the handler runs, in this order: admin routes, call counting, governance (NetSuite's
concurrency and frequency limits, held for the whole request), injected faults, latency,
dispatch.
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import duckdb
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from o2c_sandbox.schema import NS_TABLES, SF_OBJECTS, Credentials, ns_ddl, sf_ddl

ADMIN_PREFIX = "/__sandbox__/"


class ApiError(Exception):
    """An error a handler raises; the service renders it in its system's wire shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[str] | None = None,
        path: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []
        self.path = path
        self.headers = headers or {}


@dataclass
class Knobs:
    """Run-time settings, changed at start (CLI flags) or live through ``PATCH /__sandbox__/knobs``."""

    latency_ms: float = 0.0  # fixed latency added to every API request
    jitter_ms: float = 0.0  # plus a uniform random 0..jitter_ms
    ns_concurrency_limit: int = 5  # account-wide concurrent NetSuite requests (the real-time limit)
    ns_rate_limit: int = 10  # NetSuite requests per second, sustained ...
    ns_rate_window_s: float = 60.0  # ... over this sliding window (limit * window per window)
    sf_session_ttl_s: float = 7200.0  # Salesforce access-token lifetime
    fault_429_rate: float = 0.0  # share of API requests answered 429
    fault_500_rate: float = 0.0
    fault_503_rate: float = 0.0
    fault_timeout_rate: float = 0.0  # request hangs past client_read_timeout_s, then drops
    fault_reset_rate: float = 0.0  # connection reset (RST) without a response
    fault_session_expiry_rate: float = 0.0  # Salesforce: the presented session expires now
    # the read timeout of the clients under test: a timeout fault holds the request this long and
    # a margin more (timeout_fault_hang_s), so the client's read timeout fires before the drop;
    # default: the longest read timeout the pipeline's clients use (Salesforce, 130 s)
    client_read_timeout_s: float = 130.0
    ns_timestamp_skew_s: float = 300.0  # OAuth 1.0a timestamps older/newer than this are stale
    ns_access_token_ttl_s: float = 3600.0  # NetSuite OAuth 2.0 access-token lifetime
    seed: int = 0  # seeds fault and jitter draws, for repeatable fault runs

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name: f.type for f in fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(
                f"unknown sandbox knob(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        # convert everything first, so a bad value changes nothing
        converted = {name: type(getattr(self, name))(value) for name, value in changes.items()}
        for name, value in converted.items():
            setattr(self, name, value)


class Counters:
    """API calls per system and endpoint family (``query``, ``sobjects``, ``bulk2``, ``suiteql``...)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[tuple[str, str]] = Counter()
        self._statuses: Counter[tuple[str, int]] = Counter()
        self.ns_in_flight = 0
        self.ns_peak_in_flight = 0

    def count(self, system: str, family: str) -> None:
        with self._lock:
            self._calls[(system, family)] += 1

    def count_status(self, system: str, status: int) -> None:
        with self._lock:
            self._statuses[(system, status)] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {}
            for (system, family), n in sorted(self._calls.items()):
                out.setdefault(system, {})[family] = n
            statuses: dict[str, dict[str, int]] = {}
            for (system, status), n in sorted(self._statuses.items()):
                statuses.setdefault(system, {})[str(status)] = n
            return {
                "calls": out,
                "statuses": statuses,
                "totals": {s: sum(v.values()) for s, v in out.items()},
                "netsuite_peak_concurrency": self.ns_peak_in_flight,
            }

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._statuses.clear()
            self.ns_peak_in_flight = self.ns_in_flight


class Store:
    """The world's DuckDB file. Readers run concurrently on per-request cursors; writers take
    ``write_lock`` so DuckDB's optimistic concurrency never sees two writers on one row."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = duckdb.connect(str(self.path))
        self.write_lock = threading.RLock()
        self._version = 0
        for stmt in sf_ddl() + ns_ddl():
            self._db.execute(stmt)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS main.sandbox_meta (key VARCHAR PRIMARY KEY, value VARCHAR)"
        )

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection for this thread; cheap, and safe to use concurrently with others."""
        return self._db.cursor()

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Serialized write transaction: commits on success, rolls back on any exception."""
        with self.write_lock:
            cur = self._db.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
                self._version += 1  # under write_lock
            finally:
                cur.close()

    @property
    def version(self) -> int:
        """How many write transactions have committed: caches of query results key on it, so no
        writer (API, simulator or a test) can leave a stale answer behind."""
        return self._version

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = (
            self.cursor()
            .execute("SELECT value FROM main.sandbox_meta WHERE key = ?", [key])
            .fetchone()
        )
        return row[0] if row else default

    def set_meta(self, key: str, value: str, cur: duckdb.DuckDBPyConnection | None = None) -> None:
        (cur or self.cursor()).execute(
            "INSERT OR REPLACE INTO main.sandbox_meta VALUES (?, ?)", [key, value]
        )

    def checkpoint(self) -> None:
        with self.write_lock:
            self._db.execute("CHECKPOINT")

    def close(self) -> None:
        self._db.close()


@dataclass
class SandboxContext:
    """Everything a handler may need besides its request."""

    store: Store
    knobs: Knobs
    counters: Counters
    state_dir: Path
    # set by runner: advance the simulation (admin API); returns a summary of what changed
    advance: Callable[[int], dict[str, Any]] | None = None
    # base URLs as the clients use them, e.g. https://127.0.0.1:47443
    urls: dict[str, str] | None = None
    credentials: Credentials = field(default_factory=Credentials)
    # the connected app's X.509 certificate, against which JWT bearer assertions are verified
    jwt_cert_path: Path | None = None

    def __post_init__(self) -> None:
        self.rng = random.Random(self.knobs.seed)
        self._rng_lock = threading.Lock()

    def draw(self) -> float:
        with self._rng_lock:
            return self.rng.random()


#: A service's routes: path -> {methods: endpoint}; several methods are space-separated, and an
#: endpoint may come with the defaults its handler is called with. A handler is the endpoint
#: with the dot replaced by an underscore.
Routes = dict[str, dict[str, str | tuple[str, dict[str, Any]]]]


def route_map(routes: Routes, **options: Any) -> Map:
    """The werkzeug ``Map`` of ``routes``, a trailing slash optional everywhere."""
    rules = []
    for path, endpoints in routes.items():
        for methods, target in endpoints.items():
            endpoint, defaults = target if isinstance(target, tuple) else (target, None)
            rules.append(Rule(path, endpoint=endpoint, methods=methods.split(), defaults=defaults))
    return Map(rules, strict_slashes=False, **options)


class Service:
    """One system's API. Subclasses set ``system``, ``url_map`` and the error shape."""

    system: str = ""
    url_map: Map

    def __init__(self, ctx: SandboxContext):
        self.ctx = ctx

    # -- hooks a system overrides ------------------------------------------------------------
    def family(self, endpoint: str, request: Request) -> str:
        """Endpoint family for the counters; by default the endpoint name up to the first dot."""
        return endpoint.split(".", 1)[0]

    def error_response(self, err: ApiError) -> Response:
        raise NotImplementedError

    def governance(self, request: Request):  # noqa: ANN201 - a context manager
        """Held for the whole request; raise ApiError to refuse (NetSuite's 429s)."""
        return nullcontext()

    def session_expiry_fault(self, request: Request) -> Response | None:
        """Expire the presented session (Salesforce) and answer as the real API would."""
        return None

    def authenticate(self, request: Request, endpoint: str) -> None:
        """Raise ApiError unless the request carries valid credentials."""

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(
            json.dumps(body, default=_json_default),
            status=status,
            headers=headers,
            mimetype="application/json",
        )


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


class SandboxApp:
    """The WSGI application for one service."""

    def __init__(self, service: Service):
        self.service = service
        self.ctx = service.ctx

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            response = self.handle(request)
        except _DropConnection:
            _reset(environ)
            # werkzeug treats a ConnectionError from the app as a dropped connection and writes
            # nothing; the socket then closes with SO_LINGER 0 (a reset). Answering anything here
            # would reach the client, since the close is deferred until werkzeug is done.
            raise ConnectionAbortedError("sandbox fault: connection dropped") from None
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        if request.path.startswith(ADMIN_PREFIX):
            return admin_response(self.ctx, request)
        svc = self.service
        adapter = svc.url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except (NotFound, MethodNotAllowed) as exc:
            self.ctx.counters.count(svc.system, "unmatched")
            return self._error(
                ApiError(
                    exc.code or 404,
                    "NOT_FOUND",
                    f"The requested resource does not exist: {request.method} {request.path}",
                )
            )
        except HTTPException as exc:  # e.g. RequestRedirect for a missing trailing slash
            return exc.get_response(request.environ)
        self.ctx.counters.count(svc.system, svc.family(endpoint, request))
        try:
            with svc.governance(request):
                fault = self._inject_fault(request)
                if fault is not None:
                    return self._done(fault)
                self._sleep_latency()
                svc.authenticate(request, endpoint)
                handler = getattr(svc, endpoint.replace(".", "_"))
                return self._done(handler(request, **args))
        except ApiError as err:
            return self._error(err)

    def _done(self, response: Response) -> Response:
        self.ctx.counters.count_status(self.service.system, response.status_code)
        return response

    def _error(self, err: ApiError) -> Response:
        response = self.service.error_response(err)
        for k, v in err.headers.items():
            response.headers[k] = v
        return self._done(response)

    def _sleep_latency(self) -> None:
        k = self.ctx.knobs
        delay = k.latency_ms + (self.ctx.draw() * k.jitter_ms if k.jitter_ms else 0.0)
        if delay > 0:
            time.sleep(delay / 1000.0)

    def _inject_fault(self, request: Request) -> Response | None:
        k = self.ctx.knobs
        rates = [
            (k.fault_429_rate, "429"),
            (k.fault_500_rate, "500"),
            (k.fault_503_rate, "503"),
            (k.fault_timeout_rate, "timeout"),
            (k.fault_reset_rate, "reset"),
            (k.fault_session_expiry_rate, "session"),
        ]
        if not any(rate for rate, _ in rates):
            return None
        draw = self.ctx.draw()
        for rate, kind in rates:
            if draw < rate:
                return self._fault(kind, request)
            draw -= rate
        return None

    def _fault(self, kind: str, request: Request) -> Response | None:
        self.ctx.counters.count(self.service.system, f"fault_{kind}")
        if kind == "429":
            raise ApiError(
                429,
                "REQUEST_LIMIT_EXCEEDED"
                if self.service.system == "salesforce"
                else "CONCURRENCY_LIMIT_EXCEEDED",
                "Injected fault: request limit exceeded.",
                headers={"Retry-After": "1"},
            )
        if kind in ("500", "503"):
            raise ApiError(
                int(kind),
                "UNEXPECTED_ERROR" if kind == "500" else "SERVER_UNAVAILABLE",
                f"Injected fault: {'internal server error' if kind == '500' else 'service unavailable'}.",
            )
        if kind == "timeout":
            time.sleep(timeout_fault_hang_s(self.ctx.knobs))
            raise _DropConnection
        if kind == "reset":
            raise _DropConnection
        return self.service.session_expiry_fault(request)


def timeout_fault_hang_s(knobs: Knobs) -> float:
    """How long a timeout fault holds a request: past the client's read timeout by a tenth of it
    (at least half a second), so a client that relies on the dropped connection instead of its
    own read timeout is seen to wait longer than that timeout."""
    return knobs.client_read_timeout_s + max(0.5, 0.1 * knobs.client_read_timeout_s)


class _DropConnection(Exception):
    """Abort the TCP connection with RST instead of answering."""


def _reset(environ) -> None:
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return
    try:
        # shutdown() acts at once (close() would wait for werkzeug's file objects); linger 0 turns
        # the final close into a reset
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def admin_response(ctx: SandboxContext, request: Request) -> Response:
    """``/__sandbox__/`` — knobs, counters, simulation and health; no auth, loopback only."""
    path = request.path[len(ADMIN_PREFIX) :].strip("/")
    method = request.method
    try:
        if path == "health":
            return Service.json({"ok": True, "urls": ctx.urls, "state_dir": str(ctx.state_dir)})
        if path == "knobs" and method == "GET":
            return Service.json(asdict(ctx.knobs))
        if path == "knobs" and method in ("PATCH", "POST", "PUT"):
            ctx.knobs.update(request.get_json(force=True) or {})
            return Service.json(asdict(ctx.knobs))
        if path == "counters" and method == "GET":
            return Service.json(ctx.counters.snapshot())
        if path == "counters/reset" and method == "POST":
            ctx.counters.reset()
            return Service.json(ctx.counters.snapshot())
        if path == "advance" and method == "POST":
            if ctx.advance is None:
                return Service.json({"error": "simulation not available"}, status=501)
            body = request.get_json(force=True, silent=True) or {}
            return Service.json(ctx.advance(int(body.get("steps", 1))))
        if path == "stats" and method == "GET":
            return Service.json(world_stats(ctx.store))
    except (ValueError, TypeError) as exc:
        return Service.json({"error": str(exc)}, status=400)
    return Service.json({"error": f"no admin endpoint {method} {request.path}"}, status=404)


def world_stats(store: Store) -> dict[str, Any]:
    """Row counts per Salesforce object and NetSuite table, from the schema declarations."""
    cur = store.cursor()
    tables = [("sf", name) for name in SF_OBJECTS] + [("ns", name) for name in NS_TABLES]
    counts = cur.execute(
        "SELECT "
        + ", ".join(f'(SELECT count(*) FROM {schema}."{name}")' for schema, name in tables)
    ).fetchall()[0]
    out: dict[str, Any] = {}
    for (schema, name), n in zip(tables, counts, strict=True):
        out.setdefault(schema, {})[name] = n
    return out
