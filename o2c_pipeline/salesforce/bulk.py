"""Bulk API 2.0 through simple-salesforce's client, step by step, and its CSV in both directions.

The library's all-in-one generators restart a job (or silently end the stream) when one results
page fails; driving create, poll and page ourselves lets the resource retry each call alone.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.csv as pa_csv
from simple_salesforce import Salesforce
from simple_salesforce.bulk2 import JobState, Operation, _Bulk2Client

from o2c_pipeline.salesforce.errors import SalesforceApiError

log = logging.getLogger(__name__)
T = TypeVar("T")
BULK_NULL = "#N/A"  # Bulk API 2.0's way of saying "set this field to null"
#: The resource's retried, re-logging call: ``call(describe, operation)``.
Call = Callable[[str, Callable[[Salesforce], Any]], Any]


def _client(sf: Salesforce, sobject: str = "") -> _Bulk2Client:
    return _Bulk2Client(sobject, sf.bulk2_url, dict(sf.headers), sf.session)


class Bulk2Jobs:
    """Bulk 2.0 query and ingest jobs, each HTTP step through the resource's ``call``."""

    def __init__(self, call: Call, poll_interval_s: float) -> None:
        self.call = call
        self.poll_interval_s = poll_interval_s

    def query_frames(
        self, soql: str, *, include_deleted: bool, max_records: int
    ) -> Iterator[pa.Table]:
        operation = Operation.query_all if include_deleted else Operation.query
        job = self.call(
            "bulk2 create query job", lambda sf: _client(sf).create_job(operation, soql)
        )
        job_id = job["id"]
        self.call(
            "bulk2 wait for query job",
            lambda sf: _client(sf).wait_for_job(job_id, True, self.poll_interval_s),
        )
        locator = ""
        while True:
            page = self.call(
                "bulk2 query results",
                lambda sf, loc=locator: _client(sf).get_query_results(job_id, loc, max_records),
            )
            if page["number_of_records"]:
                yield csv_to_table(page["records"])
            locator = page["locator"]
            if not locator:
                return

    def ingest(
        self,
        operation: Operation,
        sobject: str,
        records: list[dict[str, Any]],
        external_id_field: str,
    ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        """One ingest job; returns its successful and failed (or unprocessed) result rows."""
        data = records_to_csv(records)
        job = self.call(
            f"bulk2 create {operation.value} job",
            lambda sf: _client(sf, sobject).create_job(
                operation, external_id_field=external_id_field
            ),
        )
        job_id = job["id"]
        try:
            if job.get("state") != JobState.open:
                raise SalesforceApiError(
                    0, "BULK_JOB_NOT_OPEN", f"new ingest job is {job.get('state')}"
                )
            self.call("bulk2 upload", lambda sf: _client(sf, sobject).upload_job_data(job_id, data))
            self.call("bulk2 close job", lambda sf: _client(sf, sobject).close_job(job_id))
            self.call(
                "bulk2 wait for ingest job",
                lambda sf: _client(sf, sobject).wait_for_job(job_id, False, self.poll_interval_s),
            )
        except Exception:
            self._abort_quietly(job_id, sobject)
            raise

        def results(kind: str) -> list[dict[str, str]]:
            text = self.call(
                f"bulk2 {kind}", lambda sf: _client(sf, sobject).get_ingest_results(job_id, kind)
            )
            return list(csv.DictReader(io.StringIO(text)))

        unprocessed = [
            {**row, "sf__Error": "UNPROCESSED: the job ended before this row was processed"}
            for row in results("unprocessedrecords")
        ]
        return results("successfulResults"), results("failedResults") + unprocessed

    def _abort_quietly(self, job_id: str, sobject: str) -> None:
        try:
            self.call("bulk2 abort job", lambda sf: _client(sf, sobject).abort_job(job_id, False))
        except SalesforceApiError as exc:  # the job may already be finished; the cause matters more
            log.warning("Salesforce: could not abort bulk job %s: %s", job_id, exc)


def csv_to_table(text: str) -> pa.Table:
    """A Bulk 2.0 CSV page as an Arrow table of nullable strings (empty means null)."""
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
    return pa_csv.read_csv(
        io.BytesIO(text.encode("utf-8")),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )


def records_to_csv(records: Iterable[dict[str, Any]]) -> str:
    """Records as Bulk 2.0 ingest CSV: columns in first-seen order, ``None`` as ``#N/A``."""
    rows = list(records)
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n", restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (BULK_NULL if v is None else _csv_value(v)) for k, v in row.items()})
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
