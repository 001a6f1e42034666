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


def table_key(table: str) -> dg.AssetKey:
    """The asset of a warehouse table: ``salesforce.accounts`` -> ``salesforce/accounts``."""
    return dg.AssetKey(table.split(".", 1))


def flow_key(flow: str) -> dg.AssetKey:
    """The asset of a sync flow: ``orders`` -> ``sync/orders``."""
    return dg.AssetKey([SYNC_GROUP, flow])


def code_version(*parts: object) -> str:
    """A short, stable code version from what defines an asset (its declaration, its code), so
    Dagster flags assets whose definition changed since they were materialized."""
    import hashlib

    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]
