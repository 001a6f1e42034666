"""Every SuiteQL statement the pipeline sends, built from entity declarations: extraction
(records, deletions, keyset bounds), probes, counts, the earliest stamps, the change sensor's one
``UNION ALL``, the review queue's incremental read, the column probes of field discovery and the
pre-flight's ping.

Both bounds of a window are ``>=`` / ``<`` (never a strict ``>`` on a watermark), and datetime
literals go through ``TO_TIMESTAMP`` so they do not depend on the account's date-format preference.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from o2c_pipeline.entities import Column, Entity
from o2c_pipeline.extract.windows import Window, as_utc

STAMP_FORMAT = "YYYY-MM-DD HH24:MI:SS"
DATE_FORMAT = "YYYY-MM-DD"
FAR_FUTURE = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
#: the cheapest authenticated question (the pre-flight check)
PING = "SELECT 1 AS ok FROM dual"


def literal(value: dt.datetime) -> str:
    """SuiteQL datetime literal that does not depend on the account's date-format preference."""
    stamp = as_utc(value).strftime("%Y-%m-%d %H:%M:%S")
    return f"TO_TIMESTAMP('{stamp}', '{STAMP_FORMAT}')"


def _select_expr(entity: Entity, name: str, type_: str, expr: str | None) -> str:
    source = expr or (f"{entity.alias}.{name}" if entity.alias else name)
    if type_ == "TIMESTAMP":
        source = f"TO_CHAR({source}, '{STAMP_FORMAT}')"
    elif type_ == "DATE":
        source = f"TO_CHAR({source}, '{DATE_FORMAT}')"
    return f"{source} AS {name}"


def cursor_expr(entity: Entity) -> str:
    return entity.cursor_expr or (
        f"{entity.alias}.{entity.cursor}" if entity.alias else entity.cursor
    )


def column_expr(entity: Entity, name: str) -> str:
    column = entity.column(name)
    return column.expr or (f"{entity.alias}.{name}" if entity.alias else name)


def key_expr(entity: Entity) -> str:
    return entity.key_expr or column_expr(entity, entity.key)


def where(entity: Entity, window: Window) -> str:
    cursor = cursor_expr(entity)
    clauses = [
        *entity.where,
        f"{cursor} >= {literal(window.start)}",
        f"{cursor} < {literal(window.end)}",
    ]
    return " AND ".join(clauses)


def _deleted_in(types: str, window: Window) -> str:
    """``deletedrecord`` rows of ``types`` (a SQL condition on ``recordtypeid``) in ``window``."""
    return (
        f"recordtypeid {types} "
        f"AND deleteddate >= {literal(window.start)} AND deleteddate < {literal(window.end)}"
    )


def _type_list(record_types: Iterable[str]) -> str:
    return ", ".join(f"'{t}'" for t in record_types)


def columns_probe_query(entity: Entity, columns: Sequence[Column]) -> str:
    """``columns`` selected as extraction selects them, from the entity's rows (a page of one
    row answers it): whether SuiteQL takes every one of them."""
    select = ", ".join(_select_expr(entity, c.name, c.type, c.expr) for c in columns)
    filters = f" WHERE {' AND '.join(entity.where)}" if entity.where else ""
    return f"SELECT {select} FROM {entity.source}{filters}"


def records_query(entity: Entity, window: Window) -> str:
    select = ", ".join(_select_expr(entity, c.name, c.type, c.expr) for c in entity.columns)
    return f"SELECT {select} FROM {entity.source} WHERE {where(entity, window)}"


def count_query(entity: Entity, window: Window) -> str:
    return f"SELECT COUNT(*) AS n FROM {entity.source} WHERE {where(entity, window)}"


def deletes_query(entity: Entity, record_type: str, window: Window) -> str:
    stamp = f"TO_CHAR(deleteddate, '{STAMP_FORMAT}')"
    return (
        f"SELECT recordid AS {entity.group_column}, {stamp} AS {entity.cursor} FROM deletedrecord "
        f"WHERE {_deleted_in(f'= {_type_list([record_type])}', window)}"
    )


def keyset_query(query: str, key: str, lower: int | None = None, upper: int | None = None) -> str:
    """``query`` restricted to ``lower < key <= upper`` (either bound optional), in key order."""
    bounds = ([f"{key} > {lower}"] if lower is not None else []) + (
        [f"{key} <= {upper}"] if upper is not None else []
    )
    joiner = " AND " if " WHERE " in query else " WHERE "
    return f"{query}{joiner + ' AND '.join(bounds) if bounds else ''} ORDER BY {key}"


def probe_query(entity: Entity, window: Window, tag: str | None = None) -> str:
    """The identities of the records (per group: every save re-stamps a transaction and all its
    lines) and of the ``deletedrecord`` rows in ``window``, as one statement; with ``tag``, each
    row also names it as ``e`` (several probes in one statement: :func:`probes_query`)."""
    stamp = f"TO_CHAR({cursor_expr(entity)}, '{STAMP_FORMAT}')"
    distinct = "DISTINCT " if entity.group else ""
    named = f"'{tag}' AS e, " if tag else ""
    records = (
        f"SELECT {distinct}{named}{column_expr(entity, entity.group_column)} AS g, {stamp} AS m, "
        f"'F' AS d FROM {entity.source} WHERE {where(entity, window)}"
    )
    if not entity.deleted_record_types:
        return records
    return (
        f"{records} UNION ALL "
        f"SELECT {named}recordid AS g, TO_CHAR(deleteddate, '{STAMP_FORMAT}') AS m, 'T' AS d "
        f"FROM deletedrecord WHERE {_deleted_in(f'IN ({_type_list(entity.deleted_record_types)})', window)}"
    )


def probes_query(items: Sequence[tuple[Entity, Window]]) -> str:
    """Every entity's probe as one ``UNION ALL``, each row naming its entity's table (``e``)."""
    return " UNION ALL ".join(probe_query(e, w, tag=e.table) for e, w in items)


def earliest_queries(entity: Entity) -> list[str]:
    """One query per stamp source (records, then each deletion type), each answering ``m``."""
    filters = f" WHERE {' AND '.join(entity.where)}" if entity.where else ""
    return [
        f"SELECT TO_CHAR(MIN({cursor_expr(entity)}), '{STAMP_FORMAT}') AS m FROM {entity.source}{filters}",
        *(
            f"SELECT TO_CHAR(MIN(deleteddate), '{STAMP_FORMAT}') AS m FROM deletedrecord "
            f"WHERE recordtypeid = '{record_type}'"
            for record_type in entity.deleted_record_types
        ),
    ]


def changes_query(marks: Sequence[tuple[Entity, dt.datetime]]) -> str:
    """One statement counting, per entity, rows and deletions after its watermark (``entity``,
    ``n`` per part). SuiteQL stamps have second precision, so "after" is ``>= watermark + 1 s``."""
    parts: list[str] = []
    for entity, mark in marks:
        after = Window(mark + dt.timedelta(seconds=1), FAR_FUTURE)
        parts.append(
            f"SELECT '{entity.table}' AS entity, COUNT(*) AS n FROM {entity.source} "
            f"WHERE {where(entity, after)}"
        )
        if entity.deleted_record_types:
            parts.append(
                f"SELECT '{entity.table}' AS entity, COUNT(*) AS n FROM deletedrecord "
                f"WHERE recordtypeid IN ({_type_list(entity.deleted_record_types)}) "
                f"AND deleteddate >= {literal(after.start)}"
            )
    return " UNION ALL ".join(parts)


def transactions_since_query(
    types: Iterable[str], since: dt.datetime, ids: Iterable[str] | None = None
) -> str:
    """Transactions of ``types`` stamped at or after ``since`` (re-reading a boundary row is
    harmless, missing one is not), with their customer's external id; only ``ids`` when given."""
    only = ""
    if ids is not None:
        only = f"t.id IN ({', '.join(str(int(i)) for i in ids) or 'NULL'}) AND "
    return (
        "SELECT t.id, t.tranid, t.type, t.status, t.entity, t.foreigntotal, "
        f"TO_CHAR(t.trandate, '{DATE_FORMAT}') AS trandate, "
        f"TO_CHAR(t.lastmodifieddate, '{STAMP_FORMAT}') AS modified, c.externalid AS customer_externalid "
        "FROM transaction t LEFT JOIN customer c ON c.id = t.entity "
        f"WHERE {only}t.type IN ({_type_list(types)}) AND t.lastmodifieddate >= {literal(since)} "
        "ORDER BY t.lastmodifieddate, t.id"
    )


def sales_orders_by_external_id_queries(external_ids: Sequence[str], chunk: int = 200) -> list[str]:
    """Sales orders carrying these external ids (ids and external ids), 200 per statement."""
    ids = sorted(set(external_ids))
    return [
        "SELECT id, externalid FROM transaction WHERE type = 'SalesOrd' AND externalid IN ("
        + ", ".join("'" + e.replace("'", "''") + "'" for e in ids[start : start + chunk])
        + ")"
        for start in range(0, len(ids), chunk)
    ]
