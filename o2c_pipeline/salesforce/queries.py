"""Every SOQL statement the pipeline sends, built from entity declarations: extraction, probes,
counts, the earliest stamp, the change sensor's counts and the sync's price-book look-ups.

Windows filter with ``>=`` / ``<`` on the entity's cursor (never a strict ``>`` on a watermark);
SOQL datetime literals are unquoted ISO-8601 UTC at second precision.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from o2c_pipeline.entities import Entity
from o2c_pipeline.extract.windows import Window, as_utc

STANDARD_PRICEBOOK = "SELECT Id FROM Pricebook2 WHERE IsStandard = true"
IN_LIST_MAX = 200  # ids per IN (...) list, well inside SOQL's statement length limit


def literal(value: dt.datetime) -> str:
    """SOQL datetime literal: unquoted ISO-8601 UTC, second precision."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_filter(entity: Entity, window: Window) -> str:
    return f"{entity.cursor} >= {literal(window.start)} AND {entity.cursor} < {literal(window.end)}"


def changed_since_filter(entity: Entity, mark: dt.datetime) -> str:
    """Records stamped after ``mark`` (the change sensor counts them through queryAll)."""
    return f"{entity.cursor} > {literal(mark)}"


def records_query(entity: Entity, window: Window) -> str:
    fields = ", ".join(entity.column_names)
    return f"SELECT {fields} FROM {entity.source} WHERE {window_filter(entity, window)}"


def probe_query(entity: Entity, window: Window, limit: int) -> str:
    """Key, stamp and deleted flag of the records in ``window``, at most ``limit`` rows."""
    fields = [entity.group_column, entity.cursor, *filter(None, [entity.deleted_flag])]
    return (
        f"SELECT {', '.join(dict.fromkeys(fields))} FROM {entity.source} "
        f"WHERE {window_filter(entity, window)} LIMIT {limit}"
    )


def earliest_query(entity: Entity) -> str:
    return f"SELECT {entity.cursor} FROM {entity.source} ORDER BY {entity.cursor} ASC LIMIT 1"


def pricebook_entries_queries(
    pricebook_id: str, product_ids: Sequence[str], currency: str | None = None
) -> list[str]:
    """The entries of ``pricebook_id`` for ``product_ids`` (in ``currency``: a multi-currency
    org has one entry per product and currency), one query per 200 products."""
    queries = []
    in_currency = f" AND CurrencyIsoCode = '{currency}'" if currency else ""
    for start in range(0, len(product_ids), IN_LIST_MAX):
        in_list = ", ".join(f"'{pid}'" for pid in product_ids[start : start + IN_LIST_MAX])
        queries.append(
            "SELECT Id, Product2Id, UnitPrice, IsActive FROM PricebookEntry "
            f"WHERE Pricebook2Id = '{pricebook_id}'{in_currency} AND Product2Id IN ({in_list})"
        )
    return queries
