"""Formula and roll-up fields stay fresh: Salesforce changes their values without a new
``SystemModstamp`` (a cross-object formula follows its parent, ``TODAY()`` the date), so a delta
load by stamp keeps the value it first saw. On a schedule, for each Salesforce table, the
fields ``describe()`` calls ``calculated`` (and those the configuration's
``formula_refresh.fields`` names) are re-read for the records stamped in the recent window,
with one paged SOQL query by stamp (no Id list, so no IN-list or URL limit). A changed value lands
as a new version of the record at its unchanged stamp, ``_version_reason = 'formula_refresh'``,
and becomes the record's current row: the sync's change feeds see it as a change. A record whose
stamp moved meanwhile is left to the next delta load.
"""

# No `from __future__ import annotations`: Dagster reads resource annotations at definition time.
import dataclasses
import datetime as dt
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from o2c_pipeline import keys
from o2c_pipeline.assets.warehouse_io import WarehouseResource
from o2c_pipeline.config import FormulaRefresh
from o2c_pipeline.config import load as load_config
from o2c_pipeline.entities import ENTITIES, Column, Entity
from o2c_pipeline.extract.runner import Extraction
from o2c_pipeline.extract.windows import Window
from o2c_pipeline.salesforce import queries
from o2c_pipeline.salesforce.resource import SalesforceResource
from o2c_pipeline.warehouse import BOOKKEEPING, Warehouse

REASON = "formula_refresh"


def calculated_fields(describe: Mapping[str, Any], named: Sequence[str] = ()) -> list[str]:
    """Fields ``describe()`` reports ``calculated`` (formulas, roll-up summaries), plus ``named``."""
    fields = [f["name"] for f in describe.get("fields", []) if f.get("calculated")]
    return list(dict.fromkeys([*fields, *named]))


def _same(held: Any, fresh: Any) -> bool:
    """A warehouse value and a SOQL JSON value compare as the same field value."""
    if held is None or fresh is None:
        return held is None and fresh is None
    if isinstance(held, bool) or isinstance(fresh, bool):
        return str(held).lower() == str(fresh).lower()
    if isinstance(held, int | float) or isinstance(fresh, int | float):
        try:
            return math.isclose(float(held), float(fresh), rel_tol=1e-9, abs_tol=1e-9)
        except (TypeError, ValueError):
            return False
    if isinstance(held, dt.datetime):
        return _same_stamp(held, fresh)
    if isinstance(held, dt.date):
        return str(fresh)[:10] == held.isoformat()
    return str(held) == str(fresh)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def refresh_entity(
    entity: Entity,
    salesforce: Any,
    warehouse: Warehouse,
    settings: FormulaRefresh,
    now: dt.datetime,
) -> dict[str, int]:
    """Re-read one table's calculated fields for the window; ``{fields, read, changed}``."""
    table = entity.current_table
    schema, name = table.split(".", 1)
    if not warehouse.table_exists(table):
        return {"fields": 0, "read": 0, "changed": 0}
    columns = [
        (c, t)
        for c, t in warehouse.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, name],
        )
    ]
    held_names = {c.lower(): c for c, _ in columns}
    wanted = calculated_fields(
        salesforce.describe(entity.source), settings.fields.get(entity.table, [])
    )
    fields = [held_names[f.lower()] for f in wanted if f.lower() in held_names]
    if not fields:
        return {"fields": 0, "read": 0, "changed": 0}
    window = Window(now - dt.timedelta(days=settings.window_days), now + dt.timedelta(seconds=1))
    soql = (
        f"SELECT {', '.join(dict.fromkeys([entity.key, entity.cursor, *fields]))} "
        f"FROM {entity.source} WHERE {queries.window_filter(entity, window)}"
    )
    fresh = {r[entity.key]: r for page in salesforce.query_pages(soql) for r in page}
    names = [c for c, _ in columns]
    current = {
        str(row[names.index(entity.key)]): dict(zip(names, row, strict=True))
        for row in warehouse.query(
            f'SELECT * FROM {schema}."{name}" WHERE "{entity.cursor}" >= ?',
            [window.start.astimezone(dt.UTC).replace(tzinfo=None)],
        )
    }
    changed = []
    for record_id, row in current.items():
        answer = fresh.get(record_id)
        if answer is None or not _same_stamp(row[entity.cursor], answer.get(entity.cursor)):
            continue  # deleted or re-stamped since: the delta load brings it
        if all(_same(row[f], answer.get(f)) for f in fields):
            continue
        changed.append({**row, **{f: answer.get(f) for f in fields}})
    if changed:
        _land(entity, warehouse, [(c, t) for c, t in columns if c not in BOOKKEEPING], changed, now)
    return {"fields": len(fields), "read": len(fresh), "changed": len(changed)}


def _same_stamp(held: Any, fresh: Any) -> bool:
    if held is None or fresh is None:
        return False
    stamp = dt.datetime.fromisoformat(str(fresh).replace("Z", "+00:00").replace("+0000", "+00:00"))
    return stamp.astimezone(dt.UTC).replace(tzinfo=None) == held


def _land(
    entity: Entity,
    warehouse: Warehouse,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Mapping[str, Any]],
    now: dt.datetime,
) -> None:
    """The new versions, staged as text like any load and committed with their reason."""
    staging = warehouse.staging_dir(f"{REASON}-{entity.name}-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True, exist_ok=True)
    path = staging / "versions.parquet"
    data = {c: pa.array([_text(r.get(c)) for r in rows], pa.string()) for c, _ in columns}
    data["_deleted"] = pa.array([False] * len(rows), pa.bool_())
    pq.write_table(pa.table(data), path)
    known = {c.name: c for c in entity.columns}
    shaped = dataclasses.replace(
        entity,
        columns=tuple(known.get(c) or Column(c, t, core=False) for c, t in columns),
    )
    extraction = Extraction(shaped, Window(now, now), [path], REASON, len(rows), 0, 1, 0, 0.0, True)
    try:
        warehouse.commit(extraction, loaded_at=now, reason=REASON)
    finally:
        path.unlink(missing_ok=True)


def refresh_all(salesforce: Any, warehouse: Warehouse, now: dt.datetime) -> dict[str, dict]:
    """Every Salesforce table's refresh, as configured (``formula_refresh:``)."""
    settings = load_config().config.formula_refresh
    if not settings.enabled:
        return {}
    return {
        e.table: refresh_entity(e, salesforce, warehouse, settings, now)
        for e in ENTITIES
        if e.system == "salesforce"
    }


@dg.op(tags={"o2c/kind": REASON})
def refresh_formula_fields(
    context: dg.OpExecutionContext, salesforce: SalesforceResource, warehouse: WarehouseResource
) -> None:
    """Re-read calculated fields of recently stamped records; changed values become versions."""
    results = refresh_all(salesforce, warehouse.warehouse(), dt.datetime.now(dt.UTC))
    for table, figures in results.items():
        if figures["changed"]:
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=keys.table_key(table),
                    description=f"formula and roll-up values re-read (_version_reason '{REASON}')",
                    metadata={f"{REASON}_{k}": v for k, v in figures.items()},
                )
            )
    context.log.info(f"formula refresh: {results}")


@dg.job(
    description="Re-read Salesforce formula and roll-up fields of recently stamped records "
    "(they change without a new SystemModstamp); changed values land as new versions."
)
def formula_refresh() -> None:
    refresh_formula_fields()


JOBS = [formula_refresh]
