"""Which columns a NetSuite entity can read beyond its core: the record type's fields from the
REST metadata catalog, checked against SuiteQL.

How record fields relate to SuiteQL columns: a *custom* field (``x-ns-custom-field``; script ids
``custentity_*``, ``custbody_*``, ``custitem_*``, ``custrecord_*``...) is a SuiteQL column of the
same (lowercase) name on the record's table, which is what makes custom fields dependable to
discover. A *standard* field's record API name only often matches: SuiteQL is case-insensitive,
so ``companyName`` is ``companyname``, but ``total`` is ``foreigntotal``, ``amountRemaining`` is
``foreignamountunpaid`` and computed fields such as ``balance`` are no column at all; and a custom
field whose value is not stored is in the catalog but not in SuiteQL. SuiteQL has no information
schema (and omits null columns from its rows), so each candidate is tried in a one-row query; a
refusal names the column it did not know (``Field 'x' ... was not found`` / ``Unknown identifier
'x'``), which is dropped, else the candidates are halved until the culprit is found. Verdicts are
remembered (:class:`~o2c_pipeline.extract.columns.ColumnVerdicts`) per SuiteQL table, so a
column is tried once a week, not once a run, and once for all the entities reading that table. Fields the configuration names outright (``include``) are candidates too,
for SuiteQL columns the catalog does not list.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from o2c_pipeline.entities import Column, Entity
from o2c_pipeline.extract.columns import ColumnVerdicts, SourceField
from o2c_pipeline.netsuite import queries
from o2c_pipeline.netsuite.errors import NetSuiteApiError

log = logging.getLogger(__name__)

#: most one-row probes per entity and run; the rest are tried next run
MAX_PROBES = 24
_QUOTED = re.compile(r"""['"]([A-Za-z0-9_.]+)['"]""")


def catalog_fields(schema: dict[str, Any]) -> list[SourceField]:
    """The scalar fields of a record type's JSON Schema as candidate SuiteQL columns: sublists
    and links are no columns; a reference (``$ref``/object) is its internal id(s), kept as text
    because a multi-select holds several."""
    out = []
    for name, prop in (schema.get("properties") or {}).items():
        kind, ref = prop.get("type"), str(prop.get("$ref", ""))
        inner = prop.get("properties") or {}
        if name == "links" or kind == "array" or ref.endswith(("Collection", "nsLink")):
            continue
        if "items" in inner or "totalResults" in inner:  # an inline sublist collection
            continue
        if kind == "object" or ref:
            type_ = "VARCHAR"
        elif kind == "boolean":
            type_ = "BOOLEAN"
        elif kind == "integer":
            type_ = "BIGINT"
        elif kind == "number":
            type_ = "DOUBLE"
        else:
            type_ = {"date": "DATE", "date-time": "TIMESTAMP"}.get(prop.get("format"), "VARCHAR")
        out.append(SourceField(name.lower(), type_, bool(prop.get("x-ns-custom-field"))))
    return out


def queryable(
    resource: Any,
    entity: Entity,
    candidates: Sequence[Column],
    verdicts: ColumnVerdicts | None,
) -> set[str]:
    """The names of ``candidates`` SuiteQL takes on ``entity``'s rows.

    Whether SuiteQL takes a column is a property of the table, not of the entity: the entities
    reading one table (sales orders, invoices, fulfillments and payments all read
    ``transaction``) share their verdicts, and probe it one at a time, so a column one of them
    has tried costs the others nothing."""
    key = verdict_key(entity)
    with _probing(key):
        return _queryable(resource, entity, candidates, verdicts, key)


def verdict_key(entity: Entity) -> str:
    """Whose verdicts apply: the SuiteQL table (its ``FROM`` clause) the entity reads."""
    return f"{entity.system}:{entity.source}"


_PROBING: dict[str, threading.Lock] = {}
_PROBING_LOCK = threading.Lock()


def _probing(key: str) -> threading.Lock:
    with _PROBING_LOCK:
        return _PROBING.setdefault(key, threading.Lock())


def _queryable(
    resource: Any,
    entity: Entity,
    candidates: Sequence[Column],
    verdicts: ColumnVerdicts | None,
    key: str,
) -> set[str]:
    known = verdicts.known(key) if verdicts else {}
    found: dict[str, bool] = {}
    pending = [c for c in candidates if c.name not in known]
    stack, probes = [pending] if pending else [], 0
    while stack and probes < MAX_PROBES:
        group = stack.pop()
        probes += 1
        refused = _refusal(resource, entity, group)
        if refused is None:
            found.update({c.name: True for c in group})
            continue
        culprit = next((c for c in group if c.name.lower() in refused), None)
        if culprit is not None:
            found[culprit.name] = False
            rest = [c for c in group if c is not culprit]
            stack += [rest] if rest else []
        elif len(group) == 1:
            found[group[0].name] = False
        else:
            half = len(group) // 2
            stack += [group[half:], group[:half]]
    if verdicts:
        verdicts.save(key, found)
    untried = len(pending) - len(found)
    if untried:
        log.info("%s: %d column(s) left to check on the next run", entity.table, untried)
    merged = {**known, **found}
    return {c.name for c in candidates if merged.get(c.name)}


def _refusal(resource: Any, entity: Entity, columns: Sequence[Column]) -> set[str] | None:
    """None when SuiteQL takes ``columns``, else the (lowercase) names its refusal quotes."""
    try:
        resource.suiteql_page(queries.columns_probe_query(entity, columns), limit=1)
    except NetSuiteApiError as err:
        if err.status != 400:
            raise
        return {name.rsplit(".", 1)[-1].lower() for name in _QUOTED.findall(err.message)}
    return None


def candidate_columns(
    entity: Entity, offered: Iterable[SourceField], named: Iterable[str], wants: Any
) -> list[Column]:
    """The core, then the catalog's fields and the named ones the rules want, once each."""
    out: dict[str, Column] = {c.name.lower(): c for c in entity.columns}
    for f in offered:
        if f.name not in out and wants(f.name):
            out[f.name] = Column(f.name, f.type, core=False)
    for name in named:
        out.setdefault(name.lower(), Column(name.lower(), core=False))
    return list(out.values())
