"""The warehouse in Dagster: :class:`WarehouseResource` for code that reads or writes it directly
(assets, checks), and the IO manager that extraction assets hand their staged loads to.

``handle_output`` takes a :class:`StagedLoad` (files on disk, never the rows in memory) and swaps
it in within one transaction through :class:`~o2c_pipeline.warehouse.Warehouse`; a failure leaves
the warehouse as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from o2c_pipeline import keys
from o2c_pipeline.assets import partition_figures as figures
from o2c_pipeline.entities import Entity, entity_of
from o2c_pipeline.extract.runner import Extraction
from o2c_pipeline.extract.windows import reads_from
from o2c_pipeline.warehouse import BOOKKEEPING, CommitResult, Warehouse, open_warehouse


def column_schema(entity: Entity) -> dg.TableSchema:
    """The table's columns as Dagster shows them: the entity's, then the bookkeeping ones."""
    columns = [
        dg.TableColumn(c.name, c.type, description=c.description or None) for c in entity.columns
    ]
    columns += [dg.TableColumn(name, type_) for name, type_ in BOOKKEEPING.items()]
    return dg.TableSchema(columns=columns)


def schema_metadata(extraction: Extraction, result: CommitResult) -> dict[str, Any]:
    """What the load read and how the table's columns changed (only when it read anything)."""
    if extraction.probed_unchanged:
        return {}
    entity, change = extraction.entity, result.schema
    return {
        "dagster/column_schema": column_schema(entity),
        "columns": len(entity.columns),
        "columns_added": ", ".join(change.added) or "none",
        "columns_vanished": ", ".join(change.vanished) or "none",
        **(
            {"columns_kept_type": ", ".join(f"{n} {t}" for n, t in change.kept_types)}
            if change.kept_types
            else {}
        ),
    }


@dataclass
class StagedLoad:
    """What an extraction asset hands the IO manager: staged files, plus what to do once they are
    committed (e.g. advance the watermark: only after the data is safe)."""

    extraction: Extraction
    staging_dir: Path
    after_commit: Callable[[CommitResult], Mapping[str, Any]] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WarehouseTable:
    """A lazy handle on a warehouse table: downstream assets query it, bounded in memory."""

    warehouse_path: str  # the O2C_WAREHOUSE value: a DuckDB file or a PostgreSQL URL
    table: str
    current_table: str
    partition_window: tuple[dt.datetime, dt.datetime] | None = None

    @property
    def warehouse(self) -> Warehouse:
        return open_warehouse(self.warehouse_path)


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse (``O2C_WAREHOUSE``), for typed resource parameters."""

    path: str = Field(description="DuckDB warehouse file or PostgreSQL URL (O2C_WAREHOUSE)")

    def warehouse(self) -> Warehouse:
        return open_warehouse(self.path)


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Commits extraction assets' staged loads to the warehouse and hands downstream assets a
    handle.

    ``handle_output`` takes a :class:`StagedLoad` (files on disk, never the rows in memory) and
    swaps it in within one transaction; a failure leaves the warehouse as it was.
    """

    path: str = Field(description="DuckDB warehouse file or PostgreSQL URL (O2C_WAREHOUSE)")

    def handle_output(self, context: dg.OutputContext, obj: StagedLoad | None) -> None:
        if obj is None:
            return
        warehouse = open_warehouse(self.path)
        extraction = obj.extraction
        entity = extraction.entity
        started = time.monotonic()
        loaded_at = dt.datetime.now(dt.UTC)
        partitions = list(context.asset_partition_keys) if context.has_asset_partitions else []
        days = None  # the days whose versions the figures count: the backlog's too on the first
        first_day = backlog_from = None  # a full-history entity's first partition holds a backlog
        if partitions:
            first_day = dt.date.fromisoformat(partitions[0])
            first_start = context.asset_partitions_time_window.start
            read_from = reads_from(
                entity.full_history, first_start, context.asset_partitions_def.start
            )
            backlog_from = read_from if read_from < first_start else None
            days = (read_from.date(), dt.date.fromisoformat(partitions[-1]))
        naive_loaded = loaded_at.replace(tzinfo=None)
        staged: dict = {}
        before: dict = {}
        try:
            if extraction.probed_unchanged:  # nothing new: no write, the watermark stays
                result = CommitResult(0, 0, 0, 0, None, *warehouse.row_counts(entity))
                extra = {}
                after = figures.held_per_day(warehouse, entity, *days, naive_loaded) if days else {}
                before = after  # nothing was written: no new versions on any day
            else:
                if days:
                    staged = figures.staged_per_day(extraction)
                    before = figures.held_per_day(warehouse, entity, *days, naive_loaded)
                result = warehouse.commit(extraction, loaded_at=loaded_at)
                extra = dict(obj.after_commit(result)) if obj.after_commit else {}
                after = figures.held_per_day(warehouse, entity, *days, naive_loaded) if days else {}
        finally:
            shutil.rmtree(obj.staging_dir, ignore_errors=True)
            with contextlib.suppress(OSError):  # the run's staging folder, once its last load is in
                obj.staging_dir.parent.rmdir()
        step = {  # the step's own figures: once per run (see partition_figures)
            **{k: figures.as_timestamp(v) for k, v in obj.metadata.items()},
            "api_calls": extraction.api_calls,
            "pages": extraction.pages,
            "fetch_window": str(extraction.window),
            "partitions": len(partitions),
            "seconds": round(extraction.seconds + time.monotonic() - started, 3),
            "fetch_seconds": round(extraction.seconds, 3),
            "path": extraction.path,
            "mode": extraction.mode,
            "table_rows": result.table_rows,
            "current_rows": result.current_rows,
            "dagster/table_name": entity.table,
            **schema_metadata(extraction, result),
            **{k: figures.as_timestamp(v) for k, v in extra.items()},
        }
        if not partitions:
            context.add_output_metadata(
                {
                    "rows": extraction.rows,
                    "versions": result.new_versions,
                    "written": result.written,
                    "deletes": result.deletes,
                    "window": str(extraction.window),
                    "dagster/row_count": result.table_rows,
                    **step,
                }
            )
            return
        per_day = figures.per_day(
            partitions,
            *(figures.fold_before(first_day, f) for f in (staged, before, after)),
            first_reads_from=backlog_from,
        )
        step_context = context.step_context
        for key, metadata in per_day.items():
            if key == partitions[-1]:
                metadata = {**metadata, **step}
            step_context.add_asset_metadata(
                metadata, asset_key=context.asset_key, partition_key=key
            )

    def load_input(self, context: dg.InputContext) -> WarehouseTable:
        table = keys.name_of(context.asset_key)
        window = None
        if context.has_asset_partitions:
            tw = context.asset_partitions_time_window
            first = context.asset_partitions_def.start
            window = (reads_from(_reads_full_history(table), tw.start, first), tw.end)
        return WarehouseTable(self.path, table, f"{table}_current", window)


def _reads_full_history(table: str) -> bool:
    """Whether ``table`` is an extracted entity's read whole (sync tables are not)."""
    entity = entity_of(table)
    return entity is not None and entity.full_history
