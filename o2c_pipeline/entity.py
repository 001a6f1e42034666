"""What an extracted entity is: its columns, key, cursor and delete source (the declarations are
in ``salesforce/entities.py`` and ``netsuite/entities.py``, assembled by :mod:`o2c_pipeline.entities`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

System = Literal["salesforce", "netsuite"]

#: Salesforce field types -> DuckDB types (what a describe() answer maps to; any other type is
#: text). Compound (address, location) and base64 fields are not columns: see extract.columns.
SF_TYPES = {
    "id": "VARCHAR",
    "reference": "VARCHAR",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "datetime": "TIMESTAMP",
    "date": "DATE",
    "double": "DOUBLE",
    "currency": "DOUBLE",
    "percent": "DOUBLE",
    "int": "INTEGER",
    "long": "BIGINT",
}


@dataclass(frozen=True)
class Column:
    """A warehouse column: its name (= the source field/column name), DuckDB type and, for
    SuiteQL, the expression that selects it (default ``<alias>.<name>``)."""

    name: str
    type: str = "VARCHAR"
    expr: str | None = None
    description: str = ""
    #: declared (the sync relies on it) rather than discovered in the source
    core: bool = True


@dataclass(frozen=True)
class Entity:
    """One extracted object.

    ``key`` identifies a record; ``cursor`` is its modification stamp (what partitions and
    watermarks are over); ``group`` (default: the key) is the unit a deletion or a new snapshot
    replaces: NetSuite transaction lines are re-emitted with their transaction's stamp whenever it
    is saved, so their group is the transaction and lines missing from the newest snapshot are gone.
    """

    system: System
    name: str
    source: str  # Salesforce object API name, or SuiteQL FROM clause (with alias)
    columns: tuple[Column, ...]
    key: str
    cursor: str
    description: str
    group: str | None = None
    #: Salesforce: the boolean column flagging soft-deleted rows (queried through queryAll).
    deleted_flag: str | None = None
    #: SuiteQL: the table alias and fixed filters of the record query.
    alias: str = ""
    where: tuple[str, ...] = ()
    #: SuiteQL: the expression the cursor filters and orders on, and the key column's expression.
    cursor_expr: str | None = None
    key_expr: str | None = None
    #: NetSuite: ``deletedrecord.recordtypeid`` values whose rows delete this entity's groups.
    deleted_record_types: tuple[str, ...] = ()
    #: NetSuite: the record type whose metadata catalog entry lists the fields beyond the core.
    record_type: str | None = None
    #: read whole whatever the start date (:func:`o2c_pipeline.extract.windows.reads_from`): master
    #: data a transaction points to (accounts, products, customers, items...), and Salesforce's
    #: line items, whose deal moves its stamp without moving theirs
    full_history: bool = False
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def table(self) -> str:
        return f"{self.system}.{self.name}"

    @property
    def current_table(self) -> str:
        return f"{self.system}.{self.name}_current"

    @property
    def group_column(self) -> str:
        return self.group or self.key

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.table} has no column {name!r}")

    @property
    def watermark_key(self) -> str:
        return self.table
