"""Batched writers for both systems. Each reports every outcome to the :class:`FlowRun`; a refusal
is an :class:`~o2c_pipeline.resources.errors.ApiError` whichever system answered, so nothing here
branches on the system beyond which API to call."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from o2c_pipeline.netsuite.resource import NetSuiteResource
from o2c_pipeline.resources.errors import ApiError
from o2c_pipeline.salesforce.errors import bulk_row_error, record_error
from o2c_pipeline.salesforce.resource import COMPOSITE_BATCH
from o2c_pipeline.sync.run import FlowRun, Pending, new_request_id

NETSUITE_OUTCOME_BATCH = 50  # successes recorded per store transaction


def write_salesforce(
    run: FlowRun,
    sobject: str,
    pendings: Sequence[Pending],
    *,
    key_field: str,
    operation: str,
) -> list[Pending]:
    """Write ``pendings`` to ``sobject``: upsert by ``key_field`` (``Id`` = update by id).

    Composite collections (200 per call) up to the settings' threshold, Bulk API 2.0 above it;
    records Salesforce refuses are dead-lettered one by one, the rest recorded. Returns the
    successes (``target_id`` set).
    """
    if not pendings:
        return []
    sf = run.ctx.salesforce
    request_id = new_request_id()
    unsent = 0  # pendings[unsent:] have not been answered for yet
    try:
        if len(pendings) > run.ctx.settings.salesforce_bulk_threshold:
            _bulk_upsert(run, sobject, pendings, key_field, operation, request_id)
        else:
            for unsent in range(0, len(pendings), COMPOSITE_BATCH):
                chunk = pendings[unsent : unsent + COMPOSITE_BATCH]
                body = [dict(p.payload) for p in chunk]
                if key_field == "Id":
                    results = sf.composite_update(body, sobject=sobject)
                else:
                    results = sf.composite_upsert(sobject, key_field, body)
                run.stats.write_calls += 1
                _record_results(run, chunk, results, operation, new_request_id())
    except ApiError as exc:
        _fail_unwritten(run, pendings[unsent:], request_id, operation, exc)
    return [p for p in pendings if p.written]


def create_salesforce(run: FlowRun, sobject: str, pendings: Sequence[Pending]) -> None:
    """Inserts for objects without an external id (composite create, 200 per call)."""
    for start in range(0, len(pendings), COMPOSITE_BATCH):
        chunk = pendings[start : start + COMPOSITE_BATCH]
        request_id = new_request_id()
        try:
            results = run.ctx.salesforce.composite_create(
                [dict(p.payload) for p in chunk], sobject=sobject
            )
        except ApiError as exc:
            _fail_unwritten(run, chunk, request_id, "create", exc)
            continue
        run.stats.write_calls += 1
        _record_results(run, chunk, results, "create", request_id)


def _record_results(
    run: FlowRun,
    chunk: Sequence[Pending],
    results: Sequence[dict],
    operation: str,
    request_id: str,
) -> None:
    """Per-record results of one sObject-collection call: successes recorded, refusals failed."""
    done = []
    for p, result in zip(chunk, results, strict=True):
        if result.get("success"):
            done.append((p, result.get("id") or p.payload.get("Id"), request_id))
        else:
            run.failed(p, request_id=request_id, operation=operation, error=record_error(result))
    run.succeeded(done, operation=operation)


def _bulk_upsert(
    run: FlowRun,
    sobject: str,
    pendings: Sequence[Pending],
    key_field: str,
    operation: str,
    request_id: str,
) -> None:
    successes, failures = run.ctx.salesforce.bulk_upsert(
        sobject, key_field, [dict(p.payload) for p in pendings]
    )
    run.stats.write_calls += 1
    by_key = {p.payload.get(key_field): p for p in pendings}
    done = []
    for row in successes:
        p = by_key.get(row.get(key_field))
        if p is not None:
            done.append((p, row.get("sf__Id") or p.payload.get("Id"), request_id))
    for row in failures:
        p = by_key.get(row.get(key_field))
        if p is not None:
            run.failed(p, request_id=request_id, operation=operation, error=bulk_row_error(row))
    run.succeeded(done, operation=operation)


def _fail_unwritten(
    run: FlowRun, pendings: Sequence[Pending], request_id: str, operation: str, error: ApiError
) -> None:
    """A whole call failed after the resource's retries: every record it carried (and those
    after it, never sent) is dead-lettered."""
    for p in pendings:
        if not p.written:
            run.failed(p, request_id=request_id, operation=operation, error=error)


def write_netsuite(
    run: FlowRun,
    pendings: Sequence[Pending],
    send: Callable[[Pending], str],
    *,
    operation: str,
) -> list[Pending]:
    """Send each request in parallel threads (the resource's account-wide limiter gates them);
    outcomes are recorded from this thread only, in batches. Returns the successes."""
    if not pendings:
        return []
    ok: list[Pending] = []
    batch: list[tuple[Pending, str | None, str]] = []
    workers = max(
        1, min(run.ctx.settings.netsuite_write_threads, run.ctx.netsuite.concurrency_limit)
    )
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"sync-{run.flow}") as pool:
        futures = {pool.submit(send, p): (p, new_request_id()) for p in pendings}
        for future in as_completed(futures):
            p, request_id = futures[future]
            run.stats.write_calls += 1
            try:
                target_id = future.result()
            except ApiError as exc:
                run.failed(p, request_id=request_id, operation=operation, error=exc)
                continue
            batch.append((p, str(target_id), request_id))
            ok.append(p)
            if len(batch) >= NETSUITE_OUTCOME_BATCH:
                run.succeeded(batch, operation=operation)
                batch = []
    run.succeeded(batch, operation=operation)
    return ok


def upsert_netsuite(run: FlowRun, record_type: str, pendings: Sequence[Pending]) -> list[Pending]:
    """:func:`write_netsuite` of upserts: each payload by its ``externalId``."""
    netsuite = run.ctx.netsuite
    return write_netsuite(
        run,
        pendings,
        lambda p: upsert_by_external_id(netsuite, record_type, p.payload),
        operation="upsert",
    )


def upsert_by_external_id(
    netsuite: NetSuiteResource, record_type: str, payload: Mapping[str, Any]
) -> str:
    """Create or update the record of ``payload``'s ``externalId`` with the rest of the payload;
    returns its internal id."""
    body = {k: v for k, v in payload.items() if k != "externalId"}
    return netsuite.upsert_record(record_type, payload["externalId"], body)
