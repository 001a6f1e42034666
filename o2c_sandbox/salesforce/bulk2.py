"""Bulk API 2.0 query and ingest jobs, as ``simple_salesforce.bulk2`` drives them.

Query jobs compile their SOQL at creation (a bad query is refused up front, as Salesforce
does), run on a worker thread, and keep their result as an Arrow table of CSV-ready strings
formatted by DuckDB; each results page is a slice written by Arrow's CSV writer, so a million
rows stream without a Python loop per row. Ingest jobs collect CSV uploads, then push them
through the same write path as the REST API in chunks, recording per-row successes and
failures for the result endpoints.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.csv as pacsv

from o2c_sandbox.core import Store
from o2c_sandbox.salesforce import dml
from o2c_sandbox.salesforce.model import SfError, find_object, pk_chunking_supported, utcnow
from o2c_sandbox.salesforce.org import USER_ID
from o2c_sandbox.salesforce.soql import BulkUnsupported, compile_soql

DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
QUERY_OPERATIONS = ("query", "queryAll")
INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
TERMINAL = ("JobComplete", "Failed", "Aborted")
DEFAULT_MAX_RECORDS = 50_000
INGEST_CHUNK = 10_000  # rows per write transaction
MAX_JOBS = 200


class BulkJob(Protocol):
    """What a Bulk API 1.0 or 2.0 job's info starts with."""

    id: str
    operation: str
    object: str
    created: str
    modstamp: str
    state: str


def job_info_head(job: BulkJob) -> dict[str, Any]:
    """The first fields of a job's info, alike in both Bulk APIs."""
    return {
        "id": job.id,
        "operation": job.operation,
        "object": job.object,
        "createdById": USER_ID,
        "createdDate": job.created,
        "systemModstamp": job.modstamp or job.created,
        "state": job.state,
    }


@dataclass
class Job:
    id: str
    kind: str  # "query" | "ingest"
    operation: str
    object: str
    delimiter: str
    line_ending: str
    version: str
    state: str
    created: str
    query: str = ""
    external_id_field: str | None = None
    result: pa.Table | None = None
    uploads: list[bytes] = field(default_factory=list)
    successful: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    processed: int = 0
    failed_count: int = 0
    error_message: str | None = None
    modstamp: str = ""
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            **job_info_head(self),
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.version),
            "lineEnding": _key_for(LINE_ENDINGS, self.line_ending),
            "columnDelimiter": _key_for(DELIMITERS, self.delimiter),
        }
        elapsed = int(((self.finished or time.monotonic()) - self.started) * 1000)
        if self.kind == "query":
            out.update(
                jobType="V2Query",
                numberRecordsProcessed=self.processed,
                retries=0,
                totalProcessingTime=elapsed,
                isPkChunkingSupported=pk_chunking_supported(self.object),
            )
        else:
            if self.state == "Open":
                out["contentUrl"] = f"services/data/v{self.version}/jobs/ingest/{self.id}/batches"
            out.update(
                jobType="V2Ingest",
                externalIdFieldName=self.external_id_field,
                numberRecordsProcessed=self.processed,
                numberRecordsFailed=self.failed_count,
                retries=0,
                totalProcessingTime=elapsed,
                apiActiveProcessingTime=elapsed,
                apexProcessingTime=0,
            )
        if self.error_message:
            out["errorMessage"] = self.error_message
        return out


def _key_for(mapping: dict[str, str], value: str) -> str:
    return next(k for k, v in mapping.items() if v == value)


def csv_bytes(table: pa.Table, delimiter: str = ",", eol: str = "\n") -> bytes:
    """Bulk query results as Salesforce writes them: a header, every value quoted, nulls empty."""
    buffer = io.BytesIO()
    pacsv.write_csv(
        table,
        buffer,
        pacsv.WriteOptions(
            include_header=True,
            delimiter=delimiter,
            eol=eol,
            quoting_style="all_valid",
            quoting_header="all_valid",
        ),
    )
    return buffer.getvalue()


def _locator(offset: int) -> str:
    """An opaque results locator, as Salesforce makes them (``MTAwMDA``: base64, no padding)."""
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _read_locator(locator: str) -> int:
    try:
        text = base64.b64decode(locator + "=" * (-len(locator) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    if not text.isdigit():
        raise SfError("INVALIDLOCATOR", f"Invalid locator: {locator}")
    return int(text)


def _now_text() -> str:
    return utcnow().strftime("%Y-%m-%dT%H:%M:%S.") + "000+0000"


class Bulk2:
    def __init__(self, store: Store):
        self.store = store
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.query_jobs_created = 0

    # -- jobs ----------------------------------------------------------------------------------
    def create(self, kind: str, body: dict[str, Any], version: str) -> Job:
        operation = body.get("operation", "")
        allowed = QUERY_OPERATIONS if kind == "query" else INGEST_OPERATIONS
        if operation not in allowed:
            raise SfError(
                "INVALIDJOB", f"Invalid operation: {operation!r}; one of {', '.join(allowed)}"
            )
        delimiter = DELIMITERS.get(body.get("columnDelimiter") or "COMMA")
        line_ending = LINE_ENDINGS.get(body.get("lineEnding") or "LF")
        if delimiter is None or line_ending is None:
            raise SfError("INVALIDJOB", "Invalid columnDelimiter or lineEnding")
        if (body.get("contentType") or "CSV") != "CSV":
            raise SfError("INVALIDJOB", "Only contentType CSV is supported")
        with self._lock:
            job_id = f"750{next(self._ids):012d}AAA"
        job = Job(job_id, kind, operation, "", delimiter, line_ending, version, "", _now_text())
        if kind == "query":
            try:
                plan = compile_soql(body.get("query") or "", mode="csv")
            except BulkUnsupported as err:  # Bulk API 2.0 refuses these at job creation
                raise SfError("API_ERROR", err.message) from err
            job.object, job.query, job.state = plan.obj.name, body["query"], "UploadComplete"
            self._remember(job)
            self.query_jobs_created += 1
            threading.Thread(
                target=self._run_query, args=(job, plan), daemon=True, name=f"bulk2-{job.id}"
            ).start()
        else:
            obj = find_object(body.get("object") or "")
            if obj is None:
                raise SfError("INVALIDJOB", f"Unable to find object: {body.get('object')}")
            job.object, job.state = obj.name, "Open"
            if operation == "upsert":
                if not body.get("externalIdFieldName"):
                    raise SfError("INVALIDJOB", "External ID field is required for upsert")
                job.external_id_field = body["externalIdFieldName"]
            self._remember(job)
        return job

    def _remember(self, job: Job) -> None:
        with self._lock:
            self.jobs[job.id] = job
            while len(self.jobs) > MAX_JOBS:  # forget the oldest finished jobs
                old = next((j for j in self.jobs.values() if j.state in TERMINAL), None)
                if old is None:
                    break
                del self.jobs[old.id]

    def get(self, kind: str, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None or job.kind != kind:
            raise SfError("NOT_FOUND", "The requested resource does not exist", status=404)
        return job

    def delete(self, kind: str, job_id: str) -> None:
        job = self.get(kind, job_id)
        if job.state not in TERMINAL and not (kind == "ingest" and job.state == "Open"):
            raise SfError("API_ERROR", f"Cannot delete a job in state {job.state}")
        with self._lock:
            self.jobs.pop(job_id, None)

    def set_state(self, kind: str, job_id: str, state: str) -> Job:
        job = self.get(kind, job_id)
        if state == "Aborted":
            if job.state in TERMINAL:
                raise SfError("INVALIDJOBSTATE", f"Job is already {job.state}")
            job.state, job.finished = "Aborted", time.monotonic()
        elif state == "UploadComplete" and kind == "ingest":
            if job.state != "Open":
                raise SfError("INVALIDJOBSTATE", f"Job is not Open: {job.state}")
            job.state = "UploadComplete"
            threading.Thread(
                target=self._run_ingest, args=(job,), daemon=True, name=f"bulk2-{job.id}"
            ).start()
        else:
            raise SfError("INVALIDJOBSTATE", f"Cannot change state to {state}")
        job.modstamp = _now_text()
        return job

    def list_jobs(self, kind: str) -> list[dict[str, Any]]:
        return [j.info() for j in self.jobs.values() if j.kind == kind]

    # -- query ---------------------------------------------------------------------------------
    def _run_query(self, job: Job, plan) -> None:
        job.state = "InProgress"
        con = self.store.cursor()
        try:
            sql, params = plan.sql(include_deleted=job.operation == "queryAll")
            table = con.sql(sql, params=params).to_arrow_table()
            job.result = table.rename_columns(plan.headers)
            job.processed = table.num_rows
            if job.state == "InProgress":
                job.state = "JobComplete"
        except Exception as exc:  # noqa: BLE001 - any engine failure fails the job, as in Salesforce
            job.state, job.error_message = "Failed", str(exc)
        finally:
            con.close()
            job.finished = time.monotonic()
            job.modstamp = _now_text()

    def results(
        self, job_id: str, locator: str | None, max_records: int | None, version: str
    ) -> tuple[bytes, int, str]:
        """One CSV page: body, number of records, and the next locator ("null" at the end)."""
        job = self.get("query", job_id)
        if job.version != version:
            raise SfError(
                "API_ERROR", "Results must be requested with the job's API version", status=409
            )
        if job.state != "JobComplete" or job.result is None:
            raise SfError(
                "JOB_NOT_COMPLETE" if job.state not in ("Failed", "Aborted") else "INVALIDJOBSTATE",
                f"Job {job.id} is {job.state}",
                status=412 if job.state not in ("Failed", "Aborted") else 400,
            )
        start = 0 if locator in (None, "", "null") else _read_locator(locator)
        size = max_records if max_records and max_records > 0 else DEFAULT_MAX_RECORDS
        page = job.result.slice(start, size)
        end = start + page.num_rows
        next_locator = _locator(end) if end < job.result.num_rows else "null"
        return csv_bytes(page, job.delimiter, job.line_ending), page.num_rows, next_locator

    # -- ingest --------------------------------------------------------------------------------
    def upload(self, job_id: str, data: bytes) -> None:
        job = self.get("ingest", job_id)
        if job.state != "Open":
            raise SfError("INVALIDJOBSTATE", f"Job is not Open: {job.state}", status=409)
        job.uploads.append(data)

    def _run_ingest(self, job: Job) -> None:
        job.state = "InProgress"
        try:
            header, rows = self._parse_uploads(job)
            job.header = header
            obj = find_object(job.object)
            assert obj is not None
            if job.operation in ("delete", "hardDelete") and [h.lower() for h in header] != ["id"]:
                raise SfError("INVALIDBATCH", "The delete batch must contain only an Id column")
            for start in range(0, len(rows), INGEST_CHUNK):
                chunk = rows[start : start + INGEST_CHUNK]
                if job.state == "Aborted":
                    job.unprocessed.extend(rows[start:])
                    break
                records = [dict(zip(header, r, strict=False)) for r in chunk]
                batch = dml.Batch(obj, job.operation, records, job.external_id_field, from_csv=True)
                for raw, outcome in zip(chunk, dml.save(self.store, [batch]), strict=True):
                    job.processed += 1
                    if outcome.success:
                        job.successful.append(
                            [
                                outcome.id or "",
                                "true" if outcome.created or job.operation == "insert" else "false",
                                *raw,
                            ]
                        )
                    else:
                        job.failed_count += 1
                        err = outcome.error
                        assert err is not None
                        fields = ",".join(err.fields)
                        job.failed.append(
                            [
                                outcome.id or "",
                                f"{err.code}:{err.message}:{fields}"
                                if fields
                                else f"{err.code}:{err.message}",
                                *raw,
                            ]
                        )
            if job.state == "InProgress":
                job.state = "JobComplete"
        except SfError as err:
            job.state, job.error_message = "Failed", f"{err.code} : {err.message}"
        except Exception as exc:  # noqa: BLE001
            job.state, job.error_message = "Failed", f"UNKNOWN_EXCEPTION : {exc}"
        finally:
            job.uploads.clear()
            job.finished = time.monotonic()
            job.modstamp = _now_text()

    def _parse_uploads(self, job: Job) -> tuple[list[str], list[list[str]]]:
        header: list[str] | None = None
        rows: list[list[str]] = []
        for data in job.uploads:
            text = data.decode("utf-8-sig")
            reader = csv.reader(io.StringIO(text, newline=""), delimiter=job.delimiter)
            part_header = next(reader, None)
            if part_header is None:
                continue
            if header is None:
                header = part_header
            elif [h.lower() for h in part_header] != [h.lower() for h in header]:
                raise SfError("INVALIDBATCH", "All uploads of a job must share one header row")
            rows.extend(r for r in reader if r)
        if header is None:
            raise SfError("INVALIDBATCH", "No data was uploaded for this job")
        return header, rows

    def ingest_results(self, job_id: str, which: str) -> bytes:
        job = self.get("ingest", job_id)
        if which == "successfulResults":
            header, rows = ["sf__Id", "sf__Created", *job.header], job.successful
        elif which == "failedResults":
            header, rows = ["sf__Id", "sf__Error", *job.header], job.failed
        else:
            header, rows = list(job.header), job.unprocessed
        if job.state not in TERMINAL and which != "unprocessedRecords":
            raise SfError("JOB_NOT_COMPLETE", f"Job {job.id} is {job.state}", status=412)
        out = io.StringIO()
        writer = csv.writer(
            out, delimiter=job.delimiter, lineterminator=job.line_ending, quoting=csv.QUOTE_ALL
        )
        if header:
            writer.writerow(header)
        writer.writerows(rows)
        return out.getvalue().encode()
