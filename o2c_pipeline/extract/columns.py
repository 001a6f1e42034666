"""Which columns an extraction reads: the entity's declared core, plus every other field the
source reports, as the configuration file's ``include``/``exclude`` rules allow.

Each source says what it has (:meth:`Source.fields`): Salesforce from ``describe()``, NetSuite
from its metadata catalog checked against SuiteQL. :func:`discover` merges that with the core:

- a core column the source lacks is left out of the query (and filled with NULL by the
  warehouse) with a warning, except the key, stamp, group and deleted flag, without which no
  load is possible: then the extraction fails, naming the column;
- a field the include list names outright but the source does not have is reported;
- the answer is cached per run, so an object is described at most once per run.

NetSuite's answers of whether a column can be queried (SuiteQL rejects some fields the catalog
lists, e.g. computed ones) are kept in the checkpoint store (:class:`ColumnVerdicts`), so each
column costs a probe once a week rather than on every run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from o2c_pipeline.config import EntityConfig
from o2c_pipeline.entities import Column, Entity
from o2c_pipeline.resources.checkpoints import CheckpointStore, UtcDateTime, checkpoint_table

#: a NetSuite column's queryability is probed again after this long
VERDICT_TTL = dt.timedelta(days=7)
_RUN_CACHE_SIZE = 256


class SourceSchemaError(RuntimeError):
    """The source lacks what an extraction cannot do without (an object, its key or stamp)."""


@dataclass(frozen=True)
class SourceField:
    """A field the source reports: its column name, warehouse type, whether it is custom."""

    name: str
    type: str
    custom: bool = False


@dataclass(frozen=True)
class Discovered:
    """The entity with the columns to read, and what the merge found worth telling."""

    entity: Entity
    missing_core: tuple[str, ...] = ()
    unknown_named: tuple[str, ...] = ()

    @property
    def extra(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.entity.columns if not c.core)


def required_columns(entity: Entity) -> set[str]:
    """Columns without which no load of ``entity`` is possible."""
    return {entity.key, entity.cursor, entity.group_column, *filter(None, [entity.deleted_flag])}


def merge(entity: Entity, offered: Sequence[SourceField], rules: EntityConfig) -> Discovered:
    """The core (minus what the source lacks) plus the offered fields the rules want. Names
    compare without case, as SOQL and SuiteQL compare them."""

    def norm(name: str) -> str:
        return name.lower()

    have = {norm(f.name) for f in offered}
    core_names = {norm(c.name) for c in entity.columns}
    missing = tuple(c.name for c in entity.columns if c.expr is None and norm(c.name) not in have)
    fatal = sorted(set(missing) & required_columns(entity))
    if fatal:
        raise SourceSchemaError(
            f"{entity.table}: {entity.system} has no {', '.join(fatal)} on {entity.source}, "
            "which the extraction needs (key, modification stamp or deleted flag)"
        )
    core = [c for c in entity.columns if c.name not in missing]
    extra = [
        Column(f.name, f.type, core=False)
        for f in offered
        if norm(f.name) not in core_names and rules.wants(f.name)
    ]
    unknown = tuple(n for n in rules.named() if norm(n) not in have)
    return Discovered(
        dataclasses.replace(entity, columns=(*core, *_unique(extra))), missing, unknown
    )


def _unique(columns: Sequence[Column]) -> list[Column]:
    seen: dict[str, Column] = {}
    for c in columns:
        seen.setdefault(c.name.lower(), c)
    return list(seen.values())


_RUN_CACHE: OrderedDict[tuple[str, str], Discovered] = OrderedDict()
_RUN_CACHE_LOCK = threading.Lock()


def discover(
    source: object,
    entity: Entity,
    rules: EntityConfig,
    verdicts: ColumnVerdicts | None,
    run_id: str,
) -> Discovered:
    """The columns to read for ``entity`` in this run (asked of the source once per run)."""
    key = (run_id, entity.table)
    with _RUN_CACHE_LOCK:
        cached = _RUN_CACHE.get(key)
    if cached is not None:
        return cached
    offered = source.fields(entity, rules, verdicts)  # type: ignore[attr-defined]
    found = merge(entity, offered, rules)
    with _RUN_CACHE_LOCK:
        _RUN_CACHE[key] = found
        while len(_RUN_CACHE) > _RUN_CACHE_SIZE:
            _RUN_CACHE.popitem(last=False)
    return found


# ---------------------------------------------------------------------------------------------
# NetSuite: which columns SuiteQL takes, remembered
# ---------------------------------------------------------------------------------------------

column_verdicts_table = checkpoint_table(
    "o2c_source_columns",
    sa.Column("entity", sa.String(200), primary_key=True),
    sa.Column("column_name", sa.String(200), primary_key=True),
    sa.Column("queryable", sa.Boolean, nullable=False),
    sa.Column("checked_at", UtcDateTime(), nullable=False),
)


class ColumnVerdicts:
    """Per key (NetSuite: the SuiteQL table an entity reads), which columns the source accepted
    or refused in a query, and when."""

    def __init__(self, checkpoints: CheckpointStore) -> None:
        self.checkpoints = checkpoints

    def known(self, entity: str, now: dt.datetime | None = None) -> dict[str, bool]:
        """Verdicts younger than :data:`VERDICT_TTL`."""
        fresh_after = (now or dt.datetime.now(dt.UTC)) - VERDICT_TTL
        t = column_verdicts_table
        with self.checkpoints.engine().connect() as conn:
            rows = conn.execute(
                sa.select(t.c.column_name, t.c.queryable).where(
                    t.c.entity == entity, t.c.checked_at >= fresh_after
                )
            )
            return {name: bool(ok) for name, ok in rows}

    def save(self, entity: str, verdicts: Mapping[str, bool]) -> None:
        if not verdicts:
            return
        t = column_verdicts_table
        now = dt.datetime.now(dt.UTC)
        with self.checkpoints.engine().begin() as conn:
            conn.execute(
                t.delete().where(t.c.entity == entity, t.c.column_name.in_(list(verdicts)))
            )
            conn.execute(
                t.insert(),
                [
                    {"entity": entity, "column_name": n, "queryable": ok, "checked_at": now}
                    for n, ok in verdicts.items()
                ],
            )
