"""The names Dagster wiring uses, each defined once: resource keys, asset groups, asset keys, tags.

A resource key is also the parameter name of every asset, check, op or sensor that takes the
resource as a typed parameter (Dagster binds them by name), e.g. ``checkpoints: CheckpointStore``.
"""

from __future__ import annotations

import dagster as dg

# -- resource keys ---------------------------------------------------------------------------------
SALESFORCE = "salesforce"
NETSUITE = "netsuite"
CHECKPOINTS = "checkpoints"
WAREHOUSE = "warehouse"
WAREHOUSE_IO_MANAGER = "warehouse_io_manager"

# -- who answers for the assets (shown on every asset page; a team or an e-mail address) -----------
OWNERS = ["team:order-to-cash"]

# -- asset groups (an extraction asset's group is its system) --------------------------------------
SYNC_GROUP = "sync"

# -- run tags Dagster sets: partitions, ranges, what launched the run ------------------------------
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
SENSOR_TAG = "dagster/sensor_name"
SCHEDULE_TAG = "dagster/schedule_name"
BACKFILL_TAG = "dagster/backfill"


# -- asset keys: ``<group>/<name>``, the name short and unambiguous on its own ----------------------
#: Dagster's zoomed-out graph shows an asset by the last part of its key and truncates it beyond
#: about this many characters; every name stays within it and no two are the same.
ASSET_NAME_MAX = 16
#: an extract asset's name is its table's under the system's prefix: ``sf_accounts``, ``ns_customers``
SYSTEM_PREFIXES = {"salesforce": "sf", "netsuite": "ns"}
#: table names too long for :data:`ASSET_NAME_MAX` with the prefix, and their short form
SHORT_TABLE_NAMES = {
    "opportunity_line_items": "opp_lines",
    "currency_rates": "fx_rates",
    "sales_order_lines": "so_lines",
}
#: sync flow (its name in the CLI and the configuration file) -> asset name: what goes where
FLOW_ASSET_NAMES = {
    "customers": "accounts_to_ns",
    "contacts": "contacts_to_ns",
    "products": "items_to_sf",
    "orders": "orders_to_ns",
    "opportunities": "opps_to_ns",
    "fulfillments": "shipments_to_sf",
    "invoices": "invoices_to_sf",
    "payments": "payments_to_sf",
    "deal_status": "opp_status_to_sf",
    "review_queue": "credits_to_queue",
}


def table_key(table: str) -> dg.AssetKey:
    """The asset of a warehouse table: ``salesforce.accounts`` -> ``salesforce/sf_accounts``."""
    system, name = table.split(".", 1)
    short = SHORT_TABLE_NAMES.get(name, name)
    prefix = SYSTEM_PREFIXES.get(system)
    return dg.AssetKey([system, f"{prefix}_{short}" if prefix else short])


def flow_key(flow: str) -> dg.AssetKey:
    """The asset of a sync flow: ``orders`` -> ``sync/orders_to_ns``; ``audit_log`` and a flow
    without an entry in :data:`FLOW_ASSET_NAMES` keep their name."""
    return dg.AssetKey([SYNC_GROUP, FLOW_ASSET_NAMES.get(flow, flow)])


def name_of(key: dg.AssetKey) -> str:
    """The inverse of :func:`table_key` and :func:`flow_key`: ``salesforce/sf_accounts`` ->
    ``salesforce.accounts`` (the warehouse table), ``sync/orders_to_ns`` -> ``sync.orders``."""
    group, name = key.path[0], key.path[-1]
    if group == SYNC_GROUP:
        flows = {asset: flow for flow, asset in FLOW_ASSET_NAMES.items()}
        return f"{group}.{flows.get(name, name)}"
    prefix = SYSTEM_PREFIXES.get(group)
    if prefix and name.startswith(f"{prefix}_"):
        name = name[len(prefix) + 1 :]
    tables = {short: table for table, short in SHORT_TABLE_NAMES.items()}
    return f"{group}.{tables.get(name, name)}"


def code_version(*parts: object) -> str:
    """A short, stable code version from what defines an asset (its declaration, its code), so
    Dagster flags assets whose definition changed since they were materialized."""
    import hashlib

    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]
