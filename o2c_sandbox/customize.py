"""Change the sandbox org's schema while it runs, as an administrator adds a custom field or a
custom object in Setup: the field gets a column in the world, and every surface that reads the
schema declarations (Salesforce describe, SOQL, DML; NetSuite's metadata catalog, record API and
SuiteQL) serves it from the next request on.

The declarations are module-level (one schema per process), so a change shows on every sandbox
of the process; use these on a ``private_sandbox`` and leave the ``with`` block to put the schema
back (the column is dropped again).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

from o2c_sandbox.netsuite import records, suiteql
from o2c_sandbox.runner import Sandbox
from o2c_sandbox.salesforce import model
from o2c_sandbox.schema import (
    NS_RECORD_TYPES,
    NS_TABLES,
    SF_API_OBJECTS,
    SF_OBJECTS,
    NsColumn,
    NsTable,
    SfField,
    SfObject,
)


def _set_sf_object(obj: SfObject, *, business: bool = True) -> None:
    SF_API_OBJECTS[obj.name] = obj
    if business:
        SF_OBJECTS[obj.name] = obj
    model._KEY_PREFIXES[obj.key_prefix] = obj


def _drop_sf_object(obj: SfObject) -> None:
    SF_API_OBJECTS.pop(obj.name, None)
    SF_OBJECTS.pop(obj.name, None)
    model._KEY_PREFIXES.pop(obj.key_prefix, None)


def _refresh_netsuite() -> None:
    """Record types and SuiteQL's column knowledge follow the tables again."""
    records.RECORD_TYPES.clear()
    records.RECORD_TYPES.update(records._record_types())
    suiteql.DATETIME_COLUMNS.clear()
    suiteql.DATETIME_COLUMNS.update(
        c.name for t in NS_TABLES.values() for c in t.columns if c.type in ("DATE", "TIMESTAMP")
    )
    suiteql.translate.cache_clear()


def _execute(box: Sandbox, statement: str) -> None:
    assert box.ctx is not None, "the sandbox is not started"
    with box.ctx.store.writer() as cur:
        cur.execute(statement)


@contextmanager
def salesforce_field(box: Sandbox, sobject: str, field: SfField) -> Iterator[SfField]:
    """A field added to ``sobject`` (e.g. ``SfField("Region__c", "picklist", 40, custom=True)``)."""
    before = SF_API_OBJECTS[sobject]
    _execute(box, f'ALTER TABLE sf."{sobject}" ADD COLUMN "{field.name}" {field.duckdb_type}')
    _set_sf_object(
        dataclasses.replace(before, fields=(*before.fields, field)),
        business=sobject in SF_OBJECTS,
    )
    try:
        yield field
    finally:
        _set_sf_object(before, business=sobject in SF_OBJECTS)
        _execute(box, f'ALTER TABLE sf."{sobject}" DROP COLUMN "{field.name}"')


@contextmanager
def netsuite_field(box: Sandbox, table: str, column: NsColumn) -> Iterator[NsColumn]:
    """A column added to a SuiteQL table, e.g. a custom entity field
    ``NsColumn("custentity_o2c_tier", "VARCHAR", "custentity_o2c_tier")`` on ``customer``: its
    ``record_field`` puts it on the record API and in the metadata catalog too."""
    before = NS_TABLES[table]
    _execute(box, f'ALTER TABLE ns."{table}" ADD COLUMN "{column.name}" {column.type}')
    NS_TABLES[table] = dataclasses.replace(before, columns=(*before.columns, column))
    _refresh_netsuite()
    try:
        yield column
    finally:
        NS_TABLES[table] = before
        _refresh_netsuite()
        _execute(box, f'ALTER TABLE ns."{table}" DROP COLUMN "{column.name}"')


@contextmanager
def salesforce_object(box: Sandbox, obj: SfObject) -> Iterator[SfObject]:
    """A custom object (its table created empty; create records through the API)."""
    cols = ", ".join(f'"{f.name}" {f.duckdb_type}' for f in obj.stored_fields)
    _execute(box, f'CREATE TABLE sf."{obj.name}" ({cols}, PRIMARY KEY ("Id"))')
    _set_sf_object(obj)
    try:
        yield obj
    finally:
        _drop_sf_object(obj)
        _execute(box, f'DROP TABLE sf."{obj.name}"')


@contextmanager
def netsuite_record_type(box: Sandbox, record_type: str, table: NsTable) -> Iterator[NsTable]:
    """A custom record type (e.g. ``customrecord_o2c_subscription``) and its SuiteQL table."""
    cols = ", ".join(f'"{c.name}" {c.type}' for c in table.columns)
    keys = ", ".join(f'"{k}"' for k in table.primary_key)
    _execute(box, f'CREATE TABLE ns."{table.name}" ({cols}, PRIMARY KEY ({keys}))')
    NS_TABLES[table.name] = table
    NS_RECORD_TYPES[record_type] = (table.name, {})
    _refresh_netsuite()
    try:
        yield table
    finally:
        NS_TABLES.pop(table.name, None)
        NS_RECORD_TYPES.pop(record_type, None)
        _refresh_netsuite()
        _execute(box, f'DROP TABLE ns."{table.name}"')
