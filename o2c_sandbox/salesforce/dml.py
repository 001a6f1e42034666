"""Writes: insert, update, upsert and delete with Salesforce's validation, for every surface.

REST sObject calls, composite collections and Bulk API 2.0 ingest all end here, so a record is
validated the same way wherever it comes from. Work is batch-shaped — one lookup per reference
field, one INSERT of an Arrow table, one UPDATE per distinct field set — because a Bulk API
upsert may carry many thousands of rows. Per-record failures come back as outcomes in input
order; with ``all_or_none`` any failure rolls the whole transaction back.

The org's automation (auto-numbers, the line-total formula, the order-total roll-up, the
cascade from an order to its lines) is declared once below and applied generically.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
import pyarrow as pa

from o2c_sandbox import calculated
from o2c_sandbox.core import Store
from o2c_sandbox.salesforce.model import (
    UNSET,
    SfError,
    coerce,
    find_field,
    make_id,
    normalize_id,
    object_for_id,
    quote_ident,
    table_sql,
    utcnow,
)
from o2c_sandbox.schema import (
    CORPORATE_CURRENCY,
    OPPORTUNITY_STAGES,
    SF_API_OBJECTS,
    SF_OBJECTS,
    SfField,
    SfObject,
)

Operation = Literal["insert", "update", "upsert", "delete", "hardDelete"]

# -- the org's declarative automation ----------------------------------------------------------
#: (object, field) → digits of the auto-number.
AUTO_NUMBERS: dict[tuple[str, str], int] = {
    ("Order", "OrderNumber"): 8,
    ("OrderItem", "OrderItemNumber"): 10,
}


def _literal(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


def _by_stage(column: int) -> str:
    """SQL mapping ``StageName`` to one column of the org's sales process (OPPORTUNITY_STAGES)."""
    cases = " ".join(
        f"WHEN {_literal(stage)} THEN {_literal(values[column])}"
        for stage, values in OPPORTUNITY_STAGES.items()
    )
    return f'CASE "StageName" {cases} END'


#: object → {field: SQL over the same row}, recomputed on every write of the row. Probability
#: and the forecast category default from the stage; IsClosed/IsWon always follow it.
FORMULAS: dict[str, dict[str, str]] = {
    "OrderItem": {"TotalPrice": '"Quantity" * "UnitPrice"'},
    "OpportunityLineItem": {"TotalPrice": '"Quantity" * "UnitPrice"'},
    "Opportunity": {
        "IsClosed": _by_stage(0),
        "IsWon": _by_stage(1),
        "Probability": f'coalesce("Probability", {_by_stage(2)})',
        "ForecastCategoryName": f'coalesce("ForecastCategoryName", {_by_stage(3)})',
    },
}


@dataclass(frozen=True)
class Rollup:
    """A roll-up summary: ``aggregate`` over the live children ``c`` of the parent ``p``.

    Salesforce saves the parent when the summary changes, so its SystemModstamp moves too.
    ``empty`` is the value without children; ``joins`` adds tables the aggregate reads.
    """

    parent: str
    field: str
    child: str
    via: str  # the child's reference to the parent
    aggregate: str  # SQL aggregate over the child rows c (and the parent p)
    empty: str = "0"
    joins: str = ""


#: Live orders roll up into the account in the account's currency, converted at the org's
#: static rates (roll-up summaries never use dated rates).
_LIVE_ORDER = """c."Status" IN ('Activated', 'Shipped', 'Partially Shipped')"""
ROLLUPS = (
    Rollup("Order", "TotalAmount", "OrderItem", "OrderId", 'sum(c."TotalPrice")'),
    # with products, an opportunity's Amount is the sum of its lines; without, what users typed
    Rollup(
        "Opportunity",
        "Amount",
        "OpportunityLineItem",
        "OpportunityId",
        'sum(c."TotalPrice")',
        empty='any_value(p."Amount")',
    ),
    Rollup(
        "Opportunity",
        "HasOpportunityLineItem",
        "OpportunityLineItem",
        "OpportunityId",
        'count(c."Id") > 0',
        empty="false",
    ),
    Rollup(
        "Account",
        "Total_Order_Amount__c",
        "Order",
        "AccountId",
        f'round(sum(c."TotalAmount" * pr."ConversionRate" / cr."ConversionRate") '
        f"FILTER (WHERE {_LIVE_ORDER}), 2)",
        joins='LEFT JOIN sf."CurrencyType" pr ON pr."IsoCode" = p."CurrencyIsoCode" '
        'LEFT JOIN sf."CurrencyType" cr ON cr."IsoCode" = c."CurrencyIsoCode"',
    ),
)
#: deleting a parent deletes these children (master-detail): object → [(child, reference)].
CASCADE_DELETE: dict[str, list[tuple[str, str]]] = {
    "Order": [("OrderItem", "OrderId")],
    "Opportunity": [("OpportunityLineItem", "OpportunityId")],
}
#: (object, field) ← (reference on the same record, field of the referenced record), on insert,
#: in this order (a line's product comes from its price book entry, its code from the product).
DEFAULT_FROM_REFERENCE: dict[tuple[str, str], tuple[str, str]] = {
    ("OrderItem", "Product2Id"): ("PricebookEntryId", "Product2Id"),
    ("OrderItem", "CurrencyIsoCode"): ("OrderId", "CurrencyIsoCode"),
    ("OpportunityLineItem", "Product2Id"): ("PricebookEntryId", "Product2Id"),
    ("OpportunityLineItem", "ProductCode"): ("Product2Id", "ProductCode"),
    ("OpportunityLineItem", "ListPrice"): ("PricebookEntryId", "UnitPrice"),
    ("OpportunityLineItem", "CurrencyIsoCode"): ("OpportunityId", "CurrencyIsoCode"),
}
#: A new record's currency, unless given: the running user's default currency (Salesforce does
#: not take the account's currency for a new opportunity or order).
DEFAULT_CURRENCY = CORPORATE_CURRENCY
#: (line object, its parent reference, parent label): a line's price book entry must be in the
#: parent's currency.
CURRENCY_MATCH = (
    ("OpportunityLineItem", "OpportunityId", "opportunity"),
    ("OrderItem", "OrderId", "order"),
)

ROLLED_BACK = SfError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request "
    "was using AllOrNone header",
)

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us"),
    "DATE": pa.date32(),
    "DOUBLE": pa.float64(),
    "INTEGER": pa.int32(),
}


class MultipleMatches(SfError):
    """An upsert's external id matched several records (REST answers 300 with their URLs)."""

    def __init__(self, field_name: str, value: str, ids: list[str]):
        super().__init__(
            "DUPLICATE_EXTERNAL_ID",
            f"{field_name}: more than one record found for external id field: {ids}",
            [field_name],
            status=300,
        )
        self.ids = ids


@dataclass
class Outcome:
    id: str | None = None
    error: SfError | None = None
    created: bool | None = None

    @property
    def success(self) -> bool:
        return self.error is None


@dataclass
class Batch:
    """Records of one object under one operation."""

    obj: SfObject
    operation: Operation
    records: list[dict[str, Any]]
    external_id_field: str | None = None
    from_csv: bool = False


class _Rollback(Exception):
    pass


def save(store: Store, batches: Iterable[Batch], *, all_or_none: bool = False) -> list[Outcome]:
    """Apply ``batches`` in order in one transaction; outcomes are flattened in input order."""
    outcomes: list[Outcome] = []
    try:
        with store.writer() as cur:
            now = utcnow()
            for batch in batches:
                outcomes.extend(_apply(cur, batch, now))
            if all_or_none and not all(o.success for o in outcomes):
                raise _Rollback
    except _Rollback:
        for o in outcomes:
            if o.success:
                o.id, o.error, o.created = None, ROLLED_BACK, None
    return outcomes


# -- one batch ---------------------------------------------------------------------------------
@dataclass
class _Row:
    index: int
    values: dict[str, Any]
    id: str | None = None
    create: bool = False
    fields_in_error: list[str] = field(default_factory=list)


def _apply(cur: duckdb.DuckDBPyConnection, batch: Batch, now: dt.datetime) -> list[Outcome]:
    obj = batch.obj
    outcomes = [Outcome() for _ in batch.records]
    rows: list[_Row] = []
    for i, record in enumerate(batch.records):
        try:
            rows.append(_Row(i, _parse(obj, record, batch.from_csv)))
        except SfError as err:
            outcomes[i].error = err

    def fail(row: _Row, err: SfError) -> None:
        outcomes[row.index].error = err

    live = _Targets(cur, obj, batch, rows, fail).resolve()
    if batch.operation in ("delete", "hardDelete"):
        _delete(cur, obj, live, now, hard=batch.operation == "hardDelete")
        for row in live:
            outcomes[row.index].id = row.id
        return outcomes

    live = _validate(cur, obj, live, fail)
    creates = [r for r in live if r.create]
    updates = [r for r in live if not r.create]
    touched_before = _rollup_parents(cur, obj, [r.id for r in updates if r.id])
    _insert(cur, obj, creates, now)
    _update(cur, obj, updates, now)
    touched = [r.id for r in live if r.id]
    _derive(cur, obj, touched, touched_before, now)
    for row in live:
        outcome = outcomes[row.index]
        outcome.id = row.id
        if batch.operation == "upsert":
            outcome.created = row.create
    return outcomes


def _parse(obj: SfObject, record: dict[str, Any], from_csv: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, raw in record.items():
        if key == "attributes":
            declared = (raw or {}).get("type") if isinstance(raw, dict) else None
            if declared and declared.lower() != obj.name.lower():
                raise SfError(
                    "INVALID_TYPE", f"sObject type mismatch: {declared} in a {obj.name} request"
                )
            continue
        fld = find_field(obj, key)
        if fld is None:
            raise SfError(
                "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}", [key]
            )
        value = coerce(fld, raw, from_csv=from_csv)
        if value is not UNSET:
            values[fld.name] = value
    return values


class _Targets:
    """Decides per row: create, or which existing record to update/delete."""

    def __init__(self, cur, obj: SfObject, batch: Batch, rows: list[_Row], fail):
        self.cur, self.obj, self.batch, self.rows, self.fail = cur, obj, batch, rows, fail

    def resolve(self) -> list[_Row]:
        op = self.batch.operation
        if op == "insert":
            for row in self.rows:
                row.create = True
            return [r for r in self.rows if self._no_id(r)]
        if op == "upsert":
            ext = self.batch.external_id_field or "Id"
            fld = find_field(self.obj, ext)
            if fld is not None and fld.name == "Id":
                return self._by_id(allow_create=True)
            return self._by_external_id(fld)
        return self._by_id(allow_create=False)

    def _no_id(self, row: _Row) -> bool:
        if row.values.get("Id"):
            self.fail(
                row,
                SfError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"]
                ),
            )
            return False
        row.values.pop("Id", None)
        return True

    def _by_id(self, *, allow_create: bool) -> list[_Row]:
        wanted = [r.values.get("Id") for r in self.rows]
        state = dict(
            _fetch(
                self.cur,
                f'SELECT "Id", "IsDeleted" FROM {table_sql(self.obj)} '
                'WHERE "Id" IN (SELECT unnest(?::VARCHAR[]))',
                [[w for w in wanted if w]],
            )
        )
        out = []
        for row in self.rows:
            record_id = row.values.pop("Id", None)
            if not record_id:
                if allow_create:
                    row.create = True
                    out.append(row)
                else:
                    self.fail(
                        row,
                        SfError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"]),
                    )
                continue
            if record_id not in state:
                prefix_ok = record_id.startswith(self.obj.key_prefix)
                self.fail(
                    row,
                    SfError(
                        "INVALID_CROSS_REFERENCE_KEY" if prefix_ok else "MALFORMED_ID",
                        "invalid cross reference id"
                        if prefix_ok
                        else f"{self.obj.name} ID: id value of incorrect type: {record_id}",
                        ["Id"],
                        status=404,
                    ),
                )
            elif state[record_id]:
                self.fail(
                    row, SfError("ENTITY_IS_DELETED", "entity is deleted", ["Id"], status=404)
                )
            else:
                row.id = record_id
                out.append(row)
        return out

    def _by_external_id(self, fld: SfField | None) -> list[_Row]:
        name = self.batch.external_id_field or ""
        if fld is None or not (fld.external_id or fld.unique):
            err = SfError(
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {name}",
                [name],
                status=404,
            )
            for row in self.rows:
                self.fail(row, err)
            return []
        values = [r.values.get(fld.name) for r in self.rows]
        matches: dict[Any, list[str]] = {}
        for value, record_id in _fetch(
            self.cur,
            f'SELECT {quote_ident(fld.name)}, "Id" FROM {table_sql(self.obj)} '
            f'WHERE NOT "IsDeleted" AND {quote_ident(fld.name)} IN '
            '(SELECT unnest(?::VARCHAR[])) ORDER BY "Id"',
            [[str(v) for v in values if v is not None]],
        ):
            matches.setdefault(value, []).append(record_id)
        seen: set[Any] = set()
        out = []
        for row in self.rows:
            row.values.pop("Id", None)
            value = row.values.get(fld.name)
            if value is None:
                self.fail(row, SfError("MISSING_ARGUMENT", f"{fld.name} not specified", [fld.name]))
                continue
            if value in seen:
                self.fail(
                    row,
                    SfError(
                        "DUPLICATE_EXTERNAL_ID",
                        f"Duplicate external id specified: {value}",
                        [fld.name],
                    ),
                )
                continue
            seen.add(value)
            found = matches.get(value, [])
            if len(found) > 1:
                self.fail(row, MultipleMatches(fld.name, value, found))
                continue
            row.create = not found
            row.id = found[0] if found else None
            out.append(row)
        return out


def _validate(cur, obj: SfObject, rows: list[_Row], fail) -> list[_Row]:
    """Field access, required fields, references and uniqueness; returns the rows still valid."""
    for row in rows:
        try:
            _check_access(obj, row)
        except SfError as err:
            fail(row, err)
            row.fields_in_error = ["*"]
    rows = [r for r in rows if not r.fields_in_error]
    _fill_from_references(cur, obj, rows)
    currency = find_field(obj, "CurrencyIsoCode")
    if currency is not None and currency.createable:
        for row in rows:
            if row.create and row.values.get("CurrencyIsoCode") is None:
                row.values["CurrencyIsoCode"] = DEFAULT_CURRENCY
    for row in rows:
        if row.create:
            for f in obj.fields:
                if f.default_value is not None and row.values.get(f.name) is None:
                    row.values[f.name] = f.default_value
            missing = [
                f.name
                for f in obj.fields
                if f.createable
                and not f.nillable
                and f.type != "boolean"
                and row.values.get(f.name) is None
            ]
            if missing:
                fail(
                    row,
                    SfError(
                        "REQUIRED_FIELD_MISSING",
                        f"Required fields are missing: [{', '.join(missing)}]",
                        missing,
                    ),
                )
                row.fields_in_error = missing
    rows = [r for r in rows if not r.fields_in_error]
    for fld in obj.fields:
        if fld.type == "reference":
            rows = _check_references(cur, obj, fld, rows, fail)
        if fld.unique or (fld.external_id and fld.unique):
            rows = _check_unique(cur, obj, fld, rows, fail)
    return _check_entry_currency(cur, obj, rows, fail)


def _check_entry_currency(cur, obj: SfObject, rows: list[_Row], fail) -> list[_Row]:
    """A line's price book entry must be in its opportunity's or order's currency."""
    for line_obj, via, label in CURRENCY_MATCH:
        checked = [r for r in rows if r.values.get("PricebookEntryId")]
        if line_obj != obj.name or not checked:
            continue
        parent = SF_OBJECTS[obj.field(via).reference_to or ""]
        stored = dict(  # updates may name the entry without the parent
            _fetch(
                cur,
                f'SELECT "Id", {quote_ident(via)} FROM {table_sql(obj)} '
                'WHERE "Id" IN (SELECT unnest(?::VARCHAR[]))',
                [[r.id for r in checked if r.id]],
            )
        )
        parent_of = {r.index: r.values.get(via) or stored.get(r.id) for r in checked}
        currency_of = dict(
            _fetch(
                cur,
                f'SELECT "Id", "CurrencyIsoCode" FROM {table_sql(parent)} '
                'WHERE "Id" IN (SELECT unnest(?::VARCHAR[])) UNION ALL '
                'SELECT "Id", "CurrencyIsoCode" FROM sf."PricebookEntry" '
                'WHERE "Id" IN (SELECT unnest(?::VARCHAR[]))',
                [
                    [p for p in parent_of.values() if p],
                    [r.values["PricebookEntryId"] for r in checked],
                ],
            )
        )
        mismatched = {
            r.index
            for r in checked
            if currency_of.get(r.values["PricebookEntryId"])
            not in (None, currency_of.get(parent_of[r.index]))
            and currency_of.get(parent_of[r.index]) is not None
        }
        for row in rows:
            if row.index in mismatched:
                fail(
                    row,
                    SfError(
                        "FIELD_INTEGRITY_EXCEPTION",
                        "field integrity exception: PricebookEntryId (pricebook entry currency "
                        f"code does not match {label} currency code)",
                        ["PricebookEntryId"],
                    ),
                )
        rows = [r for r in rows if r.index not in mismatched]
    return rows


def _check_access(obj: SfObject, row: _Row) -> None:
    blocked = [
        name
        for name in row.values
        if not (obj.field(name).createable if row.create else obj.field(name).updateable)
    ]
    if blocked:
        raise SfError(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {', '.join(blocked)}. Please check the "
            "security settings of this field and verify that it is read/write for your "
            "profile or permission set.",
            blocked,
        )
    if not row.create:
        cleared = [n for n, v in row.values.items() if v is None and not obj.field(n).nillable]
        if cleared:
            raise SfError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(cleared)}]",
                cleared,
            )


def _fill_from_references(cur, obj: SfObject, rows: list[_Row]) -> None:
    for (obj_name, target), (ref_name, source) in DEFAULT_FROM_REFERENCE.items():
        if obj_name != obj.name:
            continue
        ref = obj.field(ref_name)
        need = [
            r for r in rows if r.create and r.values.get(target) is None and r.values.get(ref_name)
        ]
        if not need or ref.reference_to is None:
            continue
        found = dict(
            _fetch(
                cur,
                f'SELECT "Id", {quote_ident(source)} FROM '
                f"{table_sql(SF_API_OBJECTS[ref.reference_to])} "
                'WHERE "Id" IN (SELECT unnest(?::VARCHAR[]))',
                [[r.values[ref_name] for r in need]],
            )
        )
        for row in need:
            if found.get(row.values[ref_name]) is not None:
                row.values[target] = found[row.values[ref_name]]


def _check_references(cur, obj: SfObject, fld: SfField, rows: list[_Row], fail) -> list[_Row]:
    target = SF_API_OBJECTS[fld.reference_to] if fld.reference_to else None
    wanted = {r.values[fld.name] for r in rows if r.values.get(fld.name)}
    if not wanted or target is None:
        return rows
    existing = {
        row[0]
        for row in _fetch(
            cur,
            f'SELECT "Id" FROM {table_sql(target)} WHERE NOT '
            '"IsDeleted" AND "Id" IN (SELECT unnest(?::VARCHAR[]))',
            [sorted(wanted)],
        )
    }
    out = []
    for row in rows:
        value = row.values.get(fld.name)
        if value and value not in existing:
            wrong_type = (object_for_id(value) or target) is not target
            fail(
                row,
                SfError(
                    "FIELD_INTEGRITY_EXCEPTION" if wrong_type else "INVALID_CROSS_REFERENCE_KEY",
                    f"{fld.name}: id value of incorrect type: {value}"
                    if wrong_type
                    else f"invalid cross reference id: {fld.name} = {value}",
                    [fld.name],
                ),
            )
        else:
            out.append(row)
    return out


def _check_unique(cur, obj: SfObject, fld: SfField, rows: list[_Row], fail) -> list[_Row]:
    values = [r.values[fld.name] for r in rows if r.values.get(fld.name) is not None]
    if not values:
        return rows
    owners: dict[Any, str] = dict(
        _fetch(
            cur,
            f'SELECT {quote_ident(fld.name)}, "Id" FROM {table_sql(obj)} WHERE NOT "IsDeleted" '
            f"AND {quote_ident(fld.name)} IN (SELECT unnest(?::VARCHAR[]))",
            [values],
        )
    )
    out = []
    for row in rows:
        value = row.values.get(fld.name)
        owner = owners.get(value) if value is not None else None
        if owner is not None and owner != row.id:
            fail(
                row,
                SfError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {fld.name} duplicates "
                    f"value on record with id: {owner}",
                    [fld.name],
                ),
            )
            continue
        if value is not None:
            owners[value] = row.id or f"(row {row.index + 1} of this request)"
        out.append(row)
    return out


# -- SQL writes ---------------------------------------------------------------------------------
def _insert(cur, obj: SfObject, rows: list[_Row], now: dt.datetime) -> None:
    if not rows:
        return
    table = table_sql(obj)
    next_id = _max_number(cur, 'substr("Id", 4, 12)', table) + 1
    counters = {
        name: _max_number(cur, quote_ident(name), table) + 1
        for (obj_name, name) in AUTO_NUMBERS
        if obj_name == obj.name
    }
    rollup_empty = {r.field: r.empty for r in ROLLUPS if r.parent == obj.name}
    for row in rows:
        row.id = make_id(obj, next_id)
        next_id += 1
        row.values.update(
            Id=row.id, IsDeleted=False, CreatedDate=now, LastModifiedDate=now, SystemModstamp=now
        )
        for name in counters:
            row.values[name] = f"{counters[name]:0{AUTO_NUMBERS[(obj.name, name)]}d}"
            counters[name] += 1
        for f in obj.fields:
            if f.type == "boolean" and row.values.get(f.name) is None and not f.nillable:
                row.values[f.name] = False
            if rollup_empty.get(f.name) == "0":
                row.values[f.name] = 0.0
            elif rollup_empty.get(f.name) == "false":
                row.values[f.name] = False
    columns = {
        f.name: pa.array([r.values.get(f.name) for r in rows], _ARROW_TYPES[f.duckdb_type])
        for f in obj.stored_fields
    }
    _with_table(
        cur,
        pa.table(columns),
        lambda name: _fetch(cur, f"INSERT INTO {table} BY NAME SELECT * FROM {name}"),
    )


def _update(cur, obj: SfObject, rows: list[_Row], now: dt.datetime) -> None:
    groups: dict[tuple[str, ...], list[_Row]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row.values)), []).append(row)
    table = table_sql(obj)
    for names, group in groups.items():
        columns = {"Id": pa.array([r.id for r in group], pa.string())}
        for name in names:
            columns[name] = pa.array(
                [r.values[name] for r in group], _ARROW_TYPES[obj.field(name).duckdb_type]
            )
        sets = [f"{quote_ident(n)} = u.{quote_ident(n)}" for n in names]
        sets += ['"LastModifiedDate" = ?', '"SystemModstamp" = ?']
        _with_table(
            cur,
            pa.table(columns),
            lambda name, sets=sets: _fetch(
                cur,
                f'UPDATE {table} SET {", ".join(sets)} FROM {name} u WHERE {table}."Id" = u."Id"',
                [now, now],
            ),
        )


def _delete(cur, obj: SfObject, rows: list[_Row], now: dt.datetime, *, hard: bool) -> None:
    ids = [r.id for r in rows if r.id]
    if not ids:
        return
    parents_before = _rollup_parents(cur, obj, ids)
    _delete_ids(cur, obj, ids, now, hard=hard)
    for child_name, via in CASCADE_DELETE.get(obj.name, []):
        child = SF_API_OBJECTS[child_name]
        child_ids = [
            r[0]
            for r in _fetch(
                cur,
                f'SELECT "Id" FROM {table_sql(child)} WHERE NOT '
                f'"IsDeleted" AND {quote_ident(via)} IN '
                "(SELECT unnest(?::VARCHAR[]))",
                [ids],
            )
        ]
        if child_ids:
            _delete_ids(cur, child, child_ids, now, hard=hard)
    _derive(cur, obj, [], parents_before, now)


def _delete_ids(cur, obj: SfObject, ids: list[str], now: dt.datetime, *, hard: bool) -> None:
    where = '"Id" IN (SELECT unnest(?::VARCHAR[]))'
    if hard:
        _fetch(cur, f"DELETE FROM {table_sql(obj)} WHERE {where}", [ids])
    else:
        _fetch(
            cur,
            f'UPDATE {table_sql(obj)} SET "IsDeleted" = true, "SystemModstamp" = ? WHERE {where}',
            [now, ids],
        )


def _derive(cur, obj: SfObject, ids: list[str], parents_before: set[str], now: dt.datetime) -> None:
    """Recompute formula fields of ``ids``, the formula fields that read them, and the roll-ups
    of every parent they touch (and of those parents' parents)."""
    table = table_sql(obj)
    formulas = FORMULAS.get(obj.name)
    if formulas and ids:
        sets = ", ".join(f"{quote_ident(k)} = {v}" for k, v in formulas.items())
        _fetch(cur, f'UPDATE {table} SET {sets} WHERE "Id" IN (SELECT unnest(?::VARCHAR[]))', [ids])
    if ids:
        calculated.refresh(cur, now.date(), {obj.name: ids})
    parents = parents_before | _rollup_parents(cur, obj, ids)
    if not parents:
        return
    for parent_name in dict.fromkeys(r.parent for r in ROLLUPS if r.child == obj.name):
        changed: set[str] = set()
        for rollup in ROLLUPS:
            if rollup.child == obj.name and rollup.parent == parent_name:
                changed.update(refresh_rollup(cur, rollup, parents, now))
        if changed:
            _derive(cur, SF_OBJECTS[parent_name], sorted(changed), set(), now)


def refresh_rollup(
    cur, rollup: Rollup, parent_ids: Iterable[str] | None, stamp: dt.datetime | None
) -> list[str]:
    """Recompute ``rollup`` for ``parent_ids`` (every parent when None); returns the parents
    whose value changed, whose SystemModstamp becomes ``stamp`` when one is given."""
    parent = table_sql(SF_OBJECTS[rollup.parent])
    child = table_sql(SF_OBJECTS[rollup.child])
    where, params = 'WHERE NOT p."IsDeleted"', []  # the recycle bin keeps what it held
    if parent_ids is not None:
        where, params = f'{where} AND p."Id" IN (SELECT unnest(?::VARCHAR[]))', [sorted(parent_ids)]
    return calculated.update_changed(
        cur,
        parent,
        rollup.field,
        f'SELECT p."Id", coalesce({rollup.aggregate}, {rollup.empty}) AS val '
        f'FROM {parent} p LEFT JOIN {child} c ON c.{quote_ident(rollup.via)} = p."Id" '
        f'AND NOT c."IsDeleted" {rollup.joins} {where} GROUP BY p."Id"',
        params,
        ', "SystemModstamp" = ?' if stamp is not None else "",
        [stamp] if stamp is not None else [],
    )


def _rollup_parents(cur, obj: SfObject, ids: list[str]) -> set[str]:
    vias = {r.via for r in ROLLUPS if r.child == obj.name}
    if not ids or not vias:
        return set()
    out: set[str] = set()
    for via in vias:
        out.update(
            r[0]
            for r in _fetch(
                cur,
                f"SELECT DISTINCT {quote_ident(via)} FROM "
                f'{table_sql(obj)} WHERE "Id" IN '
                "(SELECT unnest(?::VARCHAR[]))",
                [ids],
            )
            if r[0]
        )
    return out


def _max_number(cur, expr: str, table: str) -> int:
    row = _fetch(cur, f"SELECT max(TRY_CAST({expr} AS BIGINT)) FROM {table}", [])[0]
    return int(row[0] or 0)


_table_seq = iter(range(1, 1 << 62))


def _with_table(cur, table: pa.Table, run) -> None:
    name = f"__sf_batch_{next(_table_seq)}"
    cur.register(name, table)
    try:
        run(name)
    finally:
        cur.unregister(name)


def _fetch(cur, sql: str, params: list[Any] | None = None) -> list[tuple]:
    """Run a statement to completion (DuckDB refuses new work while a result is pending)."""
    return cur.execute(sql, params or []).fetchall()


def ids_from_input(values: Iterable[str]) -> list[str | None]:
    """Client-supplied ids as 18-character ids (None where malformed)."""
    return [normalize_id(v) for v in values]
