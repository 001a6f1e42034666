"""Read a big SuiteQL result at the account's full request rate: offset pages within id chunks.

NetSuite serves at most 100,000 rows of one query, and a client that pages by id keyset
(``key > last``) can only ever have one request of a stream in flight, each a new query text that
the server must plan and count afresh. So the result is read in *chunks* of up to 100,000 rows
ordered by key: a chunk's first page (offset 0) reports ``totalResults``, which says how many
pages the chunk has; its last page is read next, because its last key starts the next chunk
(``key > last``); the pages in between are fetched concurrently at their offsets, all with the
same query text. Only the chunk boundaries are sequential, and they are walked while the previous
chunk's pages are still in flight. Calls stay at ``ceil(rows / page size)``.

Offsets can shift if rows enter or leave the result mid-read (a record re-stamped out of a closed
window, a deletion). Every page repeats ``totalResults``, and the keys of a chunk must be strictly
increasing across its pages, so a chunk whose total changed or whose pages overlap or fall short is
read again by keyset between its known bounds before anything of it is handed out.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from o2c_pipeline.netsuite.queries import keyset_query

SUITEQL_MAX_ROWS = 100_000  # NetSuite answers no page reaching past this row of one query
GATED_ROWS = 20_000  # results above this size read under the reader's gate (memory)

T = TypeVar("T")


@dataclass(frozen=True)
class _Page(Generic[T]):
    """One fetched page: its converted rows plus what the chunk check needs."""

    offset: int
    rows: T
    count: int
    total: int
    has_more: bool
    first_key: int | None
    last_key: int | None


@dataclass
class _Chunk(Generic[T]):
    lower: int | None  # keys are > lower (None: from the start)
    query: str
    total: int  # totalResults of the chunk's first page: rows from ``lower`` on
    page_count: int
    expected_rows: int
    pages: list[Future[_Page[T]]] = field(default_factory=list)

    @property
    def upper(self) -> int | None:
        """The chunk's last key (known once its last page is in)."""
        return self.pages[-1].result().last_key if self.pages else None


def items_of(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """A SuiteQL page's rows, without their ``links``."""
    return [{k: v for k, v in item.items() if k != "links"} for item in answer.get("items") or []]


def keyset_pages(
    resource: Any,
    query: str,
    key_expr: str,
    key_column: str,
    *,
    page_size: int,
    lower: int | None = None,
    upper: int | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Page ``query`` by its integer key (``lower < key <= upper``): each page restarts after the
    last key with offset 0, so rows entering or leaving the result cannot shift a page."""
    while True:
        answer = resource.suiteql_page(
            keyset_query(query, key_expr, lower, upper), limit=page_size, offset=0
        )
        items = items_of(answer)
        yield items
        if not answer.get("hasMore") or not items:
            return
        lower = int(items[-1][key_column])


def _done(page: _Page[T]) -> Future[_Page[T]]:
    future: Future[_Page[T]] = Future()
    future.set_result(page)
    return future


class ChunkedSuiteQLReader:
    """Reads ``query`` (no ORDER BY) ordered by an integer key with up to ``parallel`` requests of
    one chunk in flight; the resource's governor keeps the account's limits."""

    def __init__(
        self,
        resource: Any,
        *,
        page_size: int,
        parallel: int,
        max_rows_per_query: int = SUITEQL_MAX_ROWS,
        gate: threading.Semaphore | None = None,
    ) -> None:
        self.resource = resource
        #: held while a result of over GATED_ROWS rows is read: a chunk's pages stay in memory
        #: until the whole chunk is checked, so the gate bounds how many such reads (each up to
        #: 100,000 rows) a process holds at once when several entities are read concurrently
        self.gate = gate
        self.page_size = page_size
        self.parallel = max(1, parallel)
        self.pages_per_chunk = max(1, max_rows_per_query // page_size)
        self.chunk_rows = self.pages_per_chunk * page_size

    def pages(
        self,
        query: str,
        key_expr: str,
        key_column: str,
        convert: Callable[[list[dict[str, Any]]], T],
    ) -> Iterator[T]:
        """Every row of ``query``, converted a page at a time, chunk by chunk in key order."""

        def fetch(q: str, offset: int) -> _Page[T]:
            answer = self.resource.suiteql_page(q, limit=self.page_size, offset=offset)
            items = items_of(answer)
            keys = (
                (int(items[0][key_column]), int(items[-1][key_column])) if items else (None, None)
            )
            return _Page(
                offset=offset,
                rows=convert(items),
                count=len(items),
                total=int(answer.get("totalResults", len(items))),
                has_more=bool(answer.get("hasMore")),
                first_key=keys[0],
                last_key=keys[1],
            )

        def keyset(lower: int | None, upper: int | None) -> Iterator[T]:
            """The slow, shift-proof path: one page at a time, restarting after the last key."""
            for items in keyset_pages(
                self.resource,
                query,
                key_expr,
                key_column,
                page_size=self.page_size,
                lower=lower,
                upper=upper,
            ):
                if items:
                    yield convert(items)

        def settled(chunk: _Chunk[T]) -> Iterator[T]:
            pages = [future.result() for future in chunk.pages]
            if self._consistent(chunk, pages):
                yield from (page.rows for page in pages if page.count)
            else:
                yield from keyset(chunk.lower, chunk.upper)

        pool = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="suiteql-page")
        gated = contextlib.ExitStack()
        try:
            walked: deque[_Chunk[T]] = deque()
            lower: int | None = None
            while True:
                q = keyset_query(query, key_expr, lower)
                first = fetch(q, 0)
                if self.gate is not None and lower is None and first.total > GATED_ROWS:
                    gated.enter_context(self.gate)
                expected = min(first.total, self.chunk_rows)
                chunk = _Chunk(
                    lower, q, first.total, max(1, math.ceil(expected / self.page_size)), expected
                )
                chunk.pages.append(_done(first))
                if chunk.page_count > 1:
                    last = fetch(q, (chunk.page_count - 1) * self.page_size)
                    chunk.pages += [
                        pool.submit(fetch, q, n * self.page_size)
                        for n in range(1, chunk.page_count - 1)
                    ]
                    chunk.pages.append(_done(last))
                walked.append(chunk)
                while walked and all(f.done() for f in walked[0].pages):
                    yield from settled(walked.popleft())
                if first.total <= self.chunk_rows or chunk.upper is None:
                    break
                lower = chunk.upper
            while walked:
                yield from settled(walked.popleft())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            gated.close()

    def _consistent(self, chunk: _Chunk[T], pages: list[_Page[T]]) -> bool:
        """Did the chunk's pages see one unchanging result, each page right after the previous?"""
        if any(page.total != chunk.total for page in pages):
            return False
        if sum(page.count for page in pages) != chunk.expected_rows:
            return False
        previous: int | None = chunk.lower
        for page in pages:
            if page.count == 0:
                continue
            if previous is not None and page.first_key is not None and page.first_key <= previous:
                return False
            previous = page.last_key
        return True
