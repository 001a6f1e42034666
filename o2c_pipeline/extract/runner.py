"""Fetch a planned load concurrently into staging files.

An incremental load may first probe (one call): if the warehouse already holds every version the
source has in the window, the load ends there, fetching and writing nothing.

Tasks run on a thread pool (the resources' limiters hold each API to its account limits); each
task streams its pages into its own Parquet file, so memory stays at one page per thread.
"""

from __future__ import annotations

import contextvars
import dataclasses
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from o2c_pipeline.entities import Entity
from o2c_pipeline.extract.plan import FetchPlan, FetchTask, FetchTuning, Probe, Source
from o2c_pipeline.extract.staging import Stager
from o2c_pipeline.extract.windows import Window

PROBE_PATH = "probe"


@dataclass(frozen=True)
class Extraction:
    """What one asset fetched: staged files plus the figures the UI shows."""

    entity: Entity
    window: Window
    files: list[Path]
    path: str
    rows: int
    deletes: int
    pages: int
    api_calls: int
    seconds: float
    incremental: bool

    @property
    def probed_unchanged(self) -> bool:
        """The probe found nothing new: nothing was fetched and there is nothing to commit."""
        return self.path == PROBE_PATH

    @property
    def mode(self) -> str:
        if self.probed_unchanged:
            return "probe"
        return "incremental" if self.incremental else "full"


def _drain(task: FetchTask, stager: Stager) -> None:
    with stager.open() as out:
        for page in task.pages():
            out.write(page)


def extract(
    source: Source,
    entity: Entity,
    window: Window,
    staging_dir: Path,
    *,
    tuning: FetchTuning | None = None,
    max_workers: int = 4,
    all_held: Callable[[pa.Table], bool] | None = None,
    widen: Callable[[Entity], Entity] | None = None,
    probed: tuple[Probe | None, int] | None = None,
) -> Extraction:
    """Plan and fetch ``entity`` over ``window`` into Parquet files under ``staging_dir``.

    With ``all_held`` (whether the warehouse holds every identity of a probe's answer), the source
    is probed first and nothing is fetched if it holds nothing new; the probe's call is counted
    either way; ``probed`` is its answer when already asked (with several entities in one call),
    with the calls to count here. ``widen`` gives the entity with every column to read (the source's fields): it is
    asked only when there is something to fetch, so a quiet window costs the probe alone.
    """
    started = time.monotonic()
    calls_before = source.api_calls
    tuning = tuning or FetchTuning()
    if all_held is not None:
        if probed is None:
            probe = source.probe(entity, window)
        else:
            probe, shared_calls = probed
            calls_before -= shared_calls
        if probe is not None and probe.rows is not None:
            tuning = dataclasses.replace(tuning, known_rows=probe.rows)
        if probe is not None and all_held(probe.identities):
            return Extraction(
                entity=entity,
                window=window,
                files=[],
                path=PROBE_PATH,
                rows=0,
                deletes=0,
                pages=0,
                api_calls=source.api_calls - calls_before,
                seconds=time.monotonic() - started,
                incremental=True,
            )
    if widen is not None:
        entity = widen(entity)
    plan: FetchPlan = source.plan(entity, window, tuning)
    stager = Stager(staging_dir, entity.column_names)
    if plan.tasks:
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(plan.tasks)))) as pool:
            # each task in a copy of this context: the source's call tally goes with it
            futures = [
                pool.submit(contextvars.copy_context().run, _drain, task, stager)
                for task in plan.tasks
            ]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in pending:
                future.cancel()
            for future in done:
                future.result()  # re-raise the first failure
    return Extraction(
        entity=entity,
        window=window,
        files=stager.written_files,
        path=plan.path,
        rows=stager.stats.rows,
        deletes=stager.stats.deletes,
        pages=stager.stats.pages,
        api_calls=source.api_calls - calls_before,
        seconds=time.monotonic() - started,
        incremental=tuning.incremental,
    )
