"""``o2c dlq list|replay``: read the sync's dead-letter queue and re-drive entries after a fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click
import dagster as dg

from o2c_pipeline import keys
from o2c_pipeline.cli import tables
from o2c_pipeline.resources.factory import build_resources
from o2c_pipeline.sync.context import SyncContext, sync_context
from o2c_pipeline.sync.flows import FLOWS_BY_NAME, replay


@contextmanager
def _sync_context() -> Iterator[SyncContext]:
    """Resources from the environment, resolved outside a run (as a run would resolve them)."""
    with dg.build_resources(build_resources()) as live:
        yield sync_context(
            getattr(live, keys.SALESFORCE),
            getattr(live, keys.NETSUITE),
            getattr(live, keys.CHECKPOINTS),
        )


@click.group()
def dlq() -> None:
    """The sync's dead-letter queue: records that could not flow, and why."""


def _known_flow(flow: str | None) -> None:
    """A clear error naming the valid flows when ``flow`` is not one (``orders.x`` sub-flows are
    named by their flow)."""
    if flow and flow.split(".", 1)[0] not in FLOWS_BY_NAME:
        raise click.BadParameter(
            f"unknown flow {flow!r}; one of {', '.join(FLOWS_BY_NAME)}", param_hint="--flow"
        )


DLQ_HEADER = ("flow", "source_id", "error_code", "attempts", "next_retry (UTC)", "reason")


@dlq.command("list")
@click.option("--flow", help="Only this flow (customers, products, orders, ...).")
@click.option("--code", "error_code", help="Only this error code, e.g. UNKNOWN_SKU.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, payload included.")
def list_entries(flow: str | None, error_code: str | None, as_json: bool) -> None:
    """List open DLQ entries, oldest first."""
    _known_flow(flow)
    with _sync_context() as ctx:
        entries = ctx.store.dlq(flow=flow, error_code=error_code)
    if not as_json:
        rows = [
            (
                e.flow,
                e.source_id,
                e.error_code,
                e.attempts,
                f"{e.next_retry_at:%Y-%m-%d %H:%M}",
                e.reason,
            )
            for e in entries
        ]
        tables.echo(tables.table(DLQ_HEADER, rows, right={3}, empty="(no open entries)"))
        click.echo(f"{len(entries)} open entr{'y' if len(entries) == 1 else 'ies'}", err=True)
        return
    for e in entries:
        click.echo(
            json.dumps(
                {
                    **vars(e),
                    "first_seen": e.first_seen.isoformat(),
                    "last_seen": e.last_seen.isoformat(),
                    "next_retry_at": e.next_retry_at.isoformat(),
                },
                default=str,
            )
        )


@dlq.command("replay")
@click.option("--flow", help="Only this flow's entries.")
@click.argument("source_ids", nargs=-1)
def replay_entries(flow: str | None, source_ids: tuple[str, ...]) -> None:
    """Re-drive DLQ entries now (all, one flow's, or the SOURCE_IDS given). Records fixed at the
    source since leave the queue; the others stay, with their attempts counted up."""
    _known_flow(flow)
    with _sync_context() as ctx:
        results = replay(ctx, flow, list(source_ids) or None)
        remaining = len(ctx.store.dlq(flow=flow, source_ids=list(source_ids) or None))
    for name, stats in results.items():
        click.echo(f"{name}: {json.dumps(stats.metadata())}")
    click.echo(f"{remaining} entr{'y' if remaining == 1 else 'ies'} still open", err=True)
