"""Salesforce formula fields: values the org computes when a record is read, not when it is saved.

Salesforce evaluates a formula field every time the record is read, so the value follows its
inputs -- a parent record (cross-object formulas), ``TODAY()``, the org's conversion rates
(``CURRENCYRATE``) -- while the record's own ``LastModifiedDate`` and ``SystemModstamp`` never
move: exactly why cursor-based extractors keep stale formula values. The sandbox stores formula
values in their columns and refreshes them whenever an input may have changed (world build,
every simulator step, every API write), without touching a stamp, which is what a client reading
the record sees. Roll-up summary fields behave differently: Salesforce saves them with their
parent record, stamps included (``ROLLUPS`` in :mod:`o2c_sandbox.salesforce.dml`).

Each formula is declared once here, as the SQL that evaluates it over the record ``t``; its
Salesforce text and ``calculated: true`` live on the field in :mod:`o2c_sandbox.schema`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import duckdb

from o2c_sandbox.schema import SF_OBJECTS

#: ``depends_on`` marker: every record depends on the input (``TODAY()``, a rate table).
ALL_ROWS = "*"
#: ``changed`` key meaning "the date moved": refreshes every ``TODAY()`` formula.
TODAY = "TODAY"


@dataclass(frozen=True)
class Formula:
    obj: str
    field: str
    #: SQL evaluating the formula for the record ``t``; ``$today`` is the evaluation date
    sql: str
    #: (input, how a change to it reaches ``t``): the record itself ("Id"), a reference field of
    #: ``t`` pointing at the changed parent, or ALL_ROWS
    depends_on: tuple[tuple[str, str], ...]


def _rate(iso_sql: str) -> str:
    return f'(SELECT r."ConversionRate" FROM sf."CurrencyType" r WHERE r."IsoCode" = {iso_sql})'


FORMULAS: tuple[Formula, ...] = (
    Formula(
        "Opportunity",
        "Amount_Corporate__c",
        'round(t."Amount" / ' + _rate('t."CurrencyIsoCode"') + ", 2)",
        (("Opportunity", "Id"), ("CurrencyType", ALL_ROWS)),
    ),
    Formula(
        "Order",
        "Account_Industry__c",
        '(SELECT a."Industry" FROM sf."Account" a WHERE a."Id" = t."AccountId")',
        (("Order", "Id"), ("Account", "AccountId")),
    ),
    Formula(
        "Order",
        "Days_Since_Activation__c",
        'CASE WHEN t."ActivatedDate" IS NOT NULL '
        "THEN date_diff('day', CAST(t.\"ActivatedDate\" AS DATE), $today) END",
        (("Order", "Id"), (TODAY, ALL_ROWS)),
    ),
)


def refresh(
    cur: duckdb.DuckDBPyConnection,
    today: dt.date,
    changed: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, list[str]]:
    """Re-evaluate the formulas whose inputs changed (all of them when ``changed`` is None);
    returns ``{"sf.<Object>.<Field>": [ids whose value changed]}``. Stamps are left alone.

    ``changed`` maps an object name (or :data:`TODAY`) to the ids written, as the DML layer and
    the simulator know them.
    """
    out: dict[str, list[str]] = {}
    today_sql = f"DATE '{today.isoformat()}'"
    for formula in FORMULAS:
        restrictions: list[str] = []
        params: list[list[str]] = []
        if changed is None:
            restrictions = ["TRUE"]
        else:
            for source, via in formula.depends_on:
                ids = changed.get(source)
                if ids is None:
                    continue
                ids = list(ids)
                if via == ALL_ROWS:
                    restrictions = ["TRUE"]
                    params = []
                    break
                if ids:
                    restrictions.append(f't."{via}" IN (SELECT unnest(?::VARCHAR[]))')
                    params.append(ids)
        if not restrictions:
            continue
        table = f'sf."{formula.obj}"'
        value = formula.sql.replace("$today", today_sql)
        changed_ids = update_changed(
            cur,
            table,
            formula.field,
            f'SELECT t."Id", {value} AS val FROM {table} t WHERE {" OR ".join(restrictions)}',
            params,
        )
        if changed_ids:
            out[f"sf.{formula.obj}.{formula.field}"] = changed_ids
    return out


def update_changed(
    cur: duckdb.DuckDBPyConnection,
    table: str,
    field: str,
    values_sql: str,
    params: list,
    extra_sets: str = "",
    extra_params: list | None = None,
) -> list[str]:
    """Set ``field`` from ``values_sql`` (rows of ``"Id"``, ``val``) where it differs; returns
    those ids. Staged in a temp table: DuckDB's UPDATE ... RETURNING is slow on large tables."""
    cur.execute(
        f'CREATE OR REPLACE TEMP TABLE _changed AS SELECT v."Id", v.val FROM ({values_sql}) v '
        f'JOIN {table} u ON u."Id" = v."Id" WHERE u."{field}" IS DISTINCT FROM v.val',
        params,
    )
    ids = [r[0] for r in cur.execute('SELECT "Id" FROM _changed ORDER BY 1').fetchall()]
    if ids:
        cur.execute(
            f'UPDATE {table} AS u SET "{field}" = c.val{extra_sets} FROM _changed c WHERE u."Id" = c."Id"',
            extra_params or [],
        )
    cur.execute("DROP TABLE _changed")
    return ids


def _check_declarations() -> None:
    """Every calculated formula field of the schema has its evaluation here, and vice versa."""
    declared = {(f.obj, f.field) for f in FORMULAS}
    in_schema = {
        (o.name, f.name)
        for o in SF_OBJECTS.values()
        for f in o.fields
        if f.calculated and f.formula is not None
    }
    if declared != in_schema:
        raise AssertionError(f"formula fields out of step: {declared ^ in_schema}")


_check_declarations()
