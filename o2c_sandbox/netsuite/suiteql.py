"""SuiteQL over the sandbox's DuckDB world: parse as Oracle SQL with sqlglot, rewrite onto the
``ns`` schema, run with LIMIT/OFFSET pushed into DuckDB, render rows as NetSuite does.

What is translated
    Table names (case-insensitive) onto ``ns."<table>"``, ``DUAL``; ``TO_DATE``/``TO_TIMESTAMP``
    and ``TO_CHAR`` with Oracle format models (``YYYY-MM-DD``, ``HH24:MI:SS``, ``MM/DD/YYYY``,
    ``"T"`` quoted literals, ``AM``...); ``SYSDATE``/``CURRENT_DATE``; ``NVL``; ``BUILTIN.DF`` of
    ``status`` (``"Sales Order : Pending Fulfillment"``), ``entity`` (customer name), ``item``
    (item name/SKU) and ``createdfrom`` (``"Sales Order #SO1001"``); ``ROWNUM <= n`` in the
    top-level WHERE; ``FETCH FIRST``/``OFFSET ... ROWS``; everything sqlglot maps from Oracle to
    DuckDB (CASE, aggregates, joins, IN, LIKE, subqueries, ABS, ROUND...).

Value rendering (the rule real SuiteQL-over-REST follows, as far as public captures show)
    * every non-null value is a JSON **string**: ``"id": "42"``, ``"foreigntotal": "1250.5"``;
      integral numbers carry no decimal point; checkboxes stay ``"T"``/``"F"``;
    * DATE and TIMESTAMP values not formatted by ``TO_CHAR`` come back in the account's date
      format, date only: ``"1/15/2024"`` (``M/D/YYYY``) — use ``TO_CHAR`` for the time of day;
    * null columns are omitted from the item; column names are lowercase; an unaliased
      expression is named ``expr1``, ``expr2``... in select-list order.

Paging: ``limit`` is 1..1000 (default 1000) and ``offset`` a multiple of ``limit`` (NetSuite pages by
page number, not row); no page may reach past row 100,000 (the REST ceiling), though
``totalResults`` always reports the whole result. See ``api.py`` for links and errors.

Performance (a 1000-row page plus ``totalResults`` in well under 50 ms on >= 1M lines): the count
drops the select list and ORDER BY, which cannot change it (DuckDB does not prune them from a
subquery); counts that still cost more than a few ms are cached until the next write to the world
(record API or simulator) or for 10 s; a sorted single-table page is located by row id before its
columns are materialized; translations and per-column renderers are computed once, not per row.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from o2c_sandbox.core import ApiError, Store
from o2c_sandbox.schema import NS_STATUSES, NS_TABLES, NS_TRANSACTION_TYPES

MAX_PAGE = 1000
MAX_REACHABLE_ROWS = 100_000
COUNT_CACHE_TTL_S = 10.0
COUNT_CACHE_MIN_MS = 5.0  # cheaper counts are recomputed every time
KEYS_CACHE_ENTRIES = 32  # sorted row-id lists kept (<= 100,000 ids per table each)
QUERY_ERROR_PREFIX = (
    "Invalid search query. Detailed unprocessed description follows. Search error occurred: "
)

#: Display names of transaction type codes, as BUILTIN.DF shows them.
TRANSACTION_TYPE_NAMES = {
    "SalesOrd": "Sales Order",
    "ItemShip": "Item Fulfillment",
    "CustInvc": "Invoice",
    "CustPymt": "Payment",
    "CustCred": "Credit Memo",
    "CustRfnd": "Customer Refund",
}
assert set(TRANSACTION_TYPE_NAMES) == set(NS_TRANSACTION_TYPES.values())

#: Oracle datetime format elements -> strftime, longest first so ``HH24`` wins over ``HH``.
#: Columns holding dates or datetimes, for Oracle-style ``date + days`` arithmetic.
DATETIME_COLUMNS = {
    c.name for t in NS_TABLES.values() for c in t.columns if c.type in ("DATE", "TIMESTAMP")
}

_FORMAT_ELEMENTS = {
    "YYYY": "%Y",
    "IYYY": "%G",
    "YY": "%y",
    "MONTH": "%B",
    "MON": "%b",
    "MM": "%m",
    "DDD": "%j",
    "DD": "%d",
    "DAY": "%A",
    "DY": "%a",
    "D": "%u",
    "HH24": "%H",
    "HH12": "%I",
    "HH": "%I",
    "MI": "%M",
    "SS": "%S",
    "FF3": "%g",
    "FF6": "%f",
    "FF": "%f",
    "AM": "%p",
    "PM": "%p",
    "IW": "%V",
    "WW": "%W",
}
_FORMAT_TOKEN = re.compile(
    r'"(?P<text>[^"]*)"|(?P<element>'
    + "|".join(sorted(_FORMAT_ELEMENTS, key=len, reverse=True))
    + r")|(?P<other>.)",
    re.IGNORECASE | re.DOTALL,
)


def oracle_format_to_strftime(model: str) -> str:
    """``'YYYY-MM-DD"T"HH24:MI:SS'`` -> ``'%Y-%m-%dT%H:%M:%S'``."""
    out = []
    for m in _FORMAT_TOKEN.finditer(model):
        if m.group("text") is not None:
            out.append(m.group("text").replace("%", "%%"))
        elif m.group("element"):
            out.append(_FORMAT_ELEMENTS[m.group("element").upper()])
        else:
            out.append(m.group("other").replace("%", "%%"))
    return "".join(out)


def _strftime_from_sqlglot(fmt: str) -> str:
    """sqlglot has already mapped TO_DATE's model to strftime; only quoted text remains."""
    return re.sub(r'"([^"]*)"', r"\1", fmt)


def query_error(reason: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER", QUERY_ERROR_PREFIX + reason)


# ---------------------------------------------------------------------------------------------
# Translation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TranslatedQuery:
    sql: str  # DuckDB SQL for the whole result
    tree: exp.Query  # the rewritten tree, to add LIMIT/OFFSET to


def _status_display(type_col: exp.Expression, status_col: exp.Expression) -> exp.Expression:
    case = exp.Case()
    for code, statuses in NS_STATUSES.items():
        for letter, text in statuses.items():
            cond = exp.and_(
                exp.EQ(this=type_col.copy(), expression=exp.Literal.string(code)),
                exp.EQ(this=status_col.copy(), expression=exp.Literal.string(letter)),
            )
            case = case.when(cond, exp.Literal.string(f"{TRANSACTION_TYPE_NAMES[code]} : {text}"))
    return case.else_(exp.cast(status_col.copy(), "VARCHAR"))


def customer_display_sql(alias: str) -> str:
    """The customer's display name, shared by SuiteQL's BUILTIN.DF and the record API's refName."""
    return (
        f"CASE WHEN {alias}.companyname IS NULL OR {alias}.entityid = {alias}.companyname "
        f"THEN {alias}.entityid ELSE {alias}.entityid || ' ' || {alias}.companyname END"
    )


def _df(arg: exp.Expression) -> exp.Expression:
    """BUILTIN.DF(column): the display text NetSuite shows for a list/record reference."""
    if not isinstance(arg, exp.Column):
        return exp.cast(arg, "VARCHAR")
    name = arg.name.lower()
    qualifier = arg.table
    if name == "status":
        type_col = exp.column("type", table=qualifier) if qualifier else exp.column("type")
        return _status_display(type_col, arg)
    lookups = {
        "entity": f"SELECT {customer_display_sql('c')} FROM ns.customer c WHERE c.id = {{ref}}",
        "item": "SELECT i.itemid FROM ns.item i WHERE i.id = {ref}",
        "createdfrom": (
            "SELECT CASE x.type "
            + " ".join(
                f"WHEN '{code}' THEN '{label}'" for code, label in TRANSACTION_TYPE_NAMES.items()
            )
            + " ELSE x.type END || ' #' || x.tranid FROM ns.transaction x WHERE x.id = {ref}"
        ),
    }
    if name in lookups:
        ref = arg.sql(dialect="duckdb")
        return exp.Subquery(this=sqlglot.parse_one(lookups[name].format(ref=ref), read="duckdb"))
    return exp.cast(arg, "VARCHAR")


def _is_datetime(node: exp.Expression) -> bool:
    if isinstance(node, exp.CurrentTimestamp | exp.CurrentDate | exp.StrToDate | exp.StrToTime):
        return True
    if isinstance(node, exp.Anonymous) and node.name.upper() == "STRPTIME":
        return True
    return isinstance(node, exp.Column) and node.name.lower() in DATETIME_COLUMNS


_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
_ACCOUNT_DATE = re.compile(r"\d{1,2}/\d{1,2}/\d{4}( \d{1,2}:\d{2}( ?[AaPp][Mm])?)?")


def _account_date_format(text: str) -> str | None:
    """strptime format of a literal in the account's date(time) format, e.g. ``1/15/2024 3:05 pm``."""
    m = _ACCOUNT_DATE.fullmatch(text.strip())
    if not m:
        return None
    if m.group(2):
        return "%m/%d/%Y %I:%M %p" if " " in text.strip()[-3:] else "%m/%d/%Y %I:%M%p"
    return "%m/%d/%Y %H:%M" if m.group(1) else "%m/%d/%Y"


def _is_number(node: exp.Expression) -> bool:
    if isinstance(node, exp.Neg | exp.Paren):
        return _is_number(node.this)
    return isinstance(node, exp.Literal) and not node.is_string


def _rewrite_node(node: exp.Expression, cte_names: set[str]) -> exp.Expression:
    if isinstance(node, exp.Table):
        if (
            node.args.get("db")
            or node.args.get("catalog")
            or not isinstance(node.this, exp.Identifier)
        ):
            raise query_error(f"Record '{node.sql(dialect='oracle')}' was not found.")
        name = node.name.lower()
        if name in cte_names:
            return node
        if name == "dual":
            sub = sqlglot.parse_one("SELECT 'X' AS dummy", read="duckdb").subquery(
                node.alias_or_name or "dual"
            )
            return sub
        if name not in NS_TABLES:
            raise query_error(f"Record '{node.name}' was not found.")
        node.set("this", exp.to_identifier(name, quoted=True))
        node.set("db", exp.to_identifier("ns"))
        return node
    if (
        isinstance(node, exp.Dot)
        and isinstance(node.this, exp.Identifier)
        and node.this.name.upper() == "BUILTIN"
        and isinstance(node.expression, exp.Anonymous)
    ):
        fn = node.expression
        if fn.name.upper() != "DF" or len(fn.expressions) != 1:
            raise query_error(f"Unsupported function BUILTIN.{fn.name}.")
        return _df(fn.expressions[0])
    if isinstance(node, exp.StrToDate | exp.StrToTime):
        fmt = node.args.get("format")
        args = [node.this]
        if fmt is not None:
            args.append(exp.Literal.string(_strftime_from_sqlglot(fmt.name)))
            return exp.Anonymous(this="STRPTIME", expressions=args)
        return exp.cast(node.this, "TIMESTAMP")
    if isinstance(node, exp.Binary) and isinstance(node, _COMPARISONS):
        # a bare literal compared with a date is read in the account's date format (M/D/YYYY)
        for side, other in (("expression", node.this), ("this", node.expression)):
            literal = node.args.get(side)
            if _is_datetime(other) and isinstance(literal, exp.Literal) and literal.is_string:
                fmt = _account_date_format(literal.name)
                if fmt:
                    node.set(
                        side,
                        exp.Anonymous(
                            this="STRPTIME", expressions=[literal.copy(), exp.Literal.string(fmt)]
                        ),
                    )
        return node
    if (
        isinstance(node, exp.Add | exp.Sub)
        and _is_datetime(node.this)
        and _is_number(node.expression)
    ):
        # Oracle date arithmetic counts days: SYSDATE - 1.5 is 36 hours ago
        days = node.expression
        if isinstance(node, exp.Sub):
            days = exp.Neg(this=exp.Paren(this=days))
        seconds = exp.Mul(this=exp.Paren(this=days), expression=exp.Literal.number(86400))
        return exp.Add(
            this=node.this, expression=exp.Anonymous(this="TO_SECONDS", expressions=[seconds])
        )
    if isinstance(node, exp.ToChar):
        fmt = node.args.get("format")
        if fmt is None or re.fullmatch(
            r"[\s,.$09GDSLXV]*[09][\s,.09GDSLXV]*", fmt.name or "", re.I
        ):
            return exp.cast(node.this, "VARCHAR")
        return exp.Anonymous(
            this="STRFTIME",
            expressions=[node.this, exp.Literal.string(oracle_format_to_strftime(fmt.name))],
        )
    if isinstance(node, exp.Column) and node.name.upper() == "ROWNUM" and not node.table:
        raise query_error("ROWNUM is supported only as 'ROWNUM <= n' in the outer WHERE clause.")
    return node


def _pull_rownum_limit(select: exp.Select) -> None:
    """Oracle's ``WHERE ROWNUM <= n`` (top level, ANDed) becomes ``LIMIT n``."""
    where = select.args.get("where")
    if where is None:
        return
    conjuncts = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
    kept, limit = [], None
    for cond in conjuncts:
        if (
            isinstance(cond, exp.LTE | exp.LT)
            and isinstance(cond.this, exp.Column)
            and cond.this.name.upper() == "ROWNUM"
            and isinstance(cond.expression, exp.Literal)
        ):
            n = int(cond.expression.name) - (1 if isinstance(cond, exp.LT) else 0)
            limit = n if limit is None else min(limit, n)
        else:
            kept.append(cond)
    if limit is None:
        return
    select.set("where", exp.Where(this=exp.and_(*kept)) if kept else None)
    select.limit(max(limit, 0), copy=False)


def _name_outputs(select: exp.Select) -> None:
    """Lowercase aliases; unaliased expressions become expr1, expr2... (plain columns keep their
    name, lowercased when rendered: aliasing them would shadow the column in DuckDB)."""
    n = 0
    projections = []
    for proj in select.expressions:
        if isinstance(proj, exp.Alias):
            proj.set("alias", exp.to_identifier(proj.alias.lower(), quoted=True))
        elif not isinstance(proj, exp.Column | exp.Star):  # columns keep their own name
            n += 1
            proj = exp.alias_(proj, exp.to_identifier(f"expr{n}", quoted=True))
        projections.append(proj)
    select.set("expressions", projections)


@functools.lru_cache(maxsize=512)
def translate(suiteql: str) -> TranslatedQuery:
    """SuiteQL text -> DuckDB SQL over the ``ns`` schema; raises ApiError(400) on bad queries.

    Cached: paging re-sends the same text for every page. The returned tree is never mutated."""
    if not suiteql or not suiteql.strip():
        raise query_error("The query is empty.")
    try:
        statements = [s for s in sqlglot.parse(suiteql, read="oracle") if s is not None]
    except ParseError as exc:
        errors = exc.errors[0] if exc.errors else {}
        where = f" near '{errors.get('highlight')}'" if errors.get("highlight") else ""
        raise query_error(f"Syntax error{where}: {errors.get('description', str(exc))}.") from exc
    if len(statements) != 1:
        raise query_error("Exactly one SELECT statement is allowed.")
    tree = statements[0]
    if isinstance(tree, exp.Command):
        raise query_error(f"Syntax error near '{tree.name}'.")
    if not isinstance(tree, exp.Query):
        raise query_error("Only SELECT statements are allowed.")
    cte_names = {cte.alias.lower() for cte in tree.find_all(exp.CTE)}
    try:
        if isinstance(tree, exp.Select):
            _pull_rownum_limit(tree)
        tree = tree.transform(lambda node: _rewrite_node(node, cte_names), copy=False)
        if isinstance(tree, exp.Select):
            _name_outputs(tree)
        sql = tree.sql(dialect="duckdb")
    except SqlglotError as exc:
        raise query_error(str(exc)) from exc
    return TranslatedQuery(sql=sql, tree=tree)


# ---------------------------------------------------------------------------------------------
# Execution and rendering
# ---------------------------------------------------------------------------------------------


def _render_number(value: float | Decimal) -> str:
    if value == int(value):
        return str(int(value))
    # 15 significant digits: the stored decimal, without binary floating-point noise
    text = f"{value:.15g}"
    return text if "e" not in text else format(Decimal(text), "f")


def _render_date(value: dt.date) -> str:
    return f"{value.month}/{value.day}/{value.year}"


def _render_bool(value: bool) -> str:
    return "T" if value else "F"


def render_value(value: Any) -> str:
    """One SuiteQL value as NetSuite puts it on the wire (see the module docstring)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return _render_bool(value)
    if isinstance(value, dt.date):  # datetime included: date only, in the account's format
        return _render_date(value)
    if isinstance(value, float | Decimal):
        return _render_number(value)
    return str(value)


def _renderer_for(duckdb_type: Any) -> Callable[[Any], str]:
    """The renderer for a whole result column, chosen once from its DuckDB type (per-value
    isinstance dispatch costs more than the query itself on a 1000-row page)."""
    name = str(duckdb_type).upper()
    if name == "VARCHAR":
        return str
    if name in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER"):
        return str
    if name in ("DOUBLE", "FLOAT") or name.startswith("DECIMAL"):
        return _render_number
    if name == "DATE" or name.startswith("TIMESTAMP"):
        return _render_date
    if name == "BOOLEAN":
        return _render_bool
    return render_value


def _duckdb_reason(exc: duckdb.Error) -> str:
    message = str(exc).split("\n")[0]
    m = re.search(r'Referenced column "([^"]+)" not found', message) or re.search(
        r'Table "[^"]+" does not have a column named "([^"]+)"', message
    )
    if m:
        return (
            f"Field '{m.group(1)}' was not found. Reason: NOT_EXPOSED - Not available for search."
        )
    m = re.search(r"Referenced table \"([^\"]+)\" not found", message)
    if m:
        return f"Record '{m.group(1)}' was not found."
    return re.sub(r"^[A-Za-z ]+Error: ", "", message)


@dataclass
class Page:
    items: list[dict[str, str]]
    total: int


class SuiteQLEngine:
    """Runs translated queries against the store, one page at a time."""

    def __init__(self, store: Store):
        self.store = store
        self._counts: dict[tuple[str, int], tuple[float, int]] = {}
        self._keys: dict[tuple[str, int], tuple[float, list[list[int]] | None]] = {}
        self._lock = threading.Lock()

    def run(self, suiteql: str, limit: int, offset: int) -> Page:
        query = translate(suiteql)
        cur = self.store.cursor()
        try:
            total = self._count(cur, query)
            if offset >= total:
                return Page([], total)
            rel = self._execute_page(cur, query, limit, offset)
            columns = [(d[0].lower(), _renderer_for(d[1])) for d in rel.description]
            rows = rel.fetchall()
        except duckdb.Error as exc:
            raise query_error(_duckdb_reason(exc)) from exc
        finally:
            cur.close()
        items = [
            {
                "links": [],
                **{
                    name: render(v)
                    for (name, render), v in zip(columns, row, strict=True)
                    if v is not None
                },
            }
            for row in rows
        ]
        return Page(items, total)

    def _execute_page(
        self, cur: duckdb.DuckDBPyConnection, query: TranslatedQuery, limit: int, offset: int
    ) -> duckdb.DuckDBPyConnection:
        """LIMIT/OFFSET pushed into DuckDB. A sorted single-table page is found by row id first and
        only its 1000 rows are materialized: sorting every column of a million rows to reach offset
        99,000 costs several times more than sorting the row ids."""
        late = _late_materialization(query.tree)
        if late is not None:
            try:
                keys = self._sorted_keys(cur, query, late, limit + offset)
                if keys is not None:
                    return cur.execute(
                        late.from_keys_sql(), [k[offset : offset + limit] for k in keys]
                    )
                return cur.execute(late.page_sql(limit, offset))
            except duckdb.Error:
                pass  # e.g. ORDER BY a select-list alias: the plain form below handles it
        tree = query.tree
        if (
            isinstance(tree, exp.Select)
            and not tree.args.get("limit")
            and not tree.args.get("offset")
        ):
            return cur.execute(tree.copy().limit(limit).offset(offset).sql(dialect="duckdb"))
        return cur.execute(
            f"SELECT * FROM ({query.sql}) AS suiteql_page LIMIT {limit} OFFSET {offset}"
        )

    def _sorted_keys(
        self,
        cur: duckdb.DuckDBPyConnection,
        query: TranslatedQuery,
        late: LateMaterialization,
        reach: int,
    ) -> list[list[int]] | None:
        """The row ids of every reachable row of a sorted query, in order, once the same query
        text asks for a second page: a client paging a big result then pays one sort, not one
        sort per page (the sandbox's stand-in for NetSuite's server-side result set). None for a
        query's first page, which a top-N sort answers cheaper."""
        if reach > MAX_REACHABLE_ROWS:
            return None
        key = (query.sql, self.store.version)
        now = time.monotonic()
        with self._lock:
            hit = self._keys.get(key)
            if hit is not None and now - hit[0] < COUNT_CACHE_TTL_S:
                if hit[1] is not None:
                    return hit[1]
            else:
                if len(self._keys) > KEYS_CACHE_ENTRIES:
                    self._keys.clear()
                self._keys[key] = (now, None)  # seen once: the next page builds the key list
                return None
        columns = cur.execute(late.keys_sql(MAX_REACHABLE_ROWS)).fetchnumpy()
        keys = [columns[f"suiteql_k{n}"].tolist() for n in range(late.tables)]
        with self._lock:
            self._keys[key] = (now, keys)
        return keys

    def _count(self, cur: duckdb.DuckDBPyConnection, query: TranslatedQuery) -> int:
        key = (query.sql, self.store.version)
        now = time.monotonic()
        with self._lock:
            hit = self._counts.get(key)
            if hit and now - hit[0] < COUNT_CACHE_TTL_S:
                return hit[1]
        started = time.perf_counter()
        total = cur.execute(_count_sql(query)).fetchone()[0]
        if (time.perf_counter() - started) * 1000 >= COUNT_CACHE_MIN_MS:
            with self._lock:
                if len(self._counts) > 1024:
                    self._counts.clear()
                self._counts[key] = (now, total)
        return total


def _is_row_preserving(tree: exp.Expression) -> bool:
    """A plain SELECT whose select list cannot change the number of rows."""
    if not isinstance(tree, exp.Select):
        return False
    if any(tree.args.get(k) for k in ("distinct", "group", "having", "limit", "offset", "qualify")):
        return False
    return not any(p.find(exp.AggFunc, exp.Window) for p in tree.expressions)


def _count_sql(query: TranslatedQuery) -> str:
    """count(*) without the work that cannot change it: the select list and ORDER BY."""
    tree = query.tree
    if _is_row_preserving(tree):
        bare = tree.copy()
        bare.set("expressions", [exp.Literal.number(1)])
        bare.set("order", None)
        return f"SELECT count(*) FROM ({bare.sql(dialect='duckdb')}) AS suiteql_count"
    if isinstance(tree, exp.Select) and not tree.args.get("limit") and not tree.args.get("offset"):
        unordered = tree.copy()
        unordered.set("order", None)
        return f"SELECT count(*) FROM ({unordered.sql(dialect='duckdb')}) AS suiteql_count"
    return f"SELECT count(*) FROM ({query.sql}) AS suiteql_count"


@dataclass(frozen=True)
class LateMaterialization:
    """A sorted single-table (or joined base tables) query split in two: the sorted row ids of its
    tables, and the join back from row ids to the selected columns."""

    keys: exp.Select  # SELECT t.rowid AS suiteql_k0, ... WHERE ... ORDER BY ... (no LIMIT)
    back: str  # JOIN ns.t AS t ON t.rowid = suiteql_keys.suiteql_k0 [LEFT] JOIN ...
    projections: str
    order: str
    tables: int

    def page_sql(self, limit: int, offset: int) -> str:
        """``SELECT cols FROM (keys LIMIT .. OFFSET ..) keys JOIN ... ORDER BY``."""
        keys = self.keys.copy().limit(limit).offset(offset).sql(dialect="duckdb")
        return f"SELECT {self.projections} FROM ({keys}) AS suiteql_keys {self.back} {self.order}"

    def keys_sql(self, limit: int) -> str:
        return self.keys.copy().limit(limit).sql(dialect="duckdb")

    def from_keys_sql(self) -> str:
        """The page whose row ids are given as one list parameter per table, in order."""
        lists = ", ".join(f"unnest(${n + 1}::BIGINT[]) AS suiteql_k{n}" for n in range(self.tables))
        return (
            f"SELECT {self.projections} FROM (SELECT {lists}, "
            f"unnest(range(len($1::BIGINT[]))) AS suiteql_ord) AS suiteql_keys {self.back} "
            "ORDER BY suiteql_keys.suiteql_ord"
        )


def _table_stars(
    projections: list[exp.Expression], qualifiers: list[exp.Identifier]
) -> list[exp.Expression]:
    """A bare ``*`` as each source table's ``t.*``: in the join back from row ids, ``*`` would
    also pick up the key columns (``suiteql_k0``, ``suiteql_ord``), which are no part of any
    table. A qualified ``t.*`` already names one table's columns only."""
    out: list[exp.Expression] = []
    for projection in projections:
        if isinstance(projection, exp.Star):
            out.extend(exp.Column(this=exp.Star(), table=q.copy()) for q in qualifiers)
        else:
            out.append(projection)
    return out


def _late_materialization(tree: exp.Expression) -> LateMaterialization | None:
    """A sorted page found by row ids, then joined back to its tables for the selected columns:

    ``SELECT cols FROM (SELECT t.rowid AS k0, l.rowid AS k1 FROM ... WHERE ... ORDER BY ... LIMIT
    ... OFFSET ...) keys JOIN ns.t AS t ON t.rowid = keys.k0 [LEFT] JOIN ns.l AS l ON ... ORDER BY``

    None unless every source is a base table and the select list keeps rows one-to-one."""
    if not _is_row_preserving(tree) or not tree.args.get("order"):
        return None
    source = tree.args.get("from_") or tree.args.get("from")
    joins = tree.args.get("joins") or []
    tables = [source.this if source is not None else None] + [j.this for j in joins]
    if not all(isinstance(t, exp.Table) and t.args.get("db") is not None for t in tables):
        return None
    if any(j.args.get("kind") or j.side not in ("", "LEFT") or j.args.get("using") for j in joins):
        return None  # SEMI/ANTI/RIGHT/FULL joins and USING keep the plain form
    qualifiers = [exp.to_identifier(t.alias_or_name, quoted=True) for t in tables]
    keys = tree.copy()
    keys.set(
        "expressions",
        [
            exp.alias_(exp.column("rowid", table=q.copy()), f"suiteql_k{n}")
            for n, q in enumerate(qualifiers)
        ],
    )
    back = []
    for n, (table, qualifier, join) in enumerate(
        zip(tables, qualifiers, [None, *joins], strict=True)
    ):
        side = "LEFT JOIN" if join is not None and join.side == "LEFT" else "JOIN"
        back.append(
            f"{side} {table.sql(dialect='duckdb')} "
            f"ON {qualifier.sql(dialect='duckdb')}.rowid = suiteql_keys.suiteql_k{n}"
        )
    return LateMaterialization(
        keys=keys,
        back=" ".join(back),
        projections=", ".join(
            p.sql(dialect="duckdb") for p in _table_stars(tree.expressions, qualifiers)
        ),
        order=tree.args["order"].sql(dialect="duckdb"),
        tables=len(tables),
    )
