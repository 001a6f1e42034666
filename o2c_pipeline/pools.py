"""Dagster concurrency pools: the shared API budgets, declared once.

Dagster pools count *ops*, not HTTP requests, and every op of a run executes in its own process.
So an account-wide request limit is split here into ``slots`` (how many ops may talk to the system
at once, across all runs) times ``requests_per_slot`` (how many requests one such op may have in
flight, enforced by the client's own process-wide semaphore), keeping ``reserved_requests`` free for
the sensors, which probe outside any run. ``slots * requests_per_slot + reserved_requests <=
account limit`` is what keeps three overlapping runs from starting a 429 storm.

Assets name their pool with ``pool=NETSUITE_API.name``; the limits reach the Dagster instance in
two ways: ``dagster.yaml`` sets ``concurrency.pools.default_limit: 1`` (the safe floor any pool
starts at), and :func:`ensure_pool_limits` sets each declared pool to its declared limit. The
sensors call it on every tick, so a fresh instance is configured before they launch anything.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import dagster as dg

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pool:
    """One concurrency pool; for an API with an account-wide limit, also how that budget is split."""

    name: str
    slots: int
    description: str
    reserved_requests: int = 0  # requests kept free for sensor probes, which run outside any pool

    def __post_init__(self) -> None:
        if self.slots < 1:
            raise ValueError(f"pool {self.name}: slots must be >= 1")

    def requests_per_slot(self, account_limit: int) -> int:
        """Concurrent requests one op holding a slot may make (its client's semaphore size)."""
        share = (account_limit - self.reserved_requests) // self.slots
        if share < 1:
            raise ValueError(
                f"pool {self.name}: {self.slots} slots leave no share of an account limit of "
                f"{account_limit} with {self.reserved_requests} reserved; lower the slots"
            )
        return share

    def rate_per_slot(self, account_rate_per_s: float) -> float:
        """Requests per second one op may make: the account rate split over the slots.

        The sensors keep a concurrency slot (``reserved_requests``) but no share of the rate: they
        probe with one call per tick, minutes apart, and the client retries the rare 429 that such
        a probe may meet while a backfill runs at the full rate."""
        return max(0.5, math.floor(account_rate_per_s / self.slots * 10) / 10)


NETSUITE_API = Pool(
    name="netsuite_api",
    slots=1,
    reserved_requests=1,
    description=(
        "NetSuite's account-wide concurrent-request limit (NETSUITE_CONCURRENCY_LIMIT, 5 on a base "
        "account), shared by SOAP, REST and RESTlets: one op at a time with the whole budget "
        "(limit - 1 requests in flight, the account's rate), one request kept for the sensors. The "
        "one NetSuite extraction op fetches every selected entity concurrently, so a second slot "
        "would only halve every op's share."
    ),
)
SALESFORCE_API = Pool(
    name="salesforce_api",
    slots=3,
    description=(
        "Salesforce Bulk API 2.0 jobs and long-running queries in flight across all runs, well under "
        "the org's 25 concurrent long-running requests that other integrations share."
    ),
)
DUCKDB_WAREHOUSE = Pool(
    name="duckdb_warehouse",
    slots=1,
    description="DuckDB allows one writing process per database file: warehouse-only steps run one at a time.",
)

POOLS: tuple[Pool, ...] = (NETSUITE_API, SALESFORCE_API, DUCKDB_WAREHOUSE)
POOLS_BY_NAME: dict[str, Pool] = {pool.name: pool for pool in POOLS}
DEFAULT_POOL_LIMIT = (
    1  # dagster.yaml `concurrency.pools.default_limit`: any undeclared pool is serial
)


def ensure_pool_limits(instance: dg.DagsterInstance) -> dict[str, int]:
    """Give every declared pool its declared limit; returns the limits now in force.

    The declaration here wins over edits in the UI (change the limit in this module), with one
    exception: a pool an operator set to 0 stays paused until they lift it. One read per call and
    a write only when a limit differs, so it is cheap enough for every sensor tick.
    """
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        log.warning("this instance's event log storage cannot enforce concurrency pools")
        return {}
    current = {limit.name: limit for limit in storage.get_pool_limits()}
    in_force: dict[str, int] = {}
    for pool in POOLS:
        existing = current.get(pool.name)
        if existing is not None and existing.limit == 0 and not existing.from_default:
            in_force[pool.name] = 0  # paused by an operator
            continue
        if existing is None or existing.limit != pool.slots or existing.from_default:
            storage.set_concurrency_slots(pool.name, pool.slots)
        in_force[pool.name] = pool.slots
    return in_force
