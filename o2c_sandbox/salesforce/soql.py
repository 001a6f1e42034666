"""SOQL → DuckDB SQL.

Two stages. A small lexer rewrites the parts of SOQL that are not SQL — unquoted datetime and
date literals, backslash-escaped strings, date literals such as ``LAST_N_DAYS:30``, and bare
identifiers that collide with SQL keywords (``FROM Order``) — into standard SQL tokens. sqlglot
then parses the result, and a compiler walks the tree against the declared schema, resolving
relationship paths (``Order.Account.Name``) into LEFT JOINs and child sub-queries
(``(SELECT Id FROM OrderItems)``) into separate plans run per page of parents. Anything the
compiler does not understand is refused with Salesforce's error codes, never guessed at.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from o2c_sandbox.salesforce.model import (
    ID_TYPES,
    NUMBER_TYPES,
    TEXT_TYPES,
    SfError,
    csv_sql,
    find_field,
    find_object,
    json_sql,
    normalize_id,
    parse_datetime,
    quote_ident,
    table_sql,
)
from o2c_sandbox.schema import SF_API_OBJECTS, SfField, SfObject

#: json: REST records; csv: Bulk CSV cells; bulk_json: Bulk API 1.0 JSON records (epoch-ms
#: datetimes). Both bulk modes refuse what bulk queries do not support.
Mode = Literal["json", "csv", "bulk_json"]
MAX_OFFSET = 2000

# -- lexer -------------------------------------------------------------------------------------
_KEYWORDS = frozenset(
    {
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "IN",
        "LIKE",
        "NULL",
        "TRUE",
        "FALSE",
        "LIMIT",
        "OFFSET",
        "ASC",
        "DESC",
        "NULLS",
        "HAVING",
        "INCLUDES",
        "EXCLUDES",
    }
)
_CONTEXT_KEYWORDS = {"ORDER": "BY", "GROUP": "BY"}  # keyword only when followed by BY
_AFTER_KEYWORDS = {"BY": ("ORDER", "GROUP"), "FIRST": ("NULLS",), "LAST": ("NULLS",)}
_DATE_LITERALS = frozenset(
    {
        "TODAY",
        "YESTERDAY",
        "TOMORROW",
        "LAST_WEEK",
        "THIS_WEEK",
        "NEXT_WEEK",
        "LAST_MONTH",
        "THIS_MONTH",
        "NEXT_MONTH",
        "LAST_YEAR",
        "THIS_YEAR",
        "NEXT_YEAR",
    }
)
_N_DATE_LITERALS = frozenset({"LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO"})
_DATE_FUNCTION = "soql_date_literal"
_DATETIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})", re.IGNORECASE
)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?![\dT:])")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_N_LITERAL_RE = re.compile(r":\s*(\d+)")
_STRING_ESCAPES = {
    "'": "'",
    '"': '"',
    "\\": "\\",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    "_": "\\_",
    "%": "\\%",
}


def _malformed(message: str) -> SfError:
    return SfError("MALFORMED_QUERY", message)


def to_sql_text(soql: str) -> str:
    """Rewrite SOQL's non-SQL tokens into SQL that sqlglot parses unambiguously."""
    out: list[str] = []
    words: list[str] = []  # upper-cased words seen so far, for context keywords
    i, n = 0, len(soql)
    while i < n:
        ch = soql[i]
        if ch == "'":
            value, i = _read_string(soql, i)
            out.append("'" + value.replace("'", "''") + "'")
            continue
        if ch.isdigit():
            if m := _DATETIME_RE.match(soql, i):
                stamp = parse_datetime(m.group(0)).isoformat(sep=" ")
                out.append(f"TIMESTAMP '{stamp}'")
            elif m := _DATE_RE.match(soql, i):
                out.append(f"DATE '{m.group(0)}'")
            else:
                m = _NUMBER_RE.match(soql, i)
                assert m is not None
                out.append(m.group(0))
            i = m.end()
            continue
        if m := _WORD_RE.match(soql, i):
            word, upper = m.group(0), m.group(0).upper()
            i = m.end()
            following = soql[i:].lstrip()
            if upper in _N_DATE_LITERALS and (nm := _N_LITERAL_RE.match(soql, i)):
                out.append(f"{_DATE_FUNCTION}('{upper}', {nm.group(1)})")
                i = nm.end()
            elif upper in _DATE_LITERALS:
                out.append(f"{_DATE_FUNCTION}('{upper}', 0)")
            elif (
                upper in _KEYWORDS
                or (
                    upper in _CONTEXT_KEYWORDS
                    and following[:2].upper() == "BY"
                    and not following[2:3].isalnum()
                )
                or (upper in _AFTER_KEYWORDS and words and words[-1] in _AFTER_KEYWORDS[upper])
            ):
                out.append(upper)
            elif following.startswith("("):
                out.append(word)  # a function: COUNT(, MAX(, FIELDS(, ...
            else:
                out.append(quote_ident(word))
            words.append(upper)
            continue
        if ch == ":":
            raise _malformed("Bind variables (:name) are only available in Apex.")
        if ch == '"':
            raise _malformed("unexpected token: '\"' (string literals use single quotes)")
        out.append(ch)
        i += 1
    return "".join(out)


def _read_string(text: str, start: int) -> tuple[str, int]:
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            esc = text[i + 1 : i + 2]
            if esc not in _STRING_ESCAPES:
                raise _malformed(
                    f"Invalid string literal '{text[start : i + 2]}'. Illegal character sequence '\\{esc}' in string literal."
                )
            chars.append(_STRING_ESCAPES[esc])
            i += 2
        elif ch == "'":
            return "".join(chars), i + 1
        else:
            chars.append(ch)
            i += 1
    raise _malformed("unexpected end of query: unterminated string literal")


# -- plans -------------------------------------------------------------------------------------
@dataclass(repr=False)
class Shape:
    """How one record (or parent sub-record) is built from a result row."""

    obj: SfObject
    id_col: int
    entries: list[tuple[str, int | Shape | ChildPlan]] = field(default_factory=list)

    def parent(self, key: str) -> Shape | None:
        for name, entry in self.entries:
            if name == key and isinstance(entry, Shape):
                return entry
        return None


@dataclass
class ChildPlan:
    relationship: str
    fk_field: str  # the child's reference to the parent
    query: CompiledQuery


@dataclass(frozen=True)
class Selected:
    """One item of the SELECT list, as ``columns=true`` describes it."""

    key: str  # the record key (field name, relationship, alias or exprN)
    field: SfField | None = None  # plain and relationship fields
    path: tuple[str, ...] = ()  # parent relationships on the way to ``field``
    child: CompiledQuery | None = None  # a parent-to-child sub-query
    display: str = ""  # aggregates: the function as written, e.g. COUNT(Id)
    result_type: str = ""  # aggregates: the result's field type


class BulkUnsupported(SfError):
    """A query feature Bulk API 1.0 and 2.0 refuse (their docs' "doesn't support" lists)."""

    def __init__(self, message: str):
        super().__init__("FUNCTIONALITY_NOT_ENABLED", message)


@dataclass(repr=False)
class CompiledQuery:
    obj: SfObject
    columns: list[str]  # SQL select expressions, aliased c0..cN in order
    headers: list[str]  # CSV header per column (csv mode)
    from_sql: str
    where_sql: str | None
    params: list[Any]
    order_sql: list[str]
    limit: int | None
    offset: int | None
    group_sql: list[str]
    shape: Shape | None  # plain queries
    aggregate_keys: list[tuple[str, int]] | None  # aggregate queries: (key, column)
    count_only: bool
    fk_col: int | None = None  # child plans: the column holding the parent id
    selected: list[Selected] = field(default_factory=list)

    @property
    def children(self) -> list[ChildPlan]:
        return [e for _, e in self.shape.entries if isinstance(e, ChildPlan)] if self.shape else []

    def sql(
        self,
        *,
        include_deleted: bool,
        parent_filter: str | None = None,
        per_parent_limit: bool = False,
    ) -> tuple[str, list[Any]]:
        """The DuckDB statement; ``parent_filter`` (child plans) takes the parent-id list as its
        first parameter."""
        conditions: list[str] = []
        params: list[Any] = []
        if parent_filter:
            conditions.append(f"{parent_filter} IN (SELECT unnest(?::VARCHAR[]))")
        if not include_deleted:
            conditions.append('NOT t0."IsDeleted"')
        if self.where_sql:
            conditions.append(f"({self.where_sql})")
            params.extend(self.params)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        if self.count_only:
            return f"SELECT count(*) FROM {self.from_sql}{where}", params
        select = ", ".join(f"{c} AS c{i}" for i, c in enumerate(self.columns))
        group = f" GROUP BY {', '.join(self.group_sql)}" if self.group_sql else ""
        order_terms = list(self.order_sql)
        if self.aggregate_keys is None:
            order_terms.append('t0."Id"')  # a stable total order, so paging never shifts
        order = f" ORDER BY {', '.join(order_terms)}" if order_terms else ""
        if per_parent_limit and (self.limit is not None or self.offset):
            lo = self.offset or 0
            hi = lo + self.limit if self.limit is not None else None
            window = f"row_number() OVER (PARTITION BY {parent_filter}{order})"
            cond = f"__rn > {lo}" + (f" AND __rn <= {hi}" if hi is not None else "")
            return (
                f"SELECT * EXCLUDE (__rn) FROM (SELECT {select}, {window} AS __rn "
                f"FROM {self.from_sql}{where}{group}) WHERE {cond} ORDER BY __rn"
            ), params
        tail = ""
        if not per_parent_limit:
            if self.limit is not None:
                tail += f" LIMIT {self.limit}"
            if self.offset:
                tail += f" OFFSET {self.offset}"
        return f"SELECT {select} FROM {self.from_sql}{where}{group}{order}{tail}", params


# -- compiler ----------------------------------------------------------------------------------
def compile_soql(soql: str, mode: Mode = "json") -> CompiledQuery:
    """Parse and compile one SOQL statement; raises SfError with Salesforce's codes."""
    if mode != "json" and re.search(r"\bTYPEOF\b", soql, re.IGNORECASE):
        raise BulkUnsupported("TYPEOF is not supported in Bulk Query")
    try:
        tree = sqlglot.parse_one(to_sql_text(soql))
    except (ParseError, TokenError) as exc:
        raise _malformed(f"unexpected token in query: {_first_line(exc)}") from exc
    if not isinstance(tree, exp.Select):
        raise _malformed("unexpected token: query must start with SELECT")
    return _Compiler(mode).compile(tree)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


_ALLOWED_ARGS = {"expressions", "from_", "where", "order", "limit", "offset", "group", "kind"}
_AGGREGATES: dict[type, str] = {
    exp.Count: "count",
    exp.Sum: "sum",
    exp.Avg: "avg",
    exp.Min: "min",
    exp.Max: "max",
}
_COMPARISONS: dict[type, str] = {
    exp.EQ: "=",
    exp.NEQ: "!=",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
}


@dataclass
class _Value:
    kind: str  # string | number | boolean | null | datetime | date | range
    value: Any


class _Compiler:
    def __init__(self, mode: Mode, alias_counter: list[int] | None = None):
        self.mode = mode
        self.params: list[Any] = []
        self.joins: dict[tuple[str, ...], tuple[str, SfObject]] = {}
        self.join_sql: list[str] = []
        self.columns: list[str] = []
        self.headers: list[str] = []
        self.alias_counter = alias_counter or [0]
        self.obj: SfObject
        self.root_alias = "t0"
        self.obj_aliases: set[str] = set()
        self.selected: list[Selected] = []

    @property
    def bulk(self) -> bool:
        return self.mode != "json"

    def _new_alias(self) -> str:
        self.alias_counter[0] += 1
        return f"t{self.alias_counter[0]}"

    # -- statement -----------------------------------------------------------------------------
    def compile(self, tree: exp.Select, parent: SfObject | None = None) -> CompiledQuery:
        unsupported = sorted(k for k, v in tree.args.items() if v and k not in _ALLOWED_ARGS)
        if unsupported:
            raise _malformed(f"unsupported SOQL clause: {', '.join(unsupported).upper()}")
        from_ = tree.args.get("from_")
        if from_ is None or not isinstance(from_.this, exp.Table):
            raise _malformed("unexpected token: missing FROM <object>")
        table = from_.this
        self.obj = self._from_object(table.name, parent)
        self.obj_aliases = {self.obj.name.lower()}
        if table.alias:
            self.obj_aliases.add(table.alias.lower())

        select_items = list(tree.expressions)
        is_aggregate = bool(tree.args.get("group")) or any(_is_aggregate(e) for e in select_items)
        count_only = (
            len(select_items) == 1
            and isinstance(select_items[0], exp.Count)
            and select_items[0].this is None
        )
        shape: Shape | None = None
        aggregate_keys: list[tuple[str, int]] | None = None
        group_sql: list[str] = []
        if self.bulk:
            if tree.args.get("group"):
                raise BulkUnsupported("GROUP BY is not supported in Bulk Query")
            if tree.args.get("offset"):
                raise BulkUnsupported("OFFSET is not supported in Bulk Query")
            if is_aggregate or count_only:
                raise BulkUnsupported("Aggregate functions are not supported in Bulk Query")
        if count_only:
            if tree.args.get("group"):
                raise _malformed("COUNT() cannot be used with GROUP BY")
        elif is_aggregate:
            group_sql = (
                [self._field_sql(g)[0] for g in tree.args["group"].expressions]
                if tree.args.get("group")
                else []
            )
            aggregate_keys = self._aggregate_select(select_items, group_sql)
        else:
            shape = self._plain_select(select_items)

        where_sql = self._condition(tree.args["where"].this) if tree.args.get("where") else None
        order_sql = (
            [self._order_term(o, is_aggregate) for o in tree.args["order"].expressions]
            if tree.args.get("order")
            else []
        )
        limit = _int_clause(tree.args.get("limit"), "LIMIT")
        offset = _int_clause(tree.args.get("offset"), "OFFSET")
        if offset is not None and offset > MAX_OFFSET:
            raise SfError(
                "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}"
            )
        from_sql = " ".join([f"{table_sql(self.obj)} {self.root_alias}", *self.join_sql])
        return CompiledQuery(
            obj=self.obj,
            columns=self.columns,
            headers=self.headers,
            from_sql=from_sql,
            where_sql=where_sql,
            params=self.params,
            order_sql=order_sql,
            limit=limit,
            offset=offset,
            group_sql=group_sql,
            shape=shape,
            aggregate_keys=aggregate_keys,
            count_only=count_only,
            selected=self.selected,
        )

    def _from_object(self, name: str, parent: SfObject | None) -> SfObject:
        if parent is not None:
            for rel in parent.children:
                if rel.name.lower() == name.lower():
                    return SF_API_OBJECTS[rel.child_object]
            raise SfError(
                "INVALID_TYPE",
                f"Didn't understand relationship '{name}' in FROM part of query call. "
                "If you are attempting to use a custom relationship, be sure to append "
                "the '__r' after the custom relationship name. Please reference your "
                "WSDL or the describe call for the appropriate names.",
            )
        obj = find_object(name)
        if obj is None:
            raise SfError(
                "INVALID_TYPE",
                f"sObject type '{name}' is not supported. If you are attempting to use a "
                "custom object, be sure to append the '__c' after the entity name. "
                "Please reference your WSDL or the describe call for the appropriate names.",
            )
        return obj

    def _add_column(self, sql: str, header: str = "") -> int:
        self.columns.append(sql)
        self.headers.append(header)
        return len(self.columns) - 1

    # -- select lists ---------------------------------------------------------------------------
    def _plain_select(self, items: list[exp.Expression]) -> Shape:
        root = Shape(self.obj, -1)
        if self.mode != "csv":
            root.id_col = self._add_column(f'{self.root_alias}."Id"')
        seen: set[str] = set()
        for item in self._expand_fields(items):
            if isinstance(item, exp.Subquery):
                if self.bulk:
                    raise BulkUnsupported("Aggregate Relationships not supported in Bulk Query")
                plan = self._child_plan(item)
                key = plan.relationship
                entry: int | Shape | ChildPlan = plan
                target = root
                self.selected.append(Selected(key, child=plan.query))
            elif isinstance(item, exp.Column | exp.Dot):
                sql, fld, path = self._field_sql(item, selecting=True)
                key = ".".join([*path, fld.name])
                target = self._parent_shape(root, path)
                entry = self._add_column(self._output_sql(fld, sql), key)
                self.selected.append(Selected(fld.name, fld, path))
            else:
                raise _malformed(f"unexpected token in SELECT list: {item.sql()[:80]}")
            if key.lower() in seen:
                raise _malformed(f"duplicate field selected: {key}")
            seen.add(key.lower())
            target.entries.append((fld.name if isinstance(entry, int) else key, entry))
        return root

    def _output_sql(self, fld: SfField, sql: str) -> str:
        if self.mode == "csv":
            return csv_sql(fld, sql)
        if self.mode == "bulk_json" and fld.type in ("datetime", "date"):
            return f"epoch_ms({sql}::TIMESTAMP)"  # Bulk API 1.0 JSON: milliseconds since epoch
        return json_sql(fld, sql)

    def _expand_fields(self, items: list[exp.Expression]) -> list[exp.Expression]:
        """``FIELDS(ALL|STANDARD|CUSTOM)`` expands to the declared fields."""
        out: list[exp.Expression] = []
        for item in items:
            if isinstance(item, exp.Anonymous) and item.name.upper() == "FIELDS":
                which = item.expressions[0].name.upper() if item.expressions else ""
                if which not in ("ALL", "STANDARD", "CUSTOM"):
                    raise _malformed("FIELDS() takes ALL, STANDARD or CUSTOM")
                for f in self.obj.fields:
                    if which == "ALL" or (which == "CUSTOM") == f.custom:
                        out.append(exp.column(f.name, quoted=True))
            else:
                out.append(item)
        return out

    def _parent_shape(self, root: Shape, path: tuple[str, ...]) -> Shape:
        shape = root
        for depth, rel in enumerate(path):
            child = shape.parent(rel)
            if child is None:
                alias, obj = self.joins[path[: depth + 1]]
                child = Shape(obj, self._add_column(f'{alias}."Id"'))
                shape.entries.append((rel, child))
            shape = child
        return shape

    def _child_plan(self, sub: exp.Subquery) -> ChildPlan:
        inner = sub.this
        if not isinstance(inner, exp.Select):
            raise _malformed("unexpected token in sub-query")
        rel_name = inner.args["from_"].this.name if inner.args.get("from_") else ""
        rel = next((r for r in self.obj.children if r.name.lower() == rel_name.lower()), None)
        compiler = _Compiler("json", self.alias_counter)
        compiled = compiler.compile(inner, parent=self.obj)
        if rel is None or compiled.aggregate_keys is not None or compiled.count_only:
            raise _malformed("child sub-queries select fields from a child relationship")
        compiled.fk_col = compiler._add_column(f"{compiler.root_alias}.{quote_ident(rel.field)}")
        compiled.columns = compiler.columns
        return ChildPlan(rel.name, rel.field, compiled)

    def _aggregate_select(
        self, items: list[exp.Expression], group_sql: list[str]
    ) -> list[tuple[str, int]]:
        keys: list[tuple[str, int]] = []
        expr_n = 0
        for item in items:
            alias = item.alias if isinstance(item, exp.Alias) else None
            node = item.this if isinstance(item, exp.Alias) else item
            if _is_aggregate(node):
                sql = self._aggregate_sql(node)
                key = alias or f"expr{expr_n}"
                expr_n += 0 if alias else 1
                self.selected.append(
                    Selected(key, display=_display(node), result_type=self._aggregate_type(node))
                )
            elif isinstance(node, exp.Column | exp.Dot):
                sql, fld, path = self._field_sql(node)
                if sql not in group_sql:
                    raise _malformed(f"Field must be grouped or aggregated: {fld.name}")
                sql = json_sql(fld, sql)
                key = alias or fld.name
                self.selected.append(Selected(key, fld, path))
            else:
                raise _malformed(f"unexpected token in SELECT list: {node.sql()[:80]}")
            keys.append((key, self._add_column(sql)))
        return keys

    def _aggregate_type(self, node: exp.Expression) -> str:
        if isinstance(node, exp.Count) or (
            isinstance(node, exp.Anonymous) and node.name.upper() == "COUNT_DISTINCT"
        ):
            return "int"
        fld = self._field_sql(node.this)[1]
        return "double" if isinstance(node, exp.Avg) else fld.type

    def _aggregate_sql(self, node: exp.Expression) -> str:
        if isinstance(node, exp.Anonymous) and node.name.upper() == "COUNT_DISTINCT":
            return f"count(DISTINCT {self._field_sql(node.expressions[0])[0]})"
        func = _AGGREGATES[type(node)]
        arg = node.this
        if isinstance(node, exp.Count) and arg is None:
            return "count(*)"
        sql, fld, _ = self._field_sql(arg)
        if func in ("sum", "avg") and fld.type not in NUMBER_TYPES:
            raise _malformed(f"field {fld.name} does not support aggregate operator {func.upper()}")
        agg = f"{func}({sql})"
        return json_sql(fld, agg) if func in ("min", "max") else agg

    # -- fields ---------------------------------------------------------------------------------
    def _field_sql(
        self, node: exp.Expression, *, selecting: bool = False
    ) -> tuple[str, SfField, tuple[str, ...]]:
        """SQL for a (possibly relationship) field reference, its field and relationship path.
        Compound fields can only be selected (REST builds them from their components)."""
        parts = _path(node)
        if parts is None:
            raise _malformed(f"unexpected token: {node.sql()[:80]}")
        obj, alias = self.obj, self.root_alias
        if (
            len(parts) > 1
            and parts[0].lower() in self.obj_aliases
            and not _relationship(obj, parts[0])
        ):
            parts = parts[1:]
        path: list[str] = []
        for rel_name in parts[:-1]:
            ref = _relationship(obj, rel_name)
            if ref is None or ref.reference_to is None or ref.relationship_name is None:
                raise SfError(
                    "INVALID_FIELD",
                    f"Didn't understand relationship '{rel_name}' in field path. If you "
                    "are attempting to use a custom relationship, be sure to append the "
                    "'__r' after the custom relationship name. Please reference your WSDL "
                    "or the describe call for the appropriate names.",
                )
            path.append(ref.relationship_name)
            key = tuple(path)
            if key not in self.joins:
                target = SF_API_OBJECTS[ref.reference_to]
                new_alias = self._new_alias()
                self.join_sql.append(
                    f"LEFT JOIN {table_sql(target)} {new_alias} "
                    f'ON {new_alias}."Id" = {alias}.{quote_ident(ref.name)}'
                )
                self.joins[key] = (new_alias, target)
            alias, obj = self.joins[key]
        fld = find_field(obj, parts[-1])
        if fld is None:
            raise SfError(
                "INVALID_FIELD",
                f"No such column '{parts[-1]}' on entity '{obj.name}'. If you are "
                "attempting to use a custom field, be sure to append the '__c' after the "
                "custom field name. Please reference your WSDL or the describe call for "
                "the appropriate names.",
            )
        if not fld.stored:
            if not selecting:
                raise SfError(
                    "INVALID_FIELD", f"field '{fld.name}' can not be filtered in a query call"
                )
            if self.bulk:
                raise BulkUnsupported("Selecting compound data not supported in Bulk Query")
            return _compound_sql(obj, fld, alias), fld, tuple(path)
        return f"{alias}.{quote_ident(fld.name)}", fld, tuple(path)

    # -- WHERE ----------------------------------------------------------------------------------
    def _condition(self, node: exp.Expression) -> str:
        if isinstance(node, exp.Paren):
            return f"({self._condition(node.this)})"
        if isinstance(node, exp.And):
            return f"({self._condition(node.this)} AND {self._condition(node.expression)})"
        if isinstance(node, exp.Or):
            return f"({self._condition(node.this)} OR {self._condition(node.expression)})"
        if isinstance(node, exp.Not):
            inner = node.this
            if isinstance(inner, exp.In):
                return self._in(inner, negate=True)
            return f"(NOT coalesce({self._condition(inner)}, false))"
        if type(node) in _COMPARISONS:
            return self._comparison(node, _COMPARISONS[type(node)])
        if isinstance(node, exp.In):
            return self._in(node, negate=False)
        if isinstance(node, exp.Like):
            sql, fld, _ = self._field_sql(node.this)
            value = self._value(node.expression)
            if value.kind != "string" or fld.type not in TEXT_TYPES | ID_TYPES:
                raise SfError("INVALID_FIELD", f"invalid operator on field {fld.name}: LIKE")
            self.params.append(value.value)
            return f"({sql} ILIKE ? ESCAPE '\\')"
        raise _malformed(f"unexpected token in WHERE: {node.sql()[:80]}")

    def _comparison(self, node: exp.Expression, op: str) -> str:
        sql, fld, _ = self._field_sql(node.this)
        value = self._value(node.expression)
        if value.kind == "null":
            if op == "=":
                return f"({sql} IS NULL)"
            if op == "!=":
                return f"({sql} IS NOT NULL)"
            raise _malformed(f"null can only be compared with = or !=, not {op}")
        if value.kind == "range":
            return self._range_comparison(sql, fld, op, value.value)
        param = self._typed(fld, value)
        if fld.type in TEXT_TYPES and op in ("=", "!="):
            sql, param = f"lower({sql})", param.lower()
        self.params.append(param)
        if op == "!=":
            return f"({sql} IS DISTINCT FROM ?)"
        return f"({sql} {op} ?)"

    def _range_comparison(
        self, sql: str, fld: SfField, op: str, bounds: tuple[dt.date, dt.date]
    ) -> str:
        if fld.type not in ("date", "datetime"):
            raise SfError(
                "INVALID_FIELD",
                f"value of filter criterion for field '{fld.name}' must be of type "
                f"{_type_label(fld)}",
            )
        start, end = (
            bounds
            if fld.type == "date"
            else tuple(dt.datetime.combine(b, dt.time()) for b in bounds)
        )
        forms = {
            "=": (f"({sql} >= ? AND {sql} < ?)", [start, end]),
            "!=": (f"NOT coalesce({sql} >= ? AND {sql} < ?, false)", [start, end]),
            "<": (f"({sql} < ?)", [start]),
            "<=": (f"({sql} < ?)", [end]),
            ">": (f"({sql} >= ?)", [end]),
            ">=": (f"({sql} >= ?)", [start]),
        }
        text, params = forms[op]
        self.params.extend(params)
        return text

    def _in(self, node: exp.In, *, negate: bool) -> str:
        sql, fld, _ = self._field_sql(node.this)
        query = node.args.get("query")
        if query is not None:
            inner = query.this if isinstance(query, exp.Subquery) else query
            semi = _Compiler("json", self.alias_counter)
            compiled = semi.compile(inner)
            if len(compiled.columns) != 2 or compiled.shape is None:
                raise _malformed("semi-join sub-selects select exactly one field")
            inner_sql, inner_params = compiled.sql(include_deleted=False)
            self.params.extend(inner_params)
            sub = f"SELECT c1 FROM ({inner_sql})"
            return f"(coalesce({sql} NOT IN ({sub}), true))" if negate else f"({sql} IN ({sub}))"
        values = [self._value(v) for v in node.expressions]
        if not values:
            raise _malformed("IN requires at least one value")
        params = []
        for v in values:
            if v.kind == "null":
                params.append(None)
                continue
            p = self._typed(fld, v)
            params.append(p.lower() if fld.type in TEXT_TYPES else p)
        col = f"lower({sql})" if fld.type in TEXT_TYPES else sql
        self.params.extend(params)
        placeholders = ", ".join("?" for _ in params)
        if negate:  # SOQL's NOT IN keeps rows whose field is null (null is just another value)
            return f"(coalesce({col} NOT IN ({placeholders}), true))"
        return f"({col} IN ({placeholders}))"

    def _value(self, node: exp.Expression) -> _Value:
        if isinstance(node, exp.Null):
            return _Value("null", None)
        if isinstance(node, exp.Boolean):
            return _Value("boolean", node.this)
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
            inner = self._value(node.this)
            return _Value("number", -inner.value)
        if isinstance(node, exp.Literal):
            if node.is_string:
                return _Value("string", node.this)
            text = node.this
            return _Value("number", float(text) if any(c in text for c in ".eE") else int(text))
        if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal):
            target = node.to.this
            if target == exp.DataType.Type.TIMESTAMP:
                return _Value("datetime", dt.datetime.fromisoformat(node.this.this))
            if target == exp.DataType.Type.DATE:
                return _Value("date", dt.date.fromisoformat(node.this.this))
        if isinstance(node, exp.Anonymous) and node.name.lower() == _DATE_FUNCTION:
            name, count = node.expressions[0].this, int(node.expressions[1].this)
            return _Value("range", date_literal_range(name, count))
        raise _malformed(f"unexpected token: {node.sql()[:80]}")

    def _typed(self, fld: SfField, value: _Value) -> Any:
        """The literal as a parameter of the field's type, or Salesforce's INVALID_FIELD."""
        ok = {
            "datetime": ("datetime",),
            "date": ("date",),
            "boolean": ("boolean",),
        }.get(fld.type, ("number",) if fld.type in NUMBER_TYPES else ("string",))
        if value.kind not in ok:
            quoted = fld.type in TEXT_TYPES | ID_TYPES
            raise SfError(
                "INVALID_FIELD",
                f"value of filter criterion for field '{fld.name}' must be of type "
                f"{_type_label(fld)} and should {'' if quoted else 'not '}be enclosed in quotes",
            )
        if fld.type in ID_TYPES:
            return normalize_id(value.value) or value.value
        return value.value

    # -- ORDER BY -------------------------------------------------------------------------------
    def _order_term(self, node: exp.Ordered, aggregate: bool) -> str:
        target = node.this
        if aggregate and _is_aggregate(target):
            sql = self._aggregate_sql(target)
        else:
            sql, _, _ = self._field_sql(target)
        direction = "DESC" if node.args.get("desc") else "ASC"
        nulls = "NULLS FIRST" if node.args.get("nulls_first") else "NULLS LAST"
        return f"{sql} {direction} {nulls}"


def _compound_sql(obj: SfObject, fld: SfField, alias: str) -> str:
    """A compound address as REST shows it: an object of its components, or null when all
    are empty (keys in Salesforce's order, coordinates null)."""
    prefix = fld.name.removesuffix("Address")
    parts = {
        f.name[len(prefix)].lower() + f.name[len(prefix) + 1 :]: f"{alias}.{quote_ident(f.name)}"
        for f in obj.fields
        if f.compound_field_name == fld.name
    }
    keys = {**parts, "geocodeAccuracy": "NULL::VARCHAR", "latitude": "NULL::DOUBLE"}
    keys["longitude"] = "NULL::DOUBLE"
    pack = ", ".join(f"{k} := {keys[k]}" for k in sorted(keys))
    return f"CASE WHEN coalesce({', '.join(parts.values())}) IS NULL THEN NULL ELSE struct_pack({pack}) END"


def _display(node: exp.Expression) -> str:
    """An aggregate as the query wrote it, e.g. ``COUNT(Id)``."""
    if isinstance(node, exp.Anonymous):
        inner = ", ".join(".".join(_path(e) or [e.sql()]) for e in node.expressions)
        return f"{node.name.upper()}({inner})"
    name = type(node).__name__.upper()
    arg = node.this
    return f"{name}({'.'.join(_path(arg) or []) if arg is not None else ''})"


def _relationship(obj: SfObject, name: str) -> SfField | None:
    for f in obj.fields:
        if f.relationship_name and f.relationship_name.lower() == name.lower():
            return f
    return None


def _path(node: exp.Expression) -> list[str] | None:
    if isinstance(node, exp.Column):
        return [p.name for p in node.parts]
    if isinstance(node, exp.Dot):
        left = _path(node.this)
        right = node.expression
        if left is None or not isinstance(right, exp.Identifier):
            return None
        return [*left, right.name]
    return None


def _is_aggregate(node: exp.Expression) -> bool:
    node = node.this if isinstance(node, exp.Alias) else node
    return type(node) in _AGGREGATES or (
        isinstance(node, exp.Anonymous) and node.name.upper() == "COUNT_DISTINCT"
    )


def _int_clause(clause: exp.Expression | None, name: str) -> int | None:
    if clause is None:
        return None
    value = clause.expression
    if not isinstance(value, exp.Literal) or value.is_string or not value.this.isdigit():
        raise _malformed(f"{name} requires a non-negative integer")
    return int(value.this)


def _type_label(fld: SfField) -> str:
    return {"datetime": "dateTime", "reference": "reference", "id": "id"}.get(fld.type, fld.type)


def date_literal_range(name: str, n: int, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """SOQL date literal → [start, end) in UTC days."""
    today = today or dt.datetime.now(dt.UTC).date()
    day = dt.timedelta(days=1)
    week_start = today - dt.timedelta(days=(today.weekday() + 1) % 7)  # Sunday, as in en_US
    month_start = today.replace(day=1)

    def add_months(d: dt.date, months: int) -> dt.date:
        y, m = divmod(d.month - 1 + months, 12)
        return d.replace(year=d.year + y, month=m + 1, day=1)

    ranges = {
        "TODAY": (today, today + day),
        "YESTERDAY": (today - day, today),
        "TOMORROW": (today + day, today + 2 * day),
        "LAST_N_DAYS": (today - n * day, today + day),
        "NEXT_N_DAYS": (today + day, today + (n + 1) * day),
        "N_DAYS_AGO": (today - n * day, today - (n - 1) * day),
        "THIS_WEEK": (week_start, week_start + 7 * day),
        "LAST_WEEK": (week_start - 7 * day, week_start),
        "NEXT_WEEK": (week_start + 7 * day, week_start + 14 * day),
        "THIS_MONTH": (month_start, add_months(month_start, 1)),
        "LAST_MONTH": (add_months(month_start, -1), month_start),
        "NEXT_MONTH": (add_months(month_start, 1), add_months(month_start, 2)),
        "THIS_YEAR": (dt.date(today.year, 1, 1), dt.date(today.year + 1, 1, 1)),
        "LAST_YEAR": (dt.date(today.year - 1, 1, 1), dt.date(today.year, 1, 1)),
        "NEXT_YEAR": (dt.date(today.year + 1, 1, 1), dt.date(today.year + 2, 1, 1)),
    }
    return ranges[name]
