"""The extraction commit: staged Parquet into the versions table and the current state, one
transaction, in the SQL both backends share (:class:`~o2c_pipeline.warehouse.base.Warehouse`
supplies the connection, the bulk load, the casts and the locks).

The work is set-based and skips what a load cannot need: a first load of its days writes every
staged version without comparing it with held ones, and a first load of the table computes the
current rows from the staged versions alone (the versions table holds nothing else of them;
where sessions are exclusive, DuckDB).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import ClassVar, Protocol

from o2c_pipeline.entities import Entity
from o2c_pipeline.extract.runner import Extraction
from o2c_pipeline.warehouse.tables import (
    CommitResult,
    SchemaChange,
    Session,
    naive_utc,
    q,
    table_ref,
)


class Warehouse(Protocol):
    """What the commit needs of a backend (:class:`o2c_pipeline.warehouse.base.Warehouse`
    implements it), so that this module does not import the one that uses it."""

    EXCLUSIVE: ClassVar[bool]

    def session(self) -> AbstractContextManager[Session]: ...

    def transaction(self, s: Session) -> AbstractContextManager[None]: ...

    def ensure_tables(self, s: Session, entity: Entity) -> SchemaChange: ...

    def load_temp(
        self, s: Session, name: str, files: Sequence[Path], columns: Sequence[str]
    ) -> str: ...

    def cast_expr(self, column: str, type_: str) -> str: ...

    def staged(self, s: Session) -> None: ...

    def lock(self, s: Session, *names: str) -> None: ...

    def _refresh_current(self, s: Session, entity: Entity, *, fresh: bool = False) -> None: ...


def identity(entity: Entity) -> str:
    """``v`` (held) and ``s`` (staged) are the same version. The group and the stamp are never
    NULL (a deletion names its group; the stamp gives the partition), so they join by equality,
    which both engines hash; the key is NULL in a line deletion."""
    key, grp, cursor = q(entity.key), q(entity.group_column), q(entity.cursor)
    exact = " AND ".join(f"v.{c} = s.{c}" for c in dict.fromkeys((grp, cursor, '"_deleted"')))
    exact += ' AND v."_version_reason" IS NOT DISTINCT FROM s."_version_reason"'
    if key == grp:
        return exact
    return f"{exact} AND v.{key} IS NOT DISTINCT FROM s.{key}"


def stage(wh: Warehouse, s: Session, extraction: Extraction, change, loaded_at, reason) -> None:
    """``_stage``: the staged versions cast to the table's types, one row per version."""
    entity = extraction.entity
    key, grp, cursor = q(entity.key), q(entity.group_column), q(entity.cursor)
    if not extraction.files:
        columns = [q(c) for c in entity.column_names]
        all_columns = ", ".join(
            [*columns, '"_deleted"', '"_partition"', '"_loaded_at"', '"_version_reason"']
        )
        s.run(
            f"CREATE TEMP TABLE _stage AS SELECT {all_columns} "
            f"FROM {table_ref(entity.table)} LIMIT 0"
        )
        return
    raw = wh.load_temp(s, "_raw", extraction.files, entity.column_names)
    casts = ", ".join(
        f"{wh.cast_expr(c.name, change.type_of(c.name, c.type))} AS {q(c.name)}"
        for c in entity.columns
    )
    deleted = '"_deleted"'
    if entity.deleted_flag:  # e.g. Salesforce IsDeleted (queryAll)
        flag = entity.column(entity.deleted_flag)
        deleted = f'("_deleted" OR coalesce({wh.cast_expr(flag.name, flag.type)}, false))'
    s.run(
        f"""CREATE TEMP TABLE _stage AS
        SELECT *, CAST({cursor} AS DATE) AS "_partition", CAST(? AS TIMESTAMP) AS "_loaded_at",
            CAST(? AS VARCHAR) AS "_version_reason"
        FROM (SELECT {casts}, {deleted} AS "_deleted" FROM {raw}) r""",
        [loaded_at, reason],
    )
    # one row per version: a version fetched twice is rare, so look (a grouping of the identity
    # alone) before paying for the DISTINCT ON, which carries every column through its hash
    version = f'{grp}, {key}, {cursor}, "_deleted"'
    if s.run(f"SELECT 1 FROM _stage GROUP BY {version} HAVING count(*) > 1 LIMIT 1"):
        s.run(f"CREATE TEMP TABLE _unique AS SELECT DISTINCT ON ({version}) * FROM _stage")
        s.run("DROP TABLE _stage")
        s.run("ALTER TABLE _unique RENAME TO _stage")


def commit(
    wh: Warehouse,
    extraction: Extraction,
    *,
    loaded_at: dt.datetime | None = None,
    reason: str | None = None,
) -> CommitResult:
    """:meth:`Warehouse.commit <o2c_pipeline.warehouse.base.Warehouse.commit>`."""
    entity = extraction.entity
    loaded_at = naive_utc(loaded_at or dt.datetime.now(dt.UTC))
    cursor = q(entity.cursor)
    versions, current = table_ref(entity.table), table_ref(entity.current_table)
    same_version = identity(entity)
    columns = [q(c) for c in entity.column_names]
    all_columns = ", ".join(
        [*columns, '"_deleted"', '"_partition"', '"_loaded_at"', '"_version_reason"']
    )
    with wh.session() as s:
        change = wh.ensure_tables(s, entity)
        with wh.transaction(s):
            stage(wh, s, extraction, change, loaded_at, reason)
            wh.staged(s)
            partitions = [
                str(p) for (p,) in s.run('SELECT DISTINCT "_partition" FROM _stage ORDER BY 1')
            ]
            wh.lock(s, *(f"{entity.table}/{p}" for p in partitions))
            ((staged, deletes, max_stamp),) = s.run(
                f'SELECT count(*), count(*) FILTER (WHERE "_deleted"), max({cursor}) FROM _stage'
            )
            in_partitions = 'v."_partition" IN (SELECT DISTINCT "_partition" FROM _stage)'
            held = s.run(f"SELECT 1 FROM {versions} v WHERE {in_partitions} LIMIT 1")
            new = changed = staged
            # a table holding nothing yet: the current rows follow from the staged versions (where
            # no other session can add versions of the same groups before this one commits)
            fresh = wh.EXCLUSIVE and not held and not s.run(f"SELECT 1 FROM {versions} LIMIT 1")
            if held:  # else a first load of these days: every staged version is new
                # versions held with identical values stay untouched (a re-run is a no-op)
                same = " AND ".join(f"v.{c} IS NOT DISTINCT FROM s.{c}" for c in columns)
                s.run(
                    f"CREATE TEMP TABLE _changed AS SELECT * FROM _stage s WHERE NOT EXISTS "
                    f"(SELECT 1 FROM {versions} v WHERE {in_partitions} AND {same_version} "
                    f"AND {same})"
                )
                s.run("DROP TABLE _stage")
                s.run("ALTER TABLE _changed RENAME TO _stage")
                ((changed,),) = s.run("SELECT count(*) FROM _stage")
                new = 0
                if changed:  # a new version is a changed one: counted among those alone
                    ((new,),) = s.run(
                        f"SELECT count(*) FROM _stage s WHERE NOT EXISTS "
                        f"(SELECT 1 FROM {versions} v WHERE {in_partitions} AND {same_version})"
                    )
                    s.run(
                        f"DELETE FROM {versions} v USING _stage s "
                        f"WHERE {same_version} AND {in_partitions}"
                    )
            if changed:
                s.run(f"INSERT INTO {versions} ({all_columns}) SELECT {all_columns} FROM _stage")
                wh.lock(s, f"{entity.current_table}")
                wh._refresh_current(s, entity, fresh=fresh)
            s.run("DROP TABLE _stage")
        ((table_rows,),) = s.run(f"SELECT count(*) FROM {versions}")
        ((current_rows,),) = s.run(f"SELECT count(*) FROM {current}")
    return CommitResult(
        int(staged),
        int(new),
        int(changed),
        int(deletes),
        max_stamp,
        int(table_rows),
        int(current_rows),
        change,
    )


def refresh_current(s: Session, entity: Entity, *, fresh: bool = False) -> None:
    """Recompute the current rows of every group the staged load touched.

    A group's newest stamp decides: if a deletion carries it the group is gone, otherwise its
    rows at that stamp are live (for a record, its newest version; for transaction lines, the
    lines of the newest snapshot, so a line dropped from an order drops out too). ``fresh``: the
    versions table held nothing before this load, so ``_stage`` holds every version of its groups,
    one per ``(group, key, stamp, deleted)``, and a grouped aggregate replaces the window sort.
    """
    grp, cursor = q(entity.group_column), q(entity.cursor)
    versions, current = table_ref(entity.table), table_ref(entity.current_table)
    names = [q(c) for c in entity.column_names] + [
        '"_partition"',
        '"_loaded_at"',
        '"_version_reason"',
    ]
    kept = ", ".join(names)
    s.run(f"DELETE FROM {current} WHERE {grp} IN (SELECT DISTINCT {grp} FROM _stage)")
    if fresh:
        s.run(
            f"""INSERT INTO {current} ({kept})
            SELECT {", ".join(f"s.{n}" for n in names)} FROM _stage s JOIN (
                SELECT {grp} AS _group, max({cursor}) AS _top,
                    max(CASE WHEN "_deleted" THEN {cursor} END) AS _dead
                FROM _stage GROUP BY {grp}
            ) g ON s.{grp} = g._group
            WHERE s.{cursor} = g._top AND NOT s."_deleted" AND (g._dead IS NULL OR g._dead < g._top)"""
        )
        return
    # one window sort over the touched groups' versions: the group's newest stamp, and its
    # newest deletion's; a key is live at most once (versions are unique per group, key, stamp)
    s.run(
        f"""INSERT INTO {current} ({kept})
        SELECT {kept} FROM (
            SELECT *, max({cursor}) OVER (PARTITION BY {grp}) AS _top,
                max(CASE WHEN "_deleted" THEN {cursor} END) OVER (PARTITION BY {grp}) AS _dead,
                -- a formula refresh is a second version at the same stamp: the later wins
                row_number() OVER (
                    PARTITION BY {grp}, {q(entity.key)}, {cursor}, "_deleted"
                    ORDER BY "_loaded_at" DESC
                ) AS _nth
            FROM {versions} WHERE {grp} IN (SELECT DISTINCT {grp} FROM _stage)
        ) touched
        WHERE {cursor} = _top AND NOT "_deleted" AND (_dead IS NULL OR _dead < _top)
          AND _nth = 1"""
    )
