"""The NetSuite record API (``/services/rest/record/v1``) over the ``ns`` tables.

Every record type is derived from :data:`NS_RECORD_TYPES` and the ``record_field`` of each
:class:`NsColumn`; what differs per type (references, sub-resources, defaults, validation) is
declared in the tables below, and one generic code path reads, lists, creates, updates, upserts
and deletes them all.

Wire rules followed (Oracle's REST web services guide):
* get: camelCase fields, ``id`` as a string, references as ``{"links", "id", "refName"}``,
  checkboxes as booleans, dates ``YYYY-MM-DD``, datetimes ISO-8601 UTC with ``Z``; sublists
  (transaction ``item``, customer ``addressbook``) as a link unless ``expandSubResources=true``;
* list: items carry only ``id`` and ``links``; ``q`` filters like ``lastModifiedDate AFTER
  "1/15/2024"`` or ``externalId IS "SF-1"`` (AND/OR, no parentheses);
* create and upsert (``PUT .../eid:X``): 204, no body, ``Location`` of the record; PATCH and
  DELETE: 204; a deletion leaves a ``deletedrecord`` row, as SuiteQL delta loads expect;
* transaction totals are always computed from the lines (a client ``total`` is ignored) and sales
  lines are stored with negative quantity and amount in ``transactionline``, as NetSuite does,
  while the record API shows them positive;
* OneWorld and multi-currency: a transaction takes its customer's (or source transaction's)
  subsidiary and currency unless given; the subsidiary must be one the customer is shared with
  (``customersubsidiaryrelationship``), the currency one the subsidiary's base currency has rates
  for, and the exchange rate is the latest ``currencyrate`` on or before the transaction date;
  line amounts are kept in the transaction currency (``foreignamount``) and the base currency
  (``netamount``);
* references NetSuite cannot use (unknown, inactive, or outside the subsidiary) answer
  ``INVALID_KEY_OR_REF`` in SuiteTalk's words: "Invalid item reference key 12 for subsidiary 3.";
  items are referenced by internal id (or external id, where one exists) whatever their type.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import duckdb

from o2c_sandbox.core import ApiError, Store
from o2c_sandbox.netsuite.suiteql import TRANSACTION_TYPE_NAMES, customer_display_sql
from o2c_sandbox.schema import (
    NS_ITEM_TYPES,
    NS_RECORD_TYPES,
    NS_STATUSES,
    NS_TABLES,
    NS_TRANSACTION_TYPES,
    NsColumn,
)

RECORD_PREFIX = "/services/rest/record/v1"
MAX_PAGE = 1000
RECORD_TYPE_BY_CODE = {code: rt for rt, code in NS_TRANSACTION_TYPES.items()}
#: Transaction types whose item lines NetSuite stores negative (credit to income / inventory).
NEGATIVE_LINE_TYPES = {"SalesOrd", "CustInvc", "ItemShip"}
#: Fulfillment lines move quantities only: no rate or amount.
UNPRICED_LINE_TYPES = {"ItemShip"}
#: Record types the API may write; credit memos and refunds are read-only here.
WRITABLE_TYPES = {
    "customer",
    "contact",
    "customerSubsidiaryRelationship",
    *NS_ITEM_TYPES,
    "salesOrder",
    "itemFulfillment",
    "invoice",
    "customerPayment",
}
#: Status a new transaction gets.
INITIAL_STATUS = {
    "SalesOrd": "B",
    "ItemShip": "C",
    "CustInvc": "A",
    "CustPymt": "B",
    "CustCred": "A",
}
TRANID_PREFIX = {
    "SalesOrd": "SO",
    "ItemShip": "IF",
    "CustInvc": "INV",
    "CustPymt": "PYMT",
    "CustCred": "CM",
    "CustRfnd": "RF",
}
#: previoustransactionlink.linktype for a transaction created from another.
LINK_TYPE = {"ItemShip": "OrdFul", "CustInvc": "OrdBill", "CustPymt": "Payment"}
INVOICE_TERMS_DAYS = 30

#: Reference columns -> the record type they point at ("transaction", "item": decided by the
#: referenced row's type).
REFERENCES = {
    "entity": "customer",
    "company": "customer",
    "item": "item",
    "createdfrom": "transaction",
    "subsidiary": "subsidiary",
    "parent": "subsidiary",
    "currency": "currency",
    "primarycurrency": "currency",
    "pricelevel": "priceLevel",
}
#: Referenced record type -> (table, SQL of its refName over the row ``r``).
REFERENCE_TARGETS = {
    "customer": ("customer", customer_display_sql("r")),
    "item": ("item", "r.itemid"),
    "subsidiary": ("subsidiary", "r.fullname"),
    "currency": ("currency", "r.name"),
    "priceLevel": ("pricelevel", "r.name"),
}
#: The record API type of an item row, by (itemtype, subtype).
ITEM_RECORD_TYPE = {(f["itemtype"], f.get("subtype")): rt for rt, f in NS_ITEM_TYPES.items()}
CHECKBOX_COLUMNS = {"isinactive", "isclosed", "isprimarysub", "iselimination", "isbasecurrency"}
#: Tables sharing one internal id sequence: every entity (customer, contact...) is numbered from
#: the same counter in NetSuite.
ID_SPACES = {"customer": ("customer", "contact"), "contact": ("customer", "contact")}
#: Customer columns that live on the addressbook sublist rather than the record body.
ADDRESS_COLUMNS = (
    "billaddr1",
    "billaddr2",
    "billaddr3",
    "billcity",
    "billstate",
    "billzip",
    "billcountry",
)
#: Fields the server owns: accepted in a body (clients echo them) but never written.
SERVER_OWNED_FIELDS = {
    "id",
    "links",
    "refName",
    "createdDate",
    "dateCreated",
    "lastModifiedDate",
    "total",
    "amountPaid",
    "amountRemaining",
}
#: Required body fields on create, per record type, with the label NetSuite's message uses.
REQUIRED_ON_CREATE = {
    "customer": {"companyName": "Company Name", "subsidiary": "Subsidiary"},
    "customerSubsidiaryRelationship": {"entity": "Customer", "subsidiary": "Subsidiary"},
    **{rt: {"itemId": "Item Name/Number"} for rt in NS_ITEM_TYPES},
    "salesOrder": {"entity": "Customer"},
    "itemFulfillment": {"entity": "Customer", "createdFrom": "Created From"},
    "invoice": {"entity": "Customer"},
    "customerPayment": {"entity": "Customer"},
}
LINE_REQUIRED_TYPES = {"salesOrder", "itemFulfillment", "invoice"}
NOT_FOUND_DETAIL = "The record instance does not exist. Provide a valid record instance ID."


def now_utc() -> dt.datetime:
    """Naive UTC to the second, the way the world stores datetimes."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def user_error(detail: str, path: str | None = None, code: str = "USER_ERROR") -> ApiError:
    return ApiError(400, code, f"Error while accessing a resource. {detail}", path=path)


def invalid_reference(value: Any, field_name: str, path: str, scope: str = "") -> ApiError:
    """NetSuite's answer to a reference it cannot use (unknown, inactive, or not available in
    ``scope``, e.g. "subsidiary 3"): ``INVALID_KEY_OR_REF``, "Invalid item reference key 12 for
    subsidiary 3." (the wording of SuiteTalk's status details)."""
    suffix = f" for {scope}" if scope else ""
    return ApiError(
        400, "INVALID_KEY_OR_REF", f"Invalid {field_name} reference key {value}{suffix}.", path=path
    )


@dataclass(frozen=True)
class RecordType:
    """One record API type: its table, the rows it owns, and its fields."""

    name: str
    table: str
    fixed: dict[str, str]
    fields: dict[str, NsColumn]  # record field -> column
    sublist: str | None  # "item" (transaction lines) or "addressbook"
    type_code: str | None = None

    @property
    def is_transaction(self) -> bool:
        return self.table == "transaction"

    def where(self, alias: str = "") -> tuple[str, list[Any]]:
        prefix = f"{alias}." if alias else ""
        clauses = [f'{prefix}"{col}" = ?' for col in self.fixed]
        return (" AND ".join(clauses) or "TRUE"), list(self.fixed.values())


#: Transaction body fields SuiteQL keeps on the lines (the mainline's value is the body's).
LINE_HEADER_FIELDS = {
    "subsidiary": next(c for c in NS_TABLES["transactionline"].columns if c.name == "subsidiary")
}
LINE_HEADER_COLUMNS = {c.name for c in LINE_HEADER_FIELDS.values()}


def _record_types() -> dict[str, RecordType]:
    out = {}
    for name, (table, fixed) in NS_RECORD_TYPES.items():
        cols = NS_TABLES[table].columns
        fields_ = {
            c.record_field: c for c in cols if c.record_field and c.name not in ADDRESS_COLUMNS
        }
        if table == "transaction":
            fields_.update(LINE_HEADER_FIELDS)
        sublist = (
            "item" if table == "transaction" else "addressbook" if table == "customer" else None
        )
        out[name] = RecordType(name, table, dict(fixed), fields_, sublist, fixed.get("type"))
    return out


RECORD_TYPES = _record_types()
LINE_FIELDS = {
    c.record_field: c
    for c in NS_TABLES["transactionline"].columns
    if c.record_field and c.name != "id"
}
ADDRESS_FIELDS = {
    c.record_field: c for c in NS_TABLES["customer"].columns if c.name in ADDRESS_COLUMNS
}


# ---------------------------------------------------------------------------------------------
# The `q` filter of list requests
# ---------------------------------------------------------------------------------------------

_Q_TOKEN = re.compile(
    r'\s*(?:"(?P<str>(?:[^"\\]|\\.)*)"|(?P<word>[A-Za-z_][\w.]*)|(?P<num>-?\d+(?:\.\d+)?))'
)
_Q_OPERATORS = {
    "IS": "= ?",
    "IS_NOT": "<> ?",
    "EQUAL": "= ?",
    "NOT_EQUAL": "<> ?",
    "GREATER": "> ?",
    "GREATER_OR_EQUAL": ">= ?",
    "LESS": "< ?",
    "LESS_OR_EQUAL": "<= ?",
    "AFTER": "> ?",
    "BEFORE": "< ?",
    "ON_OR_AFTER": ">= ?",
    "ON_OR_BEFORE": "<= ?",
    "ON": "= ?",
    "CONTAIN": "LIKE ?",
    "START_WITH": "LIKE ?",
    "END_WITH": "LIKE ?",
    "EMPTY": "IS NULL",
    "EMPTY_NOT": "IS NOT NULL",
}
_Q_DATE_FORMATS = (
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d",
)


def _q_condition(column: NsColumn, operator: str, raw: str | None) -> tuple[str, list[Any]]:
    """One ``field OPERATOR value`` as SQL. A date-only literal against a datetime field compares
    whole days (``ON 1/15/2024`` is that day, ``AFTER 1/15/2024`` starts the next)."""
    template = _Q_OPERATORS[operator]
    target = f'"{column.name}"'
    if raw is None:
        return f"{target} {template}", []
    value: Any = raw
    if column.type in ("DATE", "TIMESTAMP"):
        for fmt in _Q_DATE_FORMATS:
            try:
                value = dt.datetime.strptime(raw.strip(), fmt)
            except ValueError:
                continue
            if fmt in ("%m/%d/%Y", "%Y-%m-%d") or column.type == "DATE":
                target, value = f"CAST({target} AS DATE)", value.date()
            break
        else:
            raise ApiError(
                400, "INVALID_PARAMETER", f'Invalid date value "{raw}" in query parameter q.'
            )
    elif column.name in CHECKBOX_COLUMNS:
        value = "T" if raw.lower() in ("t", "true") else "F"
    elif operator in ("CONTAIN", "START_WITH", "END_WITH"):
        escaped = raw.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        value = {"CONTAIN": f"%{escaped}%", "START_WITH": f"{escaped}%", "END_WITH": f"%{escaped}"}[
            operator
        ]
        template += " ESCAPE '\\'"
    elif column.type in ("BIGINT", "INTEGER", "DOUBLE"):
        try:
            value = float(raw)
        except ValueError as exc:
            raise ApiError(
                400, "INVALID_PARAMETER", f'Invalid number "{raw}" in query parameter q.'
            ) from exc
    return f"{target} {template}", [value]


def parse_q(q: str, rtype: RecordType) -> tuple[str, list[Any]]:
    """``field OPERATOR "value" [AND|OR ...]`` -> SQL condition and parameters."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(q.rstrip()):
        m = _Q_TOKEN.match(q, pos)
        if not m:
            raise ApiError(
                400, "INVALID_PARAMETER", f"Invalid query parameter q near '{q[pos : pos + 20]}'."
            )
        kind = m.lastgroup or "word"
        value = m.group(kind)
        tokens.append((kind, value.replace('\\"', '"') if kind == "str" else value))
        pos = m.end()
    sql: list[str] = []
    params: list[Any] = []
    i = 0
    while i < len(tokens):
        if sql:
            kind, word = tokens[i]
            if kind != "word" or word.upper() not in ("AND", "OR"):
                raise ApiError(
                    400,
                    "INVALID_PARAMETER",
                    f"Expected AND or OR in query parameter q, found '{word}'.",
                )
            sql.append(word.upper())
            i += 1
        if i + 1 >= len(tokens):
            raise ApiError(400, "INVALID_PARAMETER", "Incomplete condition in query parameter q.")
        field_name, operator = tokens[i][1], tokens[i + 1][1].upper()
        column = rtype.fields.get(field_name) or next(
            (c for f, c in rtype.fields.items() if f.lower() == field_name.lower()), None
        )
        if column is None:
            raise ApiError(
                400,
                "INVALID_PARAMETER",
                f"Invalid query parameter q: the field '{field_name}' is not available for "
                f"filtering on record type '{rtype.name}'.",
            )
        if operator not in _Q_OPERATORS:
            raise ApiError(
                400,
                "INVALID_PARAMETER",
                f"Invalid query parameter q: unknown operator '{operator}'.",
            )
        i += 2
        raw = None
        if "?" in _Q_OPERATORS[operator]:
            if i >= len(tokens) or tokens[i][0] == "word" and tokens[i][1].upper() in ("AND", "OR"):
                raise ApiError(
                    400,
                    "INVALID_PARAMETER",
                    f"Missing value after {operator} in query parameter q.",
                )
            raw = tokens[i][1]
            i += 1
        condition, values = _q_condition(column, operator, raw)
        if rtype.is_transaction and column.name in LINE_HEADER_COLUMNS:
            condition = (
                'id IN (SELECT "transaction" FROM ns.transactionline '
                f"WHERE mainline = 'T' AND {condition})"
            )
        sql.append(condition)
        params.extend(values)
    return " ".join(sql) or "TRUE", params


# ---------------------------------------------------------------------------------------------
# Record access
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransactionContext:
    """What a transaction's lines are priced and booked in."""

    subsidiary: int | None
    currency: int | None
    rate: float
    pricelevel: int | None


@dataclass
class WriteResult:
    record_id: int
    created: bool


@dataclass
class RecordStore:
    """Reads and writes records."""

    store: Store

    # -- lookups -------------------------------------------------------------------------------
    def record_type(self, name: str) -> RecordType:
        rtype = RECORD_TYPES.get(name) or next(
            (t for n, t in RECORD_TYPES.items() if n.lower() == name.lower()), None
        )
        if rtype is None:
            raise ApiError(
                404,
                "NONEXISTENT_RECORD_TYPE",
                f"Record type '{name}' does not exist or is not available through REST web services.",
            )
        return rtype

    def resolve_id(self, cur: duckdb.DuckDBPyConnection, rtype: RecordType, key: str) -> int | None:
        """``287`` or ``eid:SF-001`` -> internal id (None if absent)."""
        where, params = rtype.where()
        if key.startswith("eid:"):
            row = cur.execute(
                f'SELECT id FROM ns."{rtype.table}" WHERE {where} AND externalid = ?',
                [*params, key[4:]],
            ).fetchone()
        else:
            try:
                record_id = int(key)
            except ValueError:
                return None
            row = cur.execute(
                f'SELECT id FROM ns."{rtype.table}" WHERE {where} AND id = ?', [*params, record_id]
            ).fetchone()
        return row[0] if row else None

    def require_id(self, cur: duckdb.DuckDBPyConnection, rtype: RecordType, key: str) -> int:
        record_id = self.resolve_id(cur, rtype, key)
        if record_id is None:
            raise ApiError(404, "NONEXISTENT_ID", NOT_FOUND_DETAIL)
        return record_id

    # -- read ----------------------------------------------------------------------------------
    def list(
        self, rtype: RecordType, limit: int, offset: int, q: str | None
    ) -> tuple[list[int], int]:
        where, params = rtype.where()
        if q:
            q_sql, q_params = parse_q(q, rtype)
            where, params = f"{where} AND ({q_sql})", [*params, *q_params]
        cur = self.store.cursor()
        try:
            total = cur.execute(
                f'SELECT count(*) FROM ns."{rtype.table}" WHERE {where}', params
            ).fetchone()[0]
            ids = [
                r[0]
                for r in cur.execute(
                    f'SELECT id FROM ns."{rtype.table}" WHERE {where} ORDER BY id LIMIT ? OFFSET ?',
                    [*params, limit, offset],
                ).fetchall()
            ]
        finally:
            cur.close()
        return ids, total

    def get(self, rtype: RecordType, key: str, base: str, expand: bool) -> dict[str, Any]:
        cur = self.store.cursor()
        try:
            record_id = self.require_id(cur, rtype, key)
            row = self._row(cur, rtype.table, "id = ?", [record_id])
            if rtype.is_transaction:
                row |= self._line_header(cur, record_id)
            url = f"{base}{RECORD_PREFIX}/{rtype.name}/{record_id}"
            body: dict[str, Any] = {"links": [{"rel": "self", "href": url}]}
            for field_name, column in rtype.fields.items():
                value = self._field_value(cur, column, row[column.name], row, base)
                if value is not None:
                    body[field_name] = value
            body["id"] = str(record_id)
            if rtype.sublist:
                body[rtype.sublist] = (
                    self._sublist(cur, rtype, row, url, base)
                    if expand
                    else {"links": [{"rel": "self", "href": f"{url}/{rtype.sublist}"}]}
                )
            return body
        finally:
            cur.close()

    def sublist(self, rtype: RecordType, key: str, name: str, base: str) -> dict[str, Any]:
        if name != rtype.sublist:
            raise ApiError(
                404, "NONEXISTENT_ID", f"Sub-resource '{name}' does not exist on {rtype.name}."
            )
        cur = self.store.cursor()
        try:
            record_id = self.require_id(cur, rtype, key)
            row = self._row(cur, rtype.table, "id = ?", [record_id])
            url = f"{base}{RECORD_PREFIX}/{rtype.name}/{record_id}"
            return self._sublist(cur, rtype, row, url, base)
        finally:
            cur.close()

    @staticmethod
    def _line_header(cur: duckdb.DuckDBPyConnection, transaction_id: int) -> dict[str, Any]:
        columns = ", ".join(f'"{c}"' for c in sorted(LINE_HEADER_COLUMNS))
        rel = cur.execute(
            f"SELECT {columns} FROM ns.transactionline WHERE \"transaction\" = ? AND mainline = 'T'",
            [transaction_id],
        )
        names = [d[0] for d in rel.description]
        row = rel.fetchone()
        return dict(zip(names, row, strict=True)) if row else {}

    @staticmethod
    def _row(
        cur: duckdb.DuckDBPyConnection, table: str, where: str, params: list[Any]
    ) -> dict[str, Any]:
        rel = cur.execute(f'SELECT * FROM ns."{table}" WHERE {where}', params)
        names = [d[0] for d in rel.description]
        row = rel.fetchone()
        return dict(zip(names, row, strict=True)) if row else {}

    def _sublist(
        self,
        cur: duckdb.DuckDBPyConnection,
        rtype: RecordType,
        row: dict[str, Any],
        url: str,
        base: str,
    ) -> dict[str, Any]:
        items: list[dict[str, Any]] = []
        if rtype.sublist == "addressbook":
            address = {
                f: row[c.name] for f, c in ADDRESS_FIELDS.items() if row.get(c.name) is not None
            }
            if address:
                items.append(
                    {
                        "links": [],
                        "addressbookAddress": {"links": [], **address},
                        "defaultBilling": True,
                        "defaultShipping": True,
                        "id": 1,
                        "label": address.get("addr1", "Address"),
                    }
                )
        else:
            sign = -1 if rtype.type_code in NEGATIVE_LINE_TYPES else 1
            rel = cur.execute(
                "SELECT * FROM ns.transactionline WHERE \"transaction\" = ? AND mainline = 'F' "
                "AND coalesce(taxline, 'F') = 'F' ORDER BY linesequencenumber, id",
                [row["id"]],
            )
            names = [d[0] for d in rel.description]
            for values in rel.fetchall():
                line = dict(zip(names, values, strict=True))
                item: dict[str, Any] = {"links": [], "line": line["id"]}
                for field_name, column in LINE_FIELDS.items():
                    value = line[column.name]
                    if column.name in ("quantity", "foreignamount") and value is not None:
                        value = value * sign or 0.0
                    value = self._field_value(cur, column, value, line, base)
                    if value is not None:
                        item[field_name] = value
                items.append(item)
        return {
            "links": [{"rel": "self", "href": f"{url}/{rtype.sublist}"}],
            "items": items,
            "totalResults": len(items),
            "count": len(items),
            "hasMore": False,
            "offset": 0,
        }

    def _field_value(
        self,
        cur: duckdb.DuckDBPyConnection,
        column: NsColumn,
        value: Any,
        row: dict[str, Any],
        base: str,
    ) -> Any:
        if value is None:
            return None
        if column.name in REFERENCES:
            return self._reference(cur, column.name, int(value), base)
        if column.name == "status" and "type" in row:
            text = NS_STATUSES.get(row["type"], {}).get(value, value)
            return {"id": value, "refName": text}
        if column.name in CHECKBOX_COLUMNS:
            return value == "T"
        if isinstance(value, dt.datetime):
            return value.strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(value, dt.date):
            return value.isoformat()
        if column.name == "id":
            return str(value)
        return value

    def _reference(
        self, cur: duckdb.DuckDBPyConnection, column: str, ref_id: int, base: str
    ) -> dict[str, Any]:
        target = REFERENCES[column]
        ref_name: str | None
        if target == "transaction":
            found = cur.execute(
                "SELECT type, tranid FROM ns.transaction WHERE id = ?", [ref_id]
            ).fetchone()
            target = RECORD_TYPE_BY_CODE.get(found[0], "transaction") if found else "transaction"
            ref_name = (
                f"{TRANSACTION_TYPE_NAMES.get(found[0], found[0])} #{found[1]}" if found else None
            )
        else:
            table, name_sql = REFERENCE_TARGETS[target]
            extra = ", r.itemtype, r.subtype" if table == "item" else ""
            found = cur.execute(
                f'SELECT {name_sql}{extra} FROM ns."{table}" r WHERE r.id = ?', [ref_id]
            ).fetchone()
            ref_name = found[0] if found else None
            if table == "item":
                target = (
                    ITEM_RECORD_TYPE.get((found[1], found[2]), "inventoryItem")
                    if found
                    else "inventoryItem"
                )
        out: dict[str, Any] = {
            "links": [{"rel": "self", "href": f"{base}{RECORD_PREFIX}/{target}/{ref_id}"}],
            "id": str(ref_id),
        }
        if ref_name is not None:
            out["refName"] = ref_name
        return out

    # -- write ---------------------------------------------------------------------------------
    def create(self, rtype: RecordType, body: dict[str, Any]) -> int:
        self._check_writable(rtype)
        with self.store.writer() as cur:
            self._check_external_id_free(cur, rtype, body.get("externalId"), None)
            record_id = self._insert(cur, rtype, body)
        return record_id

    def update(self, rtype: RecordType, key: str, body: dict[str, Any]) -> int:
        self._check_writable(rtype)
        with self.store.writer() as cur:
            record_id = self.require_id(cur, rtype, key)
            self._update(cur, rtype, record_id, body)
        return record_id

    def upsert(self, rtype: RecordType, external_id: str, body: dict[str, Any]) -> WriteResult:
        self._check_writable(rtype)
        body = {**body, "externalId": external_id}
        with self.store.writer() as cur:
            record_id = self.resolve_id(cur, rtype, f"eid:{external_id}")
            if record_id is None:
                result = WriteResult(self._insert(cur, rtype, body), created=True)
            else:
                self._update(cur, rtype, record_id, body)
                result = WriteResult(record_id, created=False)
        return result

    def delete(self, rtype: RecordType, key: str) -> None:
        self._check_writable(rtype)
        with self.store.writer() as cur:
            record_id = self.require_id(cur, rtype, key)
            row = self._row(cur, rtype.table, "id = ?", [record_id])
            cur.execute(f'DELETE FROM ns."{rtype.table}" WHERE id = ?', [record_id])
            if rtype.table == "customer":
                cur.execute(
                    "DELETE FROM ns.customersubsidiaryrelationship WHERE entity = ?", [record_id]
                )
            if rtype.is_transaction:
                cur.execute('DELETE FROM ns.transactionline WHERE "transaction" = ?', [record_id])
                cur.execute(
                    "DELETE FROM ns.previoustransactionlink WHERE previousdoc = ? OR nextdoc = ?",
                    [record_id, record_id],
                )
            name = row.get("tranid") or row.get("entityid") or row.get("itemid")
            cur.execute(
                "INSERT OR REPLACE INTO ns.deletedrecord (recordid, recordtypeid, type, name, context, "
                "deleteddate) VALUES (?, ?, ?, ?, 'WebServices', ?)",
                [record_id, rtype.name, rtype.type_code or rtype.name, name, now_utc()],
            )

    @staticmethod
    def _check_writable(rtype: RecordType) -> None:
        if rtype.name not in WRITABLE_TYPES:
            raise ApiError(
                403,
                "INSUFFICIENT_PERMISSION",
                f"The {rtype.name} record type is read-only in this account.",
            )

    # -- body -> columns -------------------------------------------------------------------------
    def _columns_from_body(
        self, cur: duckdb.DuckDBPyConnection, rtype: RecordType, body: dict[str, Any]
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field_name, raw in body.items():
            if field_name in SERVER_OWNED_FIELDS or field_name == rtype.sublist:
                continue
            if rtype.type_code == "CustPymt" and field_name == "payment":
                values["foreigntotal"] = _number(raw, field_name)
                continue
            column = rtype.fields.get(field_name)
            if column is None:
                raise user_error(
                    f"Invalid field name: '{field_name}' is not a field of {rtype.name}.",
                    path=field_name,
                    code="NONEXISTENT_FIELD",
                )
            values[column.name] = self._column_value(cur, column, raw, field_name)
        if rtype.sublist == "addressbook" and isinstance(body.get("addressbook"), dict):
            values.update(_address_columns(body["addressbook"]))
        return values

    def _column_value(
        self, cur: duckdb.DuckDBPyConnection, column: NsColumn, raw: Any, path: str
    ) -> Any:
        if raw is None:
            return None
        if column.name in REFERENCES:
            return self._resolve_reference(cur, column.name, raw, path)
        if column.name in CHECKBOX_COLUMNS:
            return "T" if raw is True or str(raw).lower() in ("t", "true") else "F"
        if column.name == "status" and isinstance(raw, dict):
            raw = raw.get("id")
        if column.type == "DOUBLE":
            return _number(raw, path)
        if column.type in ("DATE", "TIMESTAMP"):
            try:
                parsed = dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
            except ValueError as exc:
                raise user_error(
                    f"Invalid date value '{raw}' for field {path}; use ISO 8601.",
                    path=path,
                    code="INVALID_CONTENT",
                ) from exc
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
            return parsed.date() if column.type == "DATE" else parsed
        if column.type in ("BIGINT", "INTEGER"):
            return int(_number(raw, path))
        return str(raw)

    def _resolve_reference(
        self, cur: duckdb.DuckDBPyConnection, column: str, raw: Any, path: str, scope: str = ""
    ) -> int:
        """``{"id": "5"}``, ``{"externalId": "X"}`` or a bare id -> an existing, active id."""
        target = REFERENCES[column]
        ref = raw if isinstance(raw, dict) else {"id": raw}
        shown = ref.get("id", ref.get("externalId"))
        table = REFERENCE_TARGETS[target][0] if target in REFERENCE_TARGETS else "transaction"
        if "id" in ref:
            try:
                where, params = "id = ?", [int(ref["id"])]
            except (TypeError, ValueError) as exc:
                raise invalid_reference(shown, column, path, scope) from exc
        elif "externalId" in ref:
            where, params = "externalid = ?", [str(ref["externalId"])]
        else:
            raise invalid_reference(shown, column, path, scope)
        has_flag = "isinactive" in NS_TABLES[table].column_names
        found = cur.execute(
            f'SELECT id, {"isinactive" if has_flag else "NULL"} FROM ns."{table}" WHERE {where}',
            params,
        ).fetchone()
        if found is None or found[1] == "T":  # inactive records cannot be selected either
            raise invalid_reference(shown, column, path, scope)
        return found[0]

    def _lines(
        self,
        cur: duckdb.DuckDBPyConnection,
        rtype: RecordType,
        body: dict[str, Any],
        context: TransactionContext,
    ) -> list[dict[str, Any]]:
        sublist = body.get("item")
        items = sublist.get("items") if isinstance(sublist, dict) else None
        if not isinstance(items, list):
            raise user_error(
                'The item sublist must be given as {"items": [...]}.',
                path="item",
                code="INVALID_CONTENT",
            )
        lines = []
        for n, line in enumerate(items):
            path = f"item.items[{n}]"
            if not isinstance(line, dict) or line.get("item") is None:
                raise user_error("Please enter value(s) for: Item.", path=f"{path}.item")
            item_id = self._resolve_reference(
                cur, "item", line["item"], f"{path}.item", f"subsidiary {context.subsidiary}"
            )
            if line.get("quantity") is None:
                raise user_error("Please enter value(s) for: Quantity.", path=f"{path}.quantity")
            quantity = _number(line["quantity"], f"{path}.quantity")
            if quantity <= 0 and rtype.type_code in NEGATIVE_LINE_TYPES:
                raise user_error(
                    f"Invalid quantity {line['quantity']}: the quantity of a "
                    f"{TRANSACTION_TYPE_NAMES[rtype.type_code].lower()} line must be greater than 0.",
                    path=f"{path}.quantity",
                    code="INVALID_FLD_VALUE",
                )
            if line.get("rate") is not None:
                rate = _number(line["rate"], f"{path}.rate")
            else:
                rate = self._price(cur, item_id, quantity, context)
            amount = (
                _number(line["amount"], f"{path}.amount")
                if line.get("amount") is not None
                else round(quantity * rate, 2)
            )
            lines.append(
                {
                    "item": item_id,
                    "quantity": quantity,
                    "rate": rate,
                    "amount": amount,
                    "isclosed": "T" if line.get("isClosed") is True else "F",
                }
            )
        return lines

    @staticmethod
    def _price(
        cur: duckdb.DuckDBPyConnection, item_id: int, quantity: float, context: TransactionContext
    ) -> float:
        """A line without a rate takes the item's price for the customer's price level in the
        transaction currency (quantity breaks included), else the base price level's."""
        found = cur.execute(
            """SELECT unitprice FROM ns.pricing WHERE item = ? AND currency = ? AND quantity <= ?
               AND pricelevel IN (?, 1)
               ORDER BY pricelevel = ? DESC, quantity DESC LIMIT 1""",
            [item_id, context.currency, quantity, context.pricelevel or 1, context.pricelevel or 1],
        ).fetchone()
        if found is not None:
            return found[0]
        return cur.execute(
            "SELECT coalesce(baseprice, 0) FROM ns.item WHERE id = ?", [item_id]
        ).fetchone()[0]

    def _transaction_context(
        self, cur: duckdb.DuckDBPyConnection, values: dict[str, Any], header: dict[str, Any]
    ) -> TransactionContext:
        """Subsidiary, currency and exchange rate of a new transaction, as NetSuite sets them:
        the customer's (or the source transaction's) unless given, the subsidiary one the
        customer is shared with, the currency one the subsidiary has exchange rates for, the
        rate the latest one on or before the transaction date."""
        customer = cur.execute(
            "SELECT subsidiary, currency, pricelevel FROM ns.customer WHERE id = ?",
            [values.get("entity")],
        ).fetchone() or (None, None, None)
        source = {}
        if values.get("createdfrom"):
            source = self._row(cur, "transaction", "id = ?", [values["createdfrom"]])
            source |= self._line_header(cur, values["createdfrom"])
        subsidiary = header.get("subsidiary") or source.get("subsidiary") or customer[0]
        currency = values.get("currency") or source.get("currency") or customer[1]
        shared = cur.execute(
            "SELECT count(*) FROM ns.customersubsidiaryrelationship WHERE entity = ? AND subsidiary = ?",
            [values.get("entity"), subsidiary],
        ).fetchone()[0]
        if header.get("subsidiary") and not shared:
            raise invalid_reference(
                values.get("entity"), "entity", "subsidiary", f"subsidiary {subsidiary}"
            )
        base = cur.execute(
            "SELECT currency FROM ns.subsidiary WHERE id = ?", [subsidiary]
        ).fetchone()
        base_currency = base[0] if base else currency
        rate = self._exchange_rate(cur, subsidiary, base_currency, currency, values["trandate"])
        return TransactionContext(subsidiary, currency, rate, customer[2])

    @staticmethod
    def _exchange_rate(
        cur: duckdb.DuckDBPyConnection,
        subsidiary: int | None,
        base_currency: int | None,
        currency: int | None,
        on: dt.date,
    ) -> float:
        if currency is None or currency == base_currency:
            return 1.0
        rates = cur.execute(
            """SELECT max(effectivedate), arg_max(exchangerate, effectivedate) FILTER (WHERE effectivedate <= ?)
               FROM ns.currencyrate WHERE basecurrency = ? AND transactioncurrency = ?""",
            [on, base_currency, currency],
        ).fetchone()
        if rates[0] is None:  # the pair was never set up: the subsidiary cannot use the currency
            raise invalid_reference(currency, "currency", "currency", f"subsidiary {subsidiary}")
        if rates[1] is None:
            raise user_error(
                f"No exchange rate is defined for currency {currency} against the base currency "
                f"of subsidiary {subsidiary} on or before {on.isoformat()}.",
                path="currency",
            )
        return rates[1]

    def _check_customer_currency(
        self, cur: duckdb.DuckDBPyConnection, values: dict[str, Any], path: str
    ) -> None:
        """A customer's subsidiary must be an operating one and its currency one that subsidiary
        trades in; the currency defaults to the subsidiary's base currency."""
        sub = cur.execute(
            "SELECT currency, iselimination FROM ns.subsidiary WHERE id = ?", [values["subsidiary"]]
        ).fetchone()
        if sub is None or sub[1] == "T":
            raise invalid_reference(values["subsidiary"], "subsidiary", "subsidiary")
        values.setdefault("currency", sub[0])
        if values["currency"] != sub[0]:
            pairs = cur.execute(
                "SELECT count(*) FROM ns.currencyrate WHERE basecurrency = ? AND transactioncurrency = ?",
                [sub[0], values["currency"]],
            ).fetchone()[0]
            if not pairs:
                raise invalid_reference(
                    values["currency"], "currency", path, f"subsidiary {values['subsidiary']}"
                )

    def _insert(
        self, cur: duckdb.DuckDBPyConnection, rtype: RecordType, body: dict[str, Any]
    ) -> int:
        missing = [
            label
            for f, label in REQUIRED_ON_CREATE.get(rtype.name, {}).items()
            if body.get(f) in (None, "")
        ]
        if missing:
            raise user_error(
                f"Please enter value(s) for: {', '.join(missing)}.",
                path=next(
                    f for f, label in REQUIRED_ON_CREATE[rtype.name].items() if label == missing[0]
                ),
            )
        values = self._columns_from_body(cur, rtype, body)
        header = {
            c: values.pop(c) for c in LINE_HEADER_COLUMNS if rtype.is_transaction and c in values
        }
        now = now_utc()
        record_id = self._next_id(cur, rtype)
        values.update(rtype.fixed)
        values["id"] = record_id
        values["lastmodifieddate"] = now
        lines = None
        if rtype.table == "customer":
            self._check_customer_currency(cur, values, "currency")
            values["datecreated"] = now
            values.setdefault("entityid", f"CUST{record_id}")
            values.setdefault("isinactive", "F")
        elif rtype.table == "contact":
            self._contact_defaults(cur, values)
            values["datecreated"] = now
            values.setdefault("isinactive", "F")
        elif rtype.table == "customersubsidiaryrelationship":
            values.setdefault("isprimarysub", "F")
            if values.get("primarycurrency") is None:
                values["primarycurrency"] = cur.execute(
                    "SELECT currency FROM ns.customer WHERE id = ?", [values["entity"]]
                ).fetchone()[0]
        elif rtype.table == "item":
            values["createddate"] = now
            values.setdefault("isinactive", "F")
        else:
            code = rtype.type_code
            values["createddate"] = now
            values.setdefault("trandate", now.date())
            context = self._transaction_context(cur, values, header)
            values["currency"] = context.currency
            values.setdefault("exchangerate", context.rate)
            header["subsidiary"] = context.subsidiary
            if rtype.name in LINE_REQUIRED_TYPES:
                if not (isinstance(body.get("item"), dict) and body["item"].get("items")):
                    raise user_error(
                        "You must enter at least one line item for this transaction.", path="item"
                    )
                lines = self._lines(cur, rtype, body, context)
            values.setdefault("status", INITIAL_STATUS.get(code))
            if not values.get("tranid"):
                values["tranid"] = self._next_tranid(cur, code)
            if lines is not None and code not in UNPRICED_LINE_TYPES:
                values["foreigntotal"] = round(sum(line["amount"] for line in lines), 2)
            values.setdefault("foreigntotal", 0.0)
            if code == "CustInvc":
                values["foreignamountpaid"] = 0.0
                values["foreignamountunpaid"] = values["foreigntotal"]
                values.setdefault(
                    "duedate", values["trandate"] + dt.timedelta(days=INVOICE_TERMS_DAYS)
                )
        self._insert_row(cur, rtype.table, values)
        if rtype.table == "customer":
            cur.execute(
                "INSERT INTO ns.customersubsidiaryrelationship (id, entity, subsidiary, isprimarysub, "
                "primarycurrency, lastmodifieddate) SELECT coalesce(max(id), 0) + 1, ?, ?, 'T', ?, ? "
                "FROM ns.customersubsidiaryrelationship",
                [record_id, values["subsidiary"], values["currency"], now],
            )
        if rtype.is_transaction:
            self._write_lines(
                cur, record_id, rtype.type_code, {**values, **header}, lines or [], now
            )
            if values.get("createdfrom") and rtype.type_code in LINK_TYPE:
                cur.execute(
                    "INSERT OR REPLACE INTO ns.previoustransactionlink VALUES (?, ?, ?, ?, ?)",
                    [
                        values["createdfrom"],
                        record_id,
                        LINK_TYPE[rtype.type_code],
                        values["foreigntotal"],
                        now,
                    ],
                )
        return record_id

    @staticmethod
    def _contact_defaults(cur: duckdb.DuckDBPyConnection, values: dict[str, Any]) -> None:
        """A contact works in its company's subsidiary unless told otherwise; its name (the
        required "Contact" field) is built from first and last name when not given."""
        if values.get("subsidiary") is None and values.get("company") is not None:
            values["subsidiary"] = cur.execute(
                "SELECT subsidiary FROM ns.customer WHERE id = ?", [values["company"]]
            ).fetchone()[0]
        if values.get("subsidiary") is None:
            raise user_error("Please enter value(s) for: Subsidiary.", path="subsidiary")
        if not values.get("entityid"):
            name = " ".join(v for v in (values.get("firstname"), values.get("lastname")) if v)
            if not name.strip():
                raise user_error("Please enter value(s) for: Contact.", path="entityId")
            values["entityid"] = name.strip()

    def _check_external_id_free(
        self,
        cur: duckdb.DuckDBPyConnection,
        rtype: RecordType,
        external_id: Any,
        record_id: int | None,
    ) -> None:
        if external_id is None:
            return
        owner = self.resolve_id(cur, rtype, f"eid:{external_id}")
        if owner is not None and owner != record_id:
            raise ApiError(
                400,
                "DUP_RCRD",
                f"Error while accessing a resource. A {rtype.name} record with the external ID "
                f"'{external_id}' already exists.",
                path="externalId",
            )

    def _update(
        self,
        cur: duckdb.DuckDBPyConnection,
        rtype: RecordType,
        record_id: int,
        body: dict[str, Any],
    ) -> None:
        self._check_external_id_free(cur, rtype, body.get("externalId"), record_id)
        values = self._columns_from_body(cur, rtype, body)
        if rtype.is_transaction:  # the subsidiary is fixed once the transaction exists
            for column in LINE_HEADER_COLUMNS:
                values.pop(column, None)
        for required_field, label in REQUIRED_ON_CREATE.get(rtype.name, {}).items():
            column = rtype.fields.get(required_field)
            if required_field in body and body[required_field] in (None, "") and column is not None:
                raise user_error(f"Please enter value(s) for: {label}.", path=required_field)
        now = now_utc()
        values["lastmodifieddate"] = now
        if rtype.is_transaction and isinstance(body.get("item"), dict) and "items" in body["item"]:
            header = {
                **self._row(cur, "transaction", "id = ?", [record_id]),
                **self._line_header(cur, record_id),
                **values,
            }
            customer = cur.execute(
                "SELECT pricelevel FROM ns.customer WHERE id = ?", [header.get("entity")]
            ).fetchone()
            context = TransactionContext(
                header.get("subsidiary"),
                header.get("currency"),
                header.get("exchangerate") or 1.0,
                customer[0] if customer else None,
            )
            lines = self._lines(cur, rtype, body, context)
            if not lines and rtype.name in LINE_REQUIRED_TYPES:
                raise user_error(
                    "You must enter at least one line item for this transaction.", path="item"
                )
            values["foreigntotal"] = round(sum(line["amount"] for line in lines), 2)
            header["foreigntotal"] = values["foreigntotal"]
            if rtype.type_code == "CustInvc":
                values["foreignamountunpaid"] = values["foreigntotal"] - (
                    header.get("foreignamountpaid") or 0
                )
            cur.execute('DELETE FROM ns.transactionline WHERE "transaction" = ?', [record_id])
            self._write_lines(cur, record_id, rtype.type_code, header, lines, now)
        elif rtype.is_transaction:
            cur.execute(
                'UPDATE ns.transactionline SET linelastmodifieddate = ? WHERE "transaction" = ?',
                [now, record_id],
            )
        assignments = ", ".join(f'"{col}" = ?' for col in values)
        cur.execute(
            f'UPDATE ns."{rtype.table}" SET {assignments} WHERE id = ?',
            [*values.values(), record_id],
        )

    @staticmethod
    def _insert_row(cur: duckdb.DuckDBPyConnection, table: str, values: dict[str, Any]) -> None:
        columns = ", ".join(f'"{c}"' for c in values)
        cur.execute(
            f'INSERT INTO ns."{table}" ({columns}) VALUES ({", ".join("?" * len(values))})',
            list(values.values()),
        )

    def _write_lines(
        self,
        cur: duckdb.DuckDBPyConnection,
        transaction_id: int,
        code: str | None,
        header: dict[str, Any],
        lines: list[dict[str, Any]],
        now: dt.datetime,
    ) -> None:
        """The mainline ('T', total, positive) and one row per item line, signed as NetSuite does;
        amounts in the transaction currency and, at the transaction's rate, the base currency."""
        sign = -1 if code in NEGATIVE_LINE_TYPES else 1
        rate = header.get("exchangerate") or 1.0

        def base(amount: float | None) -> float | None:
            return None if amount is None else round(amount * rate, 2)

        priced = code not in UNPRICED_LINE_TYPES
        first_key = cur.execute(
            "SELECT coalesce(max(uniquekey), 0) + 1 FROM ns.transactionline"
        ).fetchone()[0]
        common = {
            "transaction": transaction_id,
            "taxline": "F",
            "createdfrom": header.get("createdfrom"),
            "linelastmodifieddate": now,
            **{c: header.get(c) for c in LINE_HEADER_COLUMNS},
        }
        rows = [
            {
                **common,
                "id": 0,
                "uniquekey": first_key,
                "linesequencenumber": 0,
                "mainline": "T",
                "foreignamount": header.get("foreigntotal"),
                "netamount": base(header.get("foreigntotal")),
                "isclosed": "F",
            }
        ]
        for n, line in enumerate(lines, start=1):
            rows.append(
                {
                    **common,
                    "id": n,
                    "uniquekey": first_key + n,
                    "linesequencenumber": n,
                    "mainline": "F",
                    "item": line["item"],
                    "quantity": sign * line["quantity"],
                    "rate": line["rate"] if priced else None,
                    "foreignamount": sign * line["amount"] if priced else None,
                    "netamount": base(sign * line["amount"]) if priced else None,
                    "isclosed": line["isclosed"],
                }
            )
        columns = NS_TABLES["transactionline"].column_names
        cur.executemany(
            f"INSERT INTO ns.transactionline ({', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})",
            [[row.get(c) for c in columns] for row in rows],
        )

    @staticmethod
    def _next_id(cur: duckdb.DuckDBPyConnection, rtype: RecordType) -> int:
        """max + 1 over live *and deleted* records of the id space: NetSuite never reuses an id."""
        tables = ID_SPACES.get(rtype.table, (rtype.table,))
        sharing = [name for name, t in RECORD_TYPES.items() if t.table in tables]
        live = ", ".join(f'(SELECT coalesce(max(id), 0) FROM ns."{t}")' for t in tables)
        return cur.execute(
            f"SELECT greatest({live}, "
            "(SELECT coalesce(max(recordid), 0) FROM ns.deletedrecord "
            f"WHERE recordtypeid IN ({', '.join('?' * len(sharing))}))) + 1",
            sharing,
        ).fetchone()[0]

    @staticmethod
    def _next_tranid(cur: duckdb.DuckDBPyConnection, code: str | None) -> str:
        """Next document number of the type, keeping the account's zero padding (SO000042)."""
        prefix = TRANID_PREFIX.get(code or "", "TRN")
        digits = cur.execute(
            "SELECT arg_max(d, TRY_CAST(d AS BIGINT)) FROM (SELECT regexp_extract(tranid, '(\\d+)$', 1) "
            "AS d FROM ns.transaction WHERE type = ?) WHERE d <> ''",
            [code],
        ).fetchone()[0]
        if not digits:
            return f"{prefix}1001"
        return f"{prefix}{int(digits) + 1:0{len(digits)}d}"


def _number(raw: Any, path: str) -> float:
    if isinstance(raw, bool):
        raise user_error(
            f"Invalid number {raw!r} for field {path}.", path=path, code="INVALID_CONTENT"
        )
    try:
        return float(raw)
    except (TypeError, ValueError) as exc:
        raise user_error(
            f"Invalid number {raw!r} for field {path}.", path=path, code="INVALID_CONTENT"
        ) from exc


def _address_columns(addressbook: dict[str, Any]) -> dict[str, Any]:
    """The default billing address of an ``addressbook`` sublist -> the customer's bill* columns."""
    items = addressbook.get("items") or []
    chosen = next(
        (i for i in items if isinstance(i, dict) and i.get("defaultBilling")), None
    ) or next((i for i in items if isinstance(i, dict)), None)
    if chosen is None:
        return {c.name: None for c in ADDRESS_FIELDS.values()}
    address = chosen.get("addressbookAddress") or {}
    out = {}
    for field_name, column in ADDRESS_FIELDS.items():
        value = address.get(field_name)
        if isinstance(value, dict):
            value = value.get("id")
        out[column.name] = None if value is None else str(value)
    return out
