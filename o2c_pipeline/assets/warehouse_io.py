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

from o2c_pipeline.extract.runner import Extraction
from o2c_pipeline.warehouse import CommitResult, Warehouse


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

    warehouse_path: str
    table: str
    current_table: str
    partition_window: tuple[dt.datetime, dt.datetime] | None = None

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.warehouse_path)


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse (``O2C_WAREHOUSE``), for typed resource parameters."""

    path: str = Field(description="DuckDB warehouse file (O2C_WAREHOUSE)")

    def warehouse(self) -> Warehouse:
        return Warehouse(self.path)


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Commits extraction assets' staged loads to DuckDB and hands downstream assets a handle.

    ``handle_output`` takes a :class:`StagedLoad` (files on disk, never the rows in memory) and
    swaps it in within one transaction; a failure leaves the warehouse as it was.
    """

    path: str = Field(description="DuckDB warehouse file (O2C_WAREHOUSE)")

    def handle_output(self, context: dg.OutputContext, obj: StagedLoad | None) -> None:
        if obj is None:
            return
        warehouse = Warehouse(self.path)
        extraction = obj.extraction
        started = time.monotonic()
        try:
            if extraction.probed_unchanged:  # nothing new: no write, the watermark stays
                result = CommitResult(0, 0, 0, 0, None, *warehouse.row_counts(extraction.entity))
                extra = {}
            else:
                result = warehouse.commit(extraction)
                extra = dict(obj.after_commit(result)) if obj.after_commit else {}
        finally:
            shutil.rmtree(obj.staging_dir, ignore_errors=True)
            with contextlib.suppress(OSError):  # the run's staging folder, once its last load is in
                obj.staging_dir.parent.rmdir()
        context.add_output_metadata(
            {
                **obj.metadata,
                "rows": extraction.rows,
                "versions": result.new_versions,
                "written": result.written,
                "deletes": result.deletes,
                "api_calls": extraction.api_calls,
                "pages": extraction.pages,
                "window": str(extraction.window),
                "seconds": round(extraction.seconds + time.monotonic() - started, 3),
                "fetch_seconds": round(extraction.seconds, 3),
                "path": extraction.path,
                "mode": extraction.mode,
                "table_rows": result.table_rows,
                "current_rows": result.current_rows,
                "dagster/row_count": result.table_rows,
                "dagster/table_name": extraction.entity.table,
                **extra,
            }
        )

    def load_input(self, context: dg.InputContext) -> WarehouseTable:
        key = context.asset_key.path
        table = ".".join(key[-2:])
        window = None
        if context.has_asset_partitions:
            tw = context.asset_partitions_time_window
            window = (tw.start, tw.end)
        return WarehouseTable(self.path, table, f"{table}_current", window)
