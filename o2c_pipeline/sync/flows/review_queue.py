"""NetSuite credit memos and refunds -> the review queue (never applied automatically).

They are not among the delta-loaded tables, so this flow reads NetSuite itself: one incremental
SuiteQL query from its own watermark (``>=`` the last stamp seen: re-reading a boundary row is
harmless, missing one is not). It overrides the template's steps that read the warehouse.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from o2c_pipeline.netsuite import queries
from o2c_pipeline.netsuite.statuses import status_text
from o2c_pipeline.pools import NETSUITE_API
from o2c_pipeline.sync.context import EPOCH
from o2c_pipeline.sync.flow import Flow, Target
from o2c_pipeline.sync.mapping import strip_prefix

REVIEW_TYPES = {"CustCred": "creditMemo", "CustRfnd": "customerRefund"}


class ReviewQueue(Flow):
    name = "review_queue"
    writes = Target("warehouse", "review_queue")
    source_system = "netsuite"
    pool = NETSUITE_API

    @property
    def watermark_key(self) -> str:
        return f"sync/{self.name}/netsuite.transaction"

    def current(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        mark = self.ctx.checkpoints.get_watermark(self.watermark_key)
        query = queries.transactions_since_query(
            REVIEW_TYPES, mark.modstamp if mark else EPOCH, self.only
        )
        return [r for page in self.ctx.netsuite.suiteql_pages(query) for r in page]

    def process(self, rows: Sequence[dict[str, Any]]) -> None:
        prefix = self.settings.customer_external_id_prefix
        queued = [
            {
                "netsuite_id": str(r["id"]),
                "record_type": REVIEW_TYPES.get(r.get("type", ""), r.get("type")),
                "tran_id": r.get("tranid"),
                "customer_id": r.get("entity"),
                "salesforce_account_id": strip_prefix(r.get("customer_externalid"), prefix),
                "amount": float(r["foreigntotal"])
                if r.get("foreigntotal") not in (None, "")
                else None,
                "status": status_text(r.get("type", ""), r.get("status")),
                "tran_date": r.get("trandate"),
            }
            for r in rows
        ]
        if self.ctx.plan is not None:  # a dry run queues nothing and keeps the watermark
            self.newest = None
            return
        self.ctx.store.queue_for_review(queued, self.ctx.clock())
        self.run.stats.written = len(rows)
        self.newest = max((r["modified"] for r in rows), default=None)

    def commit(self) -> None:
        if self.newest:
            stamp = dt.datetime.fromisoformat(self.newest).replace(tzinfo=dt.UTC)
            self.ctx.checkpoints.set_watermark(self.watermark_key, stamp)
