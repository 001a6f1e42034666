"""Fetch a planned load concurrently into staging files.

Tasks run on a thread pool (the resources' limiters hold each API to its account limits); each
task streams its pages into its own Parquet file, so memory stays at one page per thread.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from o2c_pipeline.entities import Entity
from o2c_pipeline.extract.sources import FetchPlan, FetchTask, FetchTuning, Source
from o2c_pipeline.extract.staging import Stager
from o2c_pipeline.extract.windows import Window


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
) -> Extraction:
    """Plan and fetch ``entity`` over ``window`` into Parquet files under ``staging_dir``."""
    started = time.monotonic()
    calls_before = source.api_calls
    tuning = tuning or FetchTuning()
    plan: FetchPlan = source.plan(entity, window, tuning)
    stager = Stager(staging_dir, entity.column_names)
    if plan.tasks:
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(plan.tasks)))) as pool:
            futures = [pool.submit(_drain, task, stager) for task in plan.tasks]
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
