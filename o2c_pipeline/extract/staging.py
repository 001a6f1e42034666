"""Page normalisation and on-disk staging.

Every page, whatever its origin (REST JSON records, Bulk 2.0 CSV frames, SuiteQL items), becomes
an Arrow table with exactly the entity's columns as strings plus a boolean ``_deleted``; the
warehouse casts to the declared types in SQL, so every path lands identical values. Pages go
straight to Parquet files, so memory holds one page per fetching thread however big the load.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DELETED = "_deleted"


def staging_schema(columns: Sequence[str]) -> pa.Schema:
    return pa.schema([pa.field(c, pa.string()) for c in columns] + [pa.field(DELETED, pa.bool_())])


def _as_strings(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    if pa.types.is_string(values.type):
        return values
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), pa.string())
    if pa.types.is_boolean(values.type):
        return pc.if_else(values, "true", "false")
    return pc.cast(values, pa.string())


def normalize_table(
    table: pa.Table, columns: Sequence[str], *, deleted: pa.Array | bool = False
) -> pa.Table:
    """Project ``table`` onto ``columns`` as strings (missing columns are null)."""
    n = table.num_rows
    arrays = [
        _as_strings(table.column(c)) if c in table.column_names else pa.nulls(n, pa.string())
        for c in columns
    ]
    flag = deleted if isinstance(deleted, pa.Array | pa.ChunkedArray) else pa.repeat(deleted, n)
    return pa.Table.from_arrays([*arrays, flag], schema=staging_schema(columns))


def normalize_records(
    records: Iterable[Mapping[str, Any]], columns: Sequence[str], *, deleted: bool = False
) -> pa.Table:
    """JSON records (REST or SuiteQL) to a staging table; nested values are dropped."""
    rows = [{c: r.get(c) for c in columns} for r in records]
    table = (
        pa.Table.from_pylist(rows)
        if rows
        else pa.table({c: pa.array([], pa.string()) for c in columns})
    )
    return normalize_table(table, columns, deleted=deleted)


@dataclass
class StageStats:
    rows: int = 0
    deletes: int = 0
    pages: int = 0


@dataclass
class Stager:
    """Thread-safe writer of staging Parquet files, one file per fetch task."""

    directory: Path
    columns: Sequence[str]
    files: list[Path] = field(default_factory=list)
    stats: StageStats = field(default_factory=StageStats)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def open(self) -> StageFile:
        path = self.directory / f"{uuid.uuid4().hex}.parquet"
        with self._lock:
            self.files.append(path)
        return StageFile(self, path)

    def _record(self, page: pa.Table) -> None:
        deletes = pc.sum(page.column(DELETED)).as_py() or 0
        with self._lock:
            self.stats.rows += page.num_rows
            self.stats.deletes += deletes
            self.stats.pages += 1

    @property
    def written_files(self) -> list[Path]:
        return [f for f in self.files if f.exists()]


class StageFile:
    """One task's Parquet file; pages are appended as row groups."""

    def __init__(self, stager: Stager, path: Path) -> None:
        self._stager = stager
        self._path = path
        self._writer: pq.ParquetWriter | None = None

    def write(self, page: pa.Table) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._path, page.schema)
        if page.num_rows:
            self._writer.write_table(page)
        self._stager._record(page)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def __enter__(self) -> StageFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
