"""Change feeds: which records of a flow did the delta loads land since the flow last looked?"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from o2c_pipeline.entities import Entity, entity
from o2c_pipeline.sync.context import EPOCH, SyncContext


@dataclass(frozen=True)
class Feed:
    """A warehouse table whose new versions make records of the flow worth a look.

    ``link`` is the column of ``table`` holding the flow's record key (default the table's own
    key, for the flow's primary table; e.g. ``OrderId`` for order items feeding the orders flow).
    ``match`` names the column of the flow's primary table that ``link`` values match, when that
    is not its key: a changed payment (``entity`` = customer) makes every invoice of that customer
    worth a look, ``Feed("netsuite.payments", "entity", match="entity")``.
    """

    table: str
    link: str | None = None
    match: str | None = None

    @property
    def entity(self) -> Entity:
        return entity(self.table)

    @property
    def link_column(self) -> str:
        return self.link or self.entity.key


class ChangeFeed:
    """Keys of records changed since the flow's checkpoint, over its feeds (the first names the
    flow's primary table).

    The checkpoint per (flow, feed) is the newest ``_loaded_at`` consumed; :meth:`commit` saves
    it, and only after the flow has recorded every outcome. Reads start ``change_lookback_s``
    before it: a load that stamped ``_loaded_at`` before waiting for the warehouse lock may
    commit behind a newer one, and re-considering a record costs nothing but a ledger lookup.
    """

    def __init__(self, ctx: SyncContext, flow: str, feeds: Sequence[Feed]):
        self.ctx, self.flow, self.feeds = ctx, flow, feeds
        self.primary = feeds[0].entity
        self.lookback = dt.timedelta(seconds=ctx.settings.change_lookback_s)
        self._seen: dict[str, dt.datetime] = {}

    def watermark_key(self, feed: Feed) -> str:
        return f"sync/{self.flow}/{feed.table}"

    def changed_keys(self) -> list[str]:
        keys: dict[str, None] = {}
        for feed in self.feeds:
            mark = self.ctx.checkpoints.get_watermark(self.watermark_key(feed))
            since = (mark.modstamp - self.lookback) if mark else EPOCH
            values, newest = self.ctx.warehouse.loaded_since(feed.entity, feed.link_column, since)
            if feed.match:
                rows = self.ctx.warehouse.current_rows(self.primary, feed.match, values)
                values = [str(r[self.primary.key]) for r in rows]
            keys.update(dict.fromkeys(values))
            if newest is not None:
                self._seen[feed.table] = newest
        return list(keys)

    def commit(self) -> None:
        for feed in self.feeds:
            if feed.table in self._seen:
                self.ctx.checkpoints.set_watermark(self.watermark_key(feed), self._seen[feed.table])
