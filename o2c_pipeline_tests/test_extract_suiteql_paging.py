"""Chunked offset paging of SuiteQL against the sandbox, over HTTPS with the real OAuth1 client."""

from __future__ import annotations

import math
import threading
from typing import Any

from o2c_pipeline.netsuite.paging import ChunkedSuiteQLReader
from o2c_pipeline.netsuite.resource import NetSuiteResource
from o2c_pipeline_tests.resources.conftest import netsuite_for

PAGE = 20
CHUNK = 3 * PAGE  # small chunks, so the small world spans several


def ids_in(pages: list[list[dict[str, Any]]]) -> list[int]:
    return [int(row["id"]) for page in pages for row in page]


def keyset_ids(resource: NetSuiteResource, query: str) -> list[int]:
    return ids_in(list(resource.suiteql_pages(f"{query} ORDER BY id")))


def test_chunks_read_every_row_once_in_key_order_with_one_call_per_page(sandbox_env) -> None:
    resource = netsuite_for(sandbox_env)
    query = "SELECT id, companyname AS name FROM customer"
    expected = keyset_ids(resource, query)
    assert len(expected) > 2 * CHUNK, "the world must span several chunks"
    reader = ChunkedSuiteQLReader(resource, page_size=PAGE, parallel=4, max_rows_per_query=CHUNK)
    before = resource.api_calls
    got = ids_in(list(reader.pages(query, "id", "id", lambda items: items)))
    calls = resource.api_calls - before
    assert got == expected
    # ceil(rows / page) pages, plus one empty first page if the last chunk ended exactly full
    assert calls == math.ceil(len(expected) / PAGE) + (len(expected) % CHUNK == 0)


class MovesARowMidChunk:
    """The real resource, but the first page read at an offset > 0 first renames an early row out
    of the query's result, as a record re-stamped out of a closed window would leave it."""

    def __init__(self, resource: NetSuiteResource, row_id: int) -> None:
        self.resource, self.row_id = resource, row_id
        self.moved = threading.Event()
        self._lock = threading.Lock()

    def suiteql_page(self, q: str, *, limit: int, offset: int) -> dict[str, Any]:
        with self._lock:
            if offset > 0 and not self.moved.is_set():
                # not the chunk's last page, which the reader fetches right after the first
                if offset < CHUNK - limit:
                    self.resource.update_record(
                        "customer", str(self.row_id), {"companyName": "Moved away"}
                    )
                    self.moved.set()
        return self.resource.suiteql_page(q, limit=limit, offset=offset)


def test_a_row_leaving_mid_chunk_makes_the_chunk_reread_by_keyset(sandbox_env) -> None:
    resource = netsuite_for(sandbox_env)
    query = "SELECT id, companyname AS name FROM customer WHERE companyname <> 'Moved away'"
    before = keyset_ids(resource, query)
    leaving = before[10]  # on the chunk's first page: every later offset shifts by one
    original = resource.suiteql_page(f"SELECT companyname AS n FROM customer WHERE id = {leaving}")
    moving = MovesARowMidChunk(resource, leaving)
    reader = ChunkedSuiteQLReader(moving, page_size=PAGE, parallel=4, max_rows_per_query=CHUNK)
    try:
        got = ids_in(list(reader.pages(query, "id", "id", lambda items: items)))
    finally:
        resource.update_record("customer", str(leaving), {"companyName": original["items"][0]["n"]})
    assert moving.moved.is_set()
    # every row still in the result exactly once (plain offset paging would skip the row that
    # shifted across the page boundary), the moved row at most once
    assert sorted(set(got)) == got
    assert set(before) - {leaving} <= set(got) <= set(before)
