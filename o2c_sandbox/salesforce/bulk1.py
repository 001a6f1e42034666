"""Bulk API 1.0 (``/services/async/<version>/``): jobs, batches, batch results and query results.

The wire format follows the job: a job created with an XML ``jobInfo`` (jsforce, Data Loader)
answers in XML, one created with JSON (simple-salesforce, the Singer taps) in JSON; batch data
and results are CSV for ``contentType`` CSV and JSON for JSON. Sessions come in the
``X-SFDC-Session`` header. Batches run on worker threads through the same SOQL compiler and write
path as the REST API, so a batch refuses what bulk queries do not support (Bulk API's "doesn't
support" list) and validates records exactly like REST. ``Sforce-Enable-PKChunking`` splits a
query batch into one batch per Id range, the original batch ending ``NotProcessed``, as in
Salesforce.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from o2c_sandbox.core import ApiError, Store
from o2c_sandbox.salesforce import dml
from o2c_sandbox.salesforce.bulk2 import csv_bytes, job_info_head
from o2c_sandbox.salesforce.model import (
    SfError,
    find_object,
    format_datetime,
    pk_chunking_supported,
    table_sql,
    utcnow,
)
from o2c_sandbox.salesforce.query import build_record, tuples
from o2c_sandbox.salesforce.soql import compile_soql

NS = "http://www.force.com/2009/06/asyncapi/dataload"
OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete", "query", "queryAll")
CONTENT_TYPES = ("CSV", "JSON")
MAX_BATCH_RECORDS = 10_000
PK_CHUNK_DEFAULT, PK_CHUNK_MAX = 100_000, 250_000
NO_RECORDS = b"Records not found for this query"
MAX_JOBS = 200


class AsyncApiError(ApiError):
    """A Bulk API 1.0 error: ``<error><exceptionCode/><exceptionMessage/></error>`` (or JSON)."""

    def __init__(self, code: str, message: str, *, as_json: bool, status: int = 400):
        super().__init__(status, code, message)
        self.as_json = as_json

    def body(self) -> tuple[bytes, str]:
        if self.as_json:
            payload = {"exceptionCode": self.code, "exceptionMessage": self.message}
            return json.dumps(payload).encode(), "application/json"
        root = ET.Element("error", xmlns=NS)
        ET.SubElement(root, "exceptionCode").text = self.code
        ET.SubElement(root, "exceptionMessage").text = self.message
        return _xml(root), "application/xml"


def wants_json(content_type: str | None) -> bool:
    return "json" in (content_type or "").lower()


@dataclass
class Batch:
    id: str
    job: Job
    request: bytes
    state: str = "Queued"
    state_message: str | None = None
    created: str = ""
    modstamp: str = ""
    processed: int = 0
    failed: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)  # ingest, per record
    result_ids: list[str] = field(default_factory=list)  # query
    result_data: dict[str, bytes] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def info(self) -> dict[str, Any]:
        elapsed = int(((self.finished or time.monotonic()) - self.started) * 1000)
        out: dict[str, Any] = {"id": self.id, "jobId": self.job.id, "state": self.state}
        if self.state_message:
            out["stateMessage"] = self.state_message
        out.update(
            createdDate=self.created,
            systemModstamp=self.modstamp or self.created,
            numberRecordsProcessed=self.processed,
            numberRecordsFailed=self.failed,
            totalProcessingTime=elapsed if self.finished else 0,
            apiActiveProcessingTime=elapsed if self.finished else 0,
            apexProcessingTime=0,
        )
        return out


@dataclass
class Job:
    id: str
    operation: str
    object: str
    content_type: str
    concurrency: str
    version: str
    as_json: bool  # the wire format of jobInfo answers
    created: str = ""
    external_id_field: str | None = None
    pk_chunk_size: int | None = None
    state: str = "Open"
    modstamp: str = ""
    batches: dict[str, Batch] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        batches = list(self.batches.values())

        def count(*states: str) -> int:
            return sum(1 for b in batches if b.state in states)

        finished = [b for b in batches if b.finished]
        # in Salesforce's order, XML elements and JSON keys alike
        values: dict[str, Any] = {
            **job_info_head(self),
            "externalIdFieldName": self.external_id_field,
            "concurrencyMode": self.concurrency,
            "contentType": self.content_type,
            "numberBatchesQueued": count("Queued"),
            "numberBatchesInProgress": count("InProgress"),
            "numberBatchesCompleted": count("Completed"),
            "numberBatchesFailed": count("Failed"),
            "numberBatchesTotal": len(batches),
            "numberRecordsProcessed": sum(b.processed for b in batches),
            "numberRetries": 0,
            "apiVersion": float(self.version),
            "numberRecordsFailed": sum(b.failed for b in batches),
            "totalProcessingTime": sum(b.info()["totalProcessingTime"] for b in finished),
            "apiActiveProcessingTime": sum(b.info()["apiActiveProcessingTime"] for b in finished),
            "apexProcessingTime": 0,
        }
        return {k: v for k, v in values.items() if k != "externalIdFieldName" or v}


class Bulk1:
    def __init__(self, store: Store):
        self.store = store
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._job_ids = itertools.count(500_000_000_001)  # apart from Bulk API 2.0's job ids
        self._batch_ids = itertools.count(1)
        self._result_ids = itertools.count(1)
        self.batches_created = 0

    # -- jobs ----------------------------------------------------------------------------------
    def create_job(
        self, body: bytes, content_type: str | None, version: str, pk_chunking: str | None
    ) -> Job:
        as_json = wants_json(content_type)
        spec = _read_job_spec(body, as_json)
        operation = spec.get("operation") or ""
        if operation not in OPERATIONS:
            raise AsyncApiError(
                "InvalidJob", f"Invalid operation: {operation or '(none)'}", as_json=as_json
            )
        obj = find_object(spec.get("object") or "")
        if obj is None:
            raise AsyncApiError(
                "InvalidJob", f"Unable to find object: {spec.get('object')}", as_json=as_json
            )
        kind = spec.get("contentType") or "CSV"
        if kind not in CONTENT_TYPES:
            raise AsyncApiError(
                "InvalidJob",
                f"contentType {kind} is not served here; use CSV or JSON",
                as_json=as_json,
            )
        if operation == "upsert" and not spec.get("externalIdFieldName"):
            raise AsyncApiError(
                "InvalidJob", "External ID field is required for upsert", as_json=as_json
            )
        concurrency = {"0": "Parallel", "1": "Serial"}.get(
            str(spec.get("concurrencyMode", "")), spec.get("concurrencyMode") or "Parallel"
        )
        with self._lock:
            job_id = f"750{next(self._job_ids):012d}AAA"
        job = Job(
            job_id,
            operation,
            obj.name,
            kind,
            str(concurrency),
            version,
            as_json,
            _stamp(as_json),
            spec.get("externalIdFieldName"),
        )
        if pk_chunking is not None and operation in ("query", "queryAll"):
            job.pk_chunk_size = _pk_chunk_size(pk_chunking, obj.name, as_json)
        with self._lock:
            self.jobs[job.id] = job
            while len(self.jobs) > MAX_JOBS:  # forget the oldest closed jobs
                old = next((j for j in self.jobs.values() if j.state != "Open"), None)
                if old is None:
                    break
                del self.jobs[old.id]
        return job

    def job(self, job_id: str, as_json: bool) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise AsyncApiError("InvalidJob", f"Unable to find job: {job_id}", as_json=as_json)
        return job

    def update_job(self, job_id: str, body: bytes, content_type: str | None) -> Job:
        as_json = wants_json(content_type)
        job = self.job(job_id, as_json)
        state = _read_job_spec(body, as_json).get("state")
        if state not in ("Closed", "Aborted"):
            raise AsyncApiError("InvalidJobState", f"Invalid state: {state}", as_json=as_json)
        if job.state != "Open":
            raise AsyncApiError(
                "InvalidJobState",
                f"Job {job.id} is {job.state} and cannot be changed",
                as_json=as_json,
            )
        job.state, job.modstamp = state, _stamp(job.as_json)
        if state == "Aborted":
            for batch in job.batches.values():
                if batch.state == "Queued":
                    batch.state, batch.state_message = "NotProcessed", "Job aborted"
        return job

    # -- batches -------------------------------------------------------------------------------
    def add_batch(self, job_id: str, data: bytes, content_type: str | None) -> dict[str, Any]:
        """Queue a batch; returns its batchInfo as of now (``Queued``)."""
        job = self.job(job_id, wants_json(content_type))
        if job.state != "Open":
            raise AsyncApiError(
                "InvalidJobState",
                f"Job {job.id} is {job.state}: no batches can be added",
                as_json=job.as_json,
            )
        batch = self._new_batch(job, data)
        info = batch.info()
        if job.pk_chunk_size and job.operation in ("query", "queryAll"):
            target = self._chunk
        else:
            target = self._run_query if job.operation in ("query", "queryAll") else self._run_ingest
        threading.Thread(
            target=target, args=(batch,), daemon=True, name=f"bulk1-{batch.id}"
        ).start()
        return info

    def _new_batch(self, job: Job, data: bytes, state: str = "Queued") -> Batch:
        with self._lock:
            batch_id = f"751{next(self._batch_ids):012d}AAA"
            self.batches_created += 1
        batch = Batch(batch_id, job, data, state=state, created=_stamp(job.as_json))
        job.batches[batch.id] = batch
        return batch

    def batch(self, job_id: str, batch_id: str) -> Batch:
        job = self.job(job_id, False)
        batch = job.batches.get(batch_id)
        if batch is None:
            raise AsyncApiError(
                "InvalidBatch", f"Unable to find batch: {batch_id}", as_json=job.as_json
            )
        return batch

    def _finish(self, batch: Batch, state: str, message: str | None = None) -> None:
        batch.state, batch.state_message = state, message
        batch.finished = time.monotonic()
        batch.modstamp = _stamp(batch.job.as_json)

    # -- query batches -------------------------------------------------------------------------
    def _compile(self, batch: Batch):  # noqa: ANN202 - a CompiledQuery
        mode = "bulk_json" if batch.job.content_type == "JSON" else "csv"
        plan = compile_soql(batch.request.decode("utf-8-sig").strip(), mode=mode)
        if plan.obj.name != batch.job.object:
            raise SfError(
                "INVALID_TYPE",
                f"The query's object {plan.obj.name} is not the job's object {batch.job.object}",
            )
        return plan

    def _run_query(self, batch: Batch, id_range: list[str] | None = None) -> None:
        batch.state = "InProgress"
        try:
            plan = self._compile(batch)
            sql, params = plan.sql(
                include_deleted=batch.job.operation == "queryAll",
                parent_filter='t0."Id"' if id_range is not None else None,
            )
            con = self.store.cursor()
            try:
                table = con.sql(
                    sql, params=[id_range, *params] if id_range is not None else params
                ).to_arrow_table()
            finally:
                con.close()
            if batch.job.content_type == "JSON":
                assert plan.shape is not None
                records = [
                    build_record(plan.shape, row, batch.job.version, {}) for row in tuples(table)
                ]
                data = json.dumps(records).encode()
            elif table.num_rows == 0:
                data = NO_RECORDS
            else:
                data = csv_bytes(table.rename_columns(plan.headers))
            with self._lock:
                result_id = f"752{next(self._result_ids):012d}"
            batch.result_ids, batch.result_data = [result_id], {result_id: data}
            batch.processed = table.num_rows
            self._finish(batch, "Completed")
        except SfError as err:
            self._finish(
                batch,
                "Failed",
                f"InvalidBatch : Failed to process query: {err.code}: {err.message}",
            )
        except Exception as exc:  # noqa: BLE001 - any engine failure fails the batch
            self._finish(batch, "Failed", f"InvalidBatch : Failed to process query: {exc}")

    def _chunk(self, batch: Batch) -> None:
        """PK chunking: one batch per ``chunkSize`` ids; the original ends NotProcessed."""
        job = batch.job
        try:
            plan = self._compile(batch)
            deleted = "" if job.operation == "queryAll" else ' WHERE NOT "IsDeleted"'
            con = self.store.cursor()
            try:
                ids = [
                    r[0]
                    for r in con.execute(
                        f'SELECT "Id" FROM {table_sql(plan.obj)}{deleted} ORDER BY "Id"'
                    ).fetchall()
                ]
            finally:
                con.close()
        except SfError as err:
            self._finish(
                batch,
                "Failed",
                f"InvalidBatch : Failed to process query: {err.code}: {err.message}",
            )
            return
        size = job.pk_chunk_size or PK_CHUNK_DEFAULT
        for start in range(0, max(len(ids), 1), size):
            chunk = self._new_batch(job, batch.request)
            threading.Thread(
                target=self._run_query,
                args=(chunk, ids[start : start + size]),
                daemon=True,
                name=f"bulk1-{chunk.id}",
            ).start()
        self._finish(batch, "NotProcessed")

    def batch_result(self, job_id: str, batch_id: str) -> tuple[bytes, str]:
        """``…/batch/<id>/result``: per-record outcomes, or a query batch's result ids."""
        batch = self.batch(job_id, batch_id)
        job = batch.job
        if batch.state not in ("Completed", "Failed") or (
            batch.state == "Failed" and not batch.results
        ):
            raise AsyncApiError(
                "InvalidBatch", f"Batch not completed: {batch.state}", as_json=job.as_json
            )
        if job.operation in ("query", "queryAll"):
            if job.content_type == "JSON":
                return json.dumps(batch.result_ids).encode(), "application/json"
            root = ET.Element("result-list", xmlns=NS)
            for result_id in batch.result_ids:
                ET.SubElement(root, "result").text = result_id
            return _xml(root), "application/xml"
        if job.content_type == "JSON":
            return json.dumps(batch.results).encode(), "application/json"
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(["Id", "Success", "Created", "Error"])
        for r in batch.results:
            error = "".join(
                f"{e['statusCode']}:{e['message']}:{','.join(e['fields'])} --" for e in r["errors"]
            )
            writer.writerow(
                [r["id"] or "", str(r["success"]).lower(), str(r["created"]).lower(), error]
            )
        return out.getvalue().encode(), "text/csv"

    def query_result(self, job_id: str, batch_id: str, result_id: str) -> tuple[bytes, str]:
        batch = self.batch(job_id, batch_id)
        data = batch.result_data.get(result_id)
        if data is None:
            raise AsyncApiError(
                "InvalidBatch", f"Unable to find result: {result_id}", as_json=batch.job.as_json
            )
        return data, "application/json" if batch.job.content_type == "JSON" else "text/csv"

    # -- ingest batches ------------------------------------------------------------------------
    def _run_ingest(self, batch: Batch) -> None:
        batch.state = "InProgress"
        job = batch.job
        try:
            records, from_csv = _read_records(batch.request, job.content_type)
            if len(records) > MAX_BATCH_RECORDS:
                raise SfError(
                    "InvalidBatch",
                    f"Records in a batch must not exceed {MAX_BATCH_RECORDS}: {len(records)}",
                )
            obj = find_object(job.object)
            assert obj is not None
            outcomes = dml.save(
                self.store,
                [dml.Batch(obj, job.operation, records, job.external_id_field, from_csv=from_csv)],
            )
        except SfError as err:
            self._finish(batch, "Failed", f"{err.code} : {err.message}")
            return
        except Exception as exc:  # noqa: BLE001
            self._finish(batch, "Failed", f"InvalidBatch : {exc}")
            return
        for outcome in outcomes:
            batch.results.append(
                {
                    "success": outcome.success,
                    "created": bool(
                        outcome.created or (outcome.success and job.operation == "insert")
                    ),
                    "id": outcome.id,
                    "errors": []
                    if outcome.error is None
                    else [
                        {
                            "message": outcome.error.message,
                            "fields": outcome.error.fields,
                            "statusCode": outcome.error.code,
                        }
                    ],
                }
            )
        batch.processed = len(outcomes)
        batch.failed = sum(1 for o in outcomes if not o.success)
        self._finish(batch, "Completed")


# -- wire formats ------------------------------------------------------------------------------
def _xml(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def to_wire(tag: str, values: dict[str, Any], as_json: bool) -> tuple[bytes, str]:
    """A jobInfo / batchInfo (or a list of batchInfos) in the job's format."""
    if as_json:
        return json.dumps(values).encode(), "application/json"
    root = ET.Element(tag, xmlns=NS)
    _fill(root, values)
    return _xml(root), "application/xml"


def _fill(node: ET.Element, values: dict[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, list):
            for item in value:
                _fill(ET.SubElement(node, key), item)
            continue
        child = ET.SubElement(node, key)
        if isinstance(value, bool):
            child.text = str(value).lower()
        elif value is not None:
            child.text = str(value)


def _read_job_spec(body: bytes, as_json: bool) -> dict[str, Any]:
    try:
        if as_json:
            spec = json.loads(body or b"{}")
            if not isinstance(spec, dict):
                raise ValueError("a JSON object is expected")
            return spec
        root = ET.fromstring(body.decode("utf-8-sig").strip())
        return {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in root}
    except (ValueError, ET.ParseError) as exc:
        raise AsyncApiError(
            "InvalidJob", f"Unable to parse the job: {exc}", as_json=as_json
        ) from exc


def _read_records(data: bytes, content_type: str) -> tuple[list[dict[str, Any]], bool]:
    text = data.decode("utf-8-sig")
    if content_type == "JSON":
        records = json.loads(text or "[]")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise SfError("InvalidBatch", "A JSON batch is an array of records")
        return records, False
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise SfError("InvalidBatch", "The batch has no header row")
    return [dict(zip(header, row, strict=False)) for row in reader if row], True


def _pk_chunk_size(header: str, obj_name: str, as_json: bool) -> int | None:
    """``Sforce-Enable-PKChunking: true`` or ``chunkSize=N; parent=…; startRow=…``."""
    options = {}
    for part in header.replace(",", ";").split(";"):
        key, _, value = part.strip().partition("=")
        options[key.strip().lower()] = value.strip()
    if options.get("false") is not None and len(options) == 1:
        return None
    if not pk_chunking_supported(options.get("parent") or obj_name):
        raise AsyncApiError(
            "InvalidJob",
            f"Object {obj_name} is not supported by the PK Chunking feature",
            as_json=as_json,
        )
    size = options.get("chunksize") or str(PK_CHUNK_DEFAULT)
    if not size.isdigit() or not 0 < int(size) <= PK_CHUNK_MAX:
        raise AsyncApiError(
            "InvalidJob", f"Invalid chunkSize {size}: 1 to {PK_CHUNK_MAX}", as_json=as_json
        )
    return int(size)


def _stamp(as_json: bool) -> str:
    """Bulk API 1.0 dates: ``…000Z`` in XML, ``…000+0000`` in JSON."""
    text = format_datetime(utcnow())
    return text if as_json else text.replace("+0000", "Z")
