"""What a source plans and answers: fetch tasks, plans, probes, and the :class:`Source` protocol
each system implements (:mod:`o2c_pipeline.salesforce.source`, :mod:`o2c_pipeline.netsuite.source`).

A source turns ``(entity, window)`` into :class:`FetchTask` s, each an independent stream of
normalised pages, so the generic runner can fetch them concurrently.

Incremental loads start with a *probe*: one call listing the identities ``(group, stamp,
deleted)`` the source holds in the look-back window. If the warehouse already holds every one,
nothing changed and nothing is fetched. Identities rather than a count and a max stamp: a late
commit can re-stamp a record already inside the window to a stamp at or before the watermark,
which leaves the count and the max as they were.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from o2c_pipeline.entities import Entity
from o2c_pipeline.extract.windows import Window

#: A probe answers in one call or not at all: a window holding more versions is simply fetched.
PROBE_MAX_VERSIONS = 1000
PROBE_DELETED = "_deleted"


@dataclass(frozen=True)
class FetchTask:
    """One independently fetchable stream of staging pages."""

    label: str
    pages: Callable[[], Iterator[pa.Table]]


@dataclass(frozen=True)
class FetchPlan:
    tasks: list[FetchTask]
    path: str  # "rest", "bulk" or "suiteql"
    expected_rows: int | None = None


@dataclass(frozen=True)
class FetchTuning:
    """Knobs for splitting a load; defaults suit both APIs' limits."""

    rows_per_window: int = 20_000  # concurrent windows are sized to hold about this many rows
    max_windows: int = 8
    bulk_threshold_rows: int | None = None  # None: the Salesforce resource's own threshold
    incremental: bool = False  # small delta windows: skip sizing queries
    known_rows: int | None = None  # the window's row count, when a probe already counted it


@dataclass(frozen=True)
class Probe:
    """A probe's answer: the ``(group, cursor, _deleted)`` identities in the window, values as
    staged (strings); ``rows`` is what fetching the window would return, when that is known."""

    identities: pa.Table
    rows: int | None = None

    @classmethod
    def of(
        cls, entity: Entity, identities: Sequence[tuple[Any, Any, bool]], rows: int | None = None
    ) -> Probe:
        """From ``(group, stamp, deleted)`` triples as the source answered them."""
        groups = [group for group, _, _ in identities]
        stamps = [stamp for _, stamp, _ in identities]
        deleted = [gone for _, _, gone in identities]
        return cls(probe_table(entity, groups, stamps, deleted), rows)


def probe_table(
    entity: Entity, groups: list[Any], stamps: list[Any], deleted: list[bool]
) -> pa.Table:
    return pa.table(
        {
            entity.group_column: pa.array(
                [None if g is None else str(g) for g in groups], pa.string()
            ),
            entity.cursor: pa.array([None if m is None else str(m) for m in stamps], pa.string()),
            PROBE_DELETED: pa.array(deleted, pa.bool_()),
        }
    )


class Source(Protocol):
    """One source system's answers about its entities, over its API resource."""

    def plan(self, entity: Entity, window: Window, tuning: FetchTuning) -> FetchPlan: ...

    def probe(self, entity: Entity, window: Window) -> Probe | None:
        """In one call, every ``(group, stamp, deleted)`` identity the source holds in ``window``,
        or ``None`` when there are more than fit in one answer."""
        ...

    def probe_many(self, items: Sequence[tuple[Entity, Window]]) -> dict[str, Probe | None]:
        """Several entities' probes in as few calls as the API allows, by entity table; an
        entity left out was not answered and probes on its own (optional: see the runner)."""
        ...

    def count(self, entity: Entity, window: Window) -> int:
        """The source's own count of live records stamped in ``window``."""
        ...

    def changes_since(self, marks: Sequence[tuple[Entity, dt.datetime]]) -> dict[str, int]:
        """Per entity table, how many records (deletions included) changed after its mark."""
        ...

    def earliest(self, entity: Entity) -> dt.datetime | None:
        """The oldest stamp the source still reports for ``entity`` (deletions included)."""
        ...

    def fields(self, entity: Entity, rules: Any, verdicts: Any) -> list[Any]:
        """Every field of ``entity``'s object the source can return, as
        :class:`~o2c_pipeline.extract.columns.SourceField` s (see that module)."""
        ...

    @property
    def api_calls(self) -> int: ...
