"""Before a run does anything: the settings and the configuration file are valid, a server
warehouse answers, and each source system the run needs answers one cheap authenticated call.

Problems come back as one line each, naming the system, the URL and (never the secret) the
credential settings in use; an unreachable sandbox on this machine says how to start it. The
calls are not retried and wait at most :data:`CONNECT_TIMEOUT_S` for a connection, so a stopped
server or a wrong secret stops the run within seconds instead of failing every step after
minutes of retries.

Where it runs: ``o2c run`` (so ``make run``) calls :func:`check` first; every Dagster run of the
definitions (the UI, schedules, sensors, ``dagster asset materialize``) goes through
:data:`PREFLIGHT_EXECUTOR`, the multiprocess executor with this check before the first step.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

import dagster as dg
import requests

from o2c_pipeline import config, keys, settings
from o2c_pipeline.resources.errors import ApiError
from o2c_pipeline.resources.factory import build_resources
from o2c_pipeline.resources.retry import causes
from o2c_pipeline.resources.secrets import scrub

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 20.0
SANDBOX_HINT = "the local sandbox is not running: start it with `make sandbox`"
SYSTEM_KEYS = {"salesforce": keys.SALESFORCE, "netsuite": keys.NETSUITE}
_FLOW_SETTING = {"salesforce": "SALESFORCE_AUTH_FLOW", "netsuite": "NETSUITE_AUTH_FLOW"}
_NAMES = {"salesforce": "Salesforce", "netsuite": "NetSuite"}


class PreflightError(RuntimeError):
    """What stops a run before it starts: one line per problem."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def validate(environ: Mapping[str, str] | None = None) -> None:
    """Settings, then the configuration file (every section, as the run would read it)."""
    try:
        settings.validate(environ)
    except settings.SettingsError as exc:
        raise PreflightError(exc.problems) from None
    try:  # the modules read the file when imported: a bad file fails right here
        from o2c_pipeline.entities import configured_entities
        from o2c_pipeline.sync import custom_fields
        from o2c_pipeline.sync.config import SyncSettings
        from o2c_pipeline.sync.flows import FLOWS_BY_NAME

        loaded = config.load(environ)
        configured_entities(loaded)
        SyncSettings.from_env(environ)
        custom_fields.validate(loaded, FLOWS_BY_NAME)
    except config.ConfigError as exc:
        raise PreflightError(str(exc).splitlines()) from None


def _is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _network_reason(exc: BaseException) -> str | None:
    """Why a connection failed, in words, or None when ``exc`` is not a network failure."""
    chain = list(causes(exc))
    if any(isinstance(c, requests.exceptions.SSLError) for c in chain):
        return "TLS verification failed (is O2C_CA_BUNDLE the CA bundle of this server?)"
    if any(isinstance(c, requests.exceptions.ConnectTimeout) for c in chain):
        return f"no connection within {CONNECT_TIMEOUT_S:.0f} s"
    text = " ".join(str(c) for c in chain).lower()
    if any(isinstance(c, requests.exceptions.ConnectionError) for c in chain):
        if "refused" in text:
            return "connection refused"
        if (
            "name or service not known" in text
            or "nodename nor servname" in text
            or "resolve" in text
        ):
            return "host name not found"
        return "connection failed"
    if isinstance(exc, ApiError) and exc.status == 0 and exc.transient:
        return exc.error_code
    return None


def _describe(system: str, url: str, exc: BaseException, environ: Mapping[str, str] | None) -> str:
    name = _NAMES[system]
    reason = _network_reason(exc)
    if reason is not None:
        hint = f": {SANDBOX_HINT}" if _is_loopback(url) else ""
        return f"{name} is unreachable at {url} ({reason}){hint}"
    credentials = settings.credential_set(_FLOW_SETTING[system], environ)
    if isinstance(exc, ApiError) and exc.status in (400, 401, 403):
        return (
            f"{name} refused the credentials {credentials} at {url}: "
            f"{exc.status} {exc.error_code}: {exc.reason}"
        )
    return f"{name} at {url} failed the pre-flight call: {scrub(exc)}"


def _url(system: str, resource: Any) -> str:
    return (
        resource.login_url
        if system == "salesforce"
        else resource.rest_url.removesuffix("/services/rest")
    )


def check_systems(
    systems: Iterable[str] = ("salesforce", "netsuite"),
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """One cheap call per system (in parallel, not retried); the problems, one line each."""
    quick = {
        "max_retries": 0,
        "connect_timeout_s": CONNECT_TIMEOUT_S,
        "read_timeout_s": READ_TIMEOUT_S,
    }
    wanted = [s for s in SYSTEM_KEYS if s in set(systems)]
    defined = build_resources(environ, check=False)
    resources = {
        key: type(defined[key])(**{**dict(defined[key]), **quick})  # a copy would keep the config
        for key in (SYSTEM_KEYS[s] for s in wanted)
    }

    def one(system: str, live: Any) -> str | None:
        resource = getattr(live, SYSTEM_KEYS[system])
        try:
            resource.ping()
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line
            return _describe(system, _url(system, resource), exc, environ)
        return None

    with dg.build_resources(resources) as live, ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda s: one(s, live), wanted))
    return [a for a in answers if a]


def check_warehouse(environ: Mapping[str, str] | None = None) -> list[str]:
    """A server warehouse (PostgreSQL) answers one query within :data:`CONNECT_TIMEOUT_S`; the
    problem in one line, naming O2C_WAREHOUSE and the URL without its password."""
    from o2c_pipeline.warehouse import open_warehouse

    warehouse = open_warehouse(settings.warehouse_location(environ))
    try:
        warehouse.ping(CONNECT_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        reason = scrub("; ".join(line.strip() for line in str(exc).strip().splitlines()) or exc)
        hint = ""
        if "does not exist" in reason and "database" in reason:
            hint = " (create it first, e.g. `createdb`)"
        return [
            f"the warehouse (O2C_WAREHOUSE) is unreachable at {warehouse.location}: {reason}{hint}"
        ]
    return []


def check(
    systems: Iterable[str] = ("salesforce", "netsuite"),
    environ: Mapping[str, str] | None = None,
) -> None:
    """Everything a run needs before its first step; raises :class:`PreflightError`."""
    validate(environ)
    problems = check_warehouse(environ) + check_systems(systems, environ)
    if problems:
        raise PreflightError(problems)


# ---------------------------------------------------------------------------------------------
# Every Dagster run: the multiprocess executor, with the pre-flight before the first step
# ---------------------------------------------------------------------------------------------


def systems_of_plan(job_def: dg.JobDefinition, execution_plan: Any) -> set[str]:
    """The source systems whose resources the plan's steps require."""
    needed: set[str] = set()
    for step in execution_plan.get_steps_to_execute_in_topo_order():
        node = job_def.get_node(step.node_handle)
        needed |= set(node.definition.required_resource_keys)
    return {system for system, key in SYSTEM_KEYS.items() if key in needed}


class PreflightFirst(dg.Executor):
    """Runs :func:`check` for the systems the run needs, then the wrapped executor."""

    def __init__(self, inner: dg.Executor) -> None:
        self.inner = inner

    @property
    def retries(self) -> Any:
        return self.inner.retries

    @property
    def step_dependency_config(self) -> Any:
        return self.inner.step_dependency_config

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[Any]:
        systems = systems_of_plan(plan_context.job.get_definition(), execution_plan)
        try:
            check(systems)
        except PreflightError as exc:
            for problem in exc.problems:
                plan_context.log.error(f"pre-flight: {problem}")
            raise
        if systems:  # the first run records where the partitions begin (once; see history)
            from o2c_pipeline.history import ensure_recorded

            ensure_recorded()
        yield from self.inner.execute(plan_context, execution_plan)


@dg.executor(
    name="multiprocess_with_preflight",
    config_schema=dg.multiprocess_executor.config_schema,
    requirements=dg.multiple_process_executor_requirements(),
)
def preflight_multiprocess_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """Dagster's multiprocess executor, with the pre-flight check before the first step."""
    return PreflightFirst(dg.multiprocess_executor.executor_creation_fn(init_context))
