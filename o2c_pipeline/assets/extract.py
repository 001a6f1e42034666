"""The extraction asset factory: one daily-partitioned asset per declared entity.

Nothing here is entity-specific: :func:`build_extract_asset` reads an
:class:`~o2c_pipeline.entities.Entity` and the generic extractor does the rest. The asset fetches
into staging files and returns a :class:`~o2c_pipeline.warehouse.StagedLoad`; the warehouse IO
manager commits it in one transaction and only then advances the watermark.

Modes, per run:
- closed partitions (or a range, one run under the single-run backfill policy): the whole window
  is fetched, split into concurrent sub-windows;
- the open partition (today, UTC) with a watermark: ``stamp >= watermark - look-back`` only, the
  re-read overlap de-duplicated on (key, stamp) by the warehouse. One probe call first checks
  whether the source holds anything the warehouse does not; if not, the run ends there (mode
  ``probe``: nothing fetched or written, the watermark unchanged).

Whatever is fetched carries every field the source has, as the configuration's rules allow
(:mod:`o2c_pipeline.extract.columns`); the warehouse adds columns the source grew and keeps the
ones it dropped, and the materialization tells both (``columns_added``, ``columns_vanished``).
"""

# No `from __future__ import annotations`: Dagster reads the config annotation at definition time.
import contextvars
import datetime as dt
import shutil
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import dagster as dg
from pydantic import Field

from o2c_pipeline import keys
from o2c_pipeline.assets.warehouse_io import StagedLoad, column_schema
from o2c_pipeline.beta import accepted_beta_parameters
from o2c_pipeline.config import load as load_config
from o2c_pipeline.entities import ENTITIES, Entity
from o2c_pipeline.extract.columns import ColumnVerdicts, discover
from o2c_pipeline.extract.plan import FetchTuning, Source
from o2c_pipeline.extract.runner import extract
from o2c_pipeline.extract.windows import Window, reads_from
from o2c_pipeline.jobs import EXTRACT_TAG, O2C_SYNC_TAG
from o2c_pipeline.partitions import DAILY, is_open
from o2c_pipeline.resources.checkpoints import CheckpointStore
from o2c_pipeline.systems import SYSTEMS, source_of
from o2c_pipeline.warehouse import CommitResult, Warehouse


class ExtractConfig(dg.Config):
    """Run-time tuning of one extraction; the defaults are what production runs use."""

    lookback_minutes: float = Field(
        default=10.0, description="Incremental loads re-read this far behind the watermark."
    )
    full_refresh: bool = Field(
        default=False, description="Fetch the open partition whole instead of from the watermark."
    )
    probe: bool = Field(
        default=True,
        description="Incremental loads first check in one call whether anything changed.",
    )
    bulk_threshold_rows: int | None = Field(
        default=None,
        description="Salesforce: Bulk API 2.0 at or above this many rows (default: resource's).",
    )
    rows_per_window: int = Field(
        default=20_000, description="Rows per concurrently fetched window."
    )
    max_windows: int = Field(default=8, description="Most concurrent windows per entity.")
    max_workers: int = Field(
        default=8, description="Fetching threads per entity (the resources' limiters cap requests)."
    )


def plan_window(
    partition_window: Window,
    watermark: dt.datetime | None,
    config: ExtractConfig,
    now: dt.datetime,
) -> tuple[Window, bool]:
    """The fetch window for a partition (range) and whether it is an incremental delta.

    Incremental only for the open partition with a watermark no older than its start (minus the
    look-back); the window starts at ``watermark - look-back`` (a ``>=`` bound, so ties at the
    watermark and late-committed records are re-read) and ends at the partition's end.
    """
    lookback = dt.timedelta(minutes=config.lookback_minutes)
    open_partition = is_open(partition_window.start, partition_window.end, now)
    single_day = partition_window.end - partition_window.start <= dt.timedelta(days=1)
    if (
        open_partition
        and single_day
        and not config.full_refresh
        and watermark is not None
        and watermark >= partition_window.start - lookback
    ):
        return Window(watermark - lookback, partition_window.end), True
    return partition_window, False


@dataclass(frozen=True)
class Delta:
    """What an extraction reads, decided before it fetches: the partition's window, the
    watermark, the fetch window and whether it is an incremental delta."""

    now: dt.datetime
    partition_window: Window
    mark: Any
    window: Window
    incremental: bool


def delta_of(
    context: dg.AssetExecutionContext,
    config: ExtractConfig,
    entity: Entity,
    checkpoints: CheckpointStore,
) -> Delta:
    now = dt.datetime.now(dt.UTC)
    time_window = context.partition_time_window
    start = reads_from(entity.full_history, time_window.start, DAILY.start)
    partition_window = Window(start, time_window.end)
    mark = checkpoints.get_watermark(entity.watermark_key)
    window, incremental = plan_window(
        partition_window, mark.modstamp if mark else None, config, now
    )
    return Delta(now, partition_window, mark, window, incremental)


def shared_probes(
    context: dg.AssetExecutionContext,
    config: ExtractConfig,
    new_source: Callable[[], Source],
    deltas: Mapping[str, tuple[Entity, Delta]],
) -> dict[str, tuple[Any, int]]:
    """The probes of every incremental entity in as few calls as the source's API allows
    (Salesforce: Composite, five queries a call; NetSuite: one SuiteQL ``UNION ALL``), by table,
    each with the calls to count on it (all on the first). Entities left out probe on their own."""
    items = [(e, d.window) for e, d in deltas.values() if d.incremental]
    if not config.probe or len(items) < 2:
        return {}

    def ask() -> tuple[dict[str, Any], int]:
        source = new_source()  # in this copied context: its call tally stays here
        if not hasattr(source, "probe_many"):
            return {}, 0
        answers = source.probe_many(items)
        return answers, source.api_calls

    try:
        answers, calls = contextvars.copy_context().run(ask)
    except Exception as exc:  # noqa: BLE001 - each entity then probes (and fails) on its own
        context.log.warning(f"probing {len(items)} entities at once failed: {exc}")
        return {}
    shared: dict[str, tuple[Any, int]] = {}
    for table, probe in answers.items():
        shared[table] = (probe, calls)
        calls = 0
    return shared


def run_extraction(
    context: dg.AssetExecutionContext,
    config: ExtractConfig,
    entity: Entity,
    source: Source,
    checkpoints: CheckpointStore,
    warehouse: Warehouse,
    delta: Delta | None = None,
    probed: tuple[Any, int] | None = None,
) -> StagedLoad:
    """Fetch one entity's partition (range) into staging files; commit happens in the IO manager.
    ``delta`` and ``probed``: decided and asked already, for several entities at once."""
    delta = delta or delta_of(context, config, entity, checkpoints)
    now, partition_window, mark = delta.now, delta.partition_window, delta.mark
    window, incremental = delta.window, delta.incremental
    staging_dir = warehouse.staging_dir(f"{context.run.run_id}/{entity.table}")
    tuning = FetchTuning(
        rows_per_window=config.rows_per_window,
        max_windows=config.max_windows,
        bulk_threshold_rows=config.bulk_threshold_rows,
        incremental=incremental,
    )
    context.log.info(
        f"{entity.table}: fetching {window} ({'incremental' if incremental else 'full'})"
    )
    probe = incremental and config.probe
    rules = load_config().config.entity(entity.table)
    found: dict[str, Any] = {}

    def widen(declared: Entity) -> Entity:
        discovered = discover(
            source, declared, rules, ColumnVerdicts(checkpoints), context.run.run_id
        )
        if discovered.missing_core:
            context.log.warning(
                f"{entity.table}: the source has no {', '.join(discovered.missing_core)}; "
                "left out of the query and NULL in the warehouse"
            )
        if discovered.unknown_named:
            context.log.warning(
                f"{entity.table}: include names {', '.join(discovered.unknown_named)}, which "
                "the source does not have"
            )
        found["core_columns_missing"] = ", ".join(discovered.missing_core) or "none"
        return discovered.entity

    try:
        extraction = extract(
            source,
            entity,
            window,
            staging_dir,
            tuning=tuning,
            max_workers=config.max_workers,
            all_held=(lambda ids: warehouse.holds_all(entity, ids, window)) if probe else None,
            widen=widen,
            probed=probed if probe else None,
        )
    except BaseException:
        shutil.rmtree(staging_dir, ignore_errors=True)  # nothing was committed; leave no debris
        raise
    context.log.info(
        f"{entity.table}: {extraction.rows} rows ({extraction.deletes} deletes) in {extraction.pages} pages, "
        f"{extraction.api_calls} API calls via {extraction.path}, {extraction.seconds:.1f}s"
    )
    if extraction.probed_unchanged:
        context.log.info(f"{entity.table}: nothing changed since {mark.modstamp.isoformat()}")
        return StagedLoad(
            extraction, staging_dir, metadata={"watermark": mark.modstamp.isoformat()}
        )
    touches_open = is_open(partition_window.start, partition_window.end, now)

    def advance_watermark(result: CommitResult) -> Mapping[str, Any]:
        """Runs after the commit, so the watermark never gets ahead of the data.

        Everything stamped from the window's start on has been read, so the watermark is the
        newest stamp seen, or (when nothing newer came) where the read of the open day began: a
        quiet open partition still loads incrementally next time.
        """
        if touches_open:
            seen = result.max_stamp.replace(tzinfo=dt.UTC) if result.max_stamp else None
            open_start = dt.datetime.combine(now.date(), dt.time(), tzinfo=dt.UTC)
            read_from = max(window.start, open_start)  # all of the open day from here on was read
            checkpoints.set_watermark(entity.watermark_key, max(s for s in (seen, read_from) if s))
        current = checkpoints.get_watermark(entity.watermark_key)
        return {"watermark": current.modstamp.isoformat() if current else "none"}

    return StagedLoad(extraction, staging_dir, advance_watermark, metadata=found)


def asset_metadata(entity: Entity) -> dict[str, Any]:
    """The definition metadata of an entity's asset (schema, table, source, key, cursor)."""
    return {
        "dagster/column_schema": column_schema(entity),
        "dagster/table_name": entity.table,
        "source": entity.source,
        "key": entity.key,
        "cursor": entity.cursor,
        "current_table": entity.current_table,
        "partition_expr": entity.cursor,
    }


def build_extract_asset(entity: Entity) -> dg.AssetsDefinition:
    """One partitioned extraction asset from a declaration. The system's resource varies with the
    entity, so the resources are named in ``required_resource_keys`` rather than typed
    parameters (Dagster allows one way or the other per asset)."""
    system = SYSTEMS[entity.system]
    with accepted_beta_parameters():
        return _extract_asset(entity, system)


def _extract_asset(entity: Entity, system: Any) -> dg.AssetsDefinition:
    @dg.asset(
        **asset_attributes(entity),
        backfill_policy=dg.BackfillPolicy.single_run(),
        io_manager_key=keys.WAREHOUSE_IO_MANAGER,
        required_resource_keys={system.resource_key, keys.CHECKPOINTS, keys.WAREHOUSE},
        pool=system.pool.name,
    )
    def _extract(context: dg.AssetExecutionContext, config: ExtractConfig) -> StagedLoad:
        resources = context.resources
        return run_extraction(
            context,
            config,
            entity,
            source_of(resources, entity.system),
            getattr(resources, keys.CHECKPOINTS),
            getattr(resources, keys.WAREHOUSE).warehouse(),
        )

    return _extract


#: How long an extract asset may go without a materialization: the UI shows it as degraded
#: (warn) after a missed daily run, as stale (fail) after a day and a half.
FRESHNESS_POLICY = dg.FreshnessPolicy.time_window(
    fail_window=dt.timedelta(hours=36), warn_window=dt.timedelta(hours=25)
)


def asset_attributes(entity: Entity) -> dict[str, Any]:
    """What an extract asset is, whether its own step or a spec of a shared one."""
    return {
        "key": keys.table_key(entity.table),
        "owners": keys.OWNERS,
        "code_version": keys.code_version(entity),
        "description": entity.description,
        "group_name": entity.system,
        "kinds": {entity.system, "duckdb"},
        "partitions_def": DAILY,
        "freshness_policy": FRESHNESS_POLICY,
        "tags": {**O2C_SYNC_TAG, **EXTRACT_TAG, **entity.tags},
        "metadata": asset_metadata(entity),
    }


def asset_spec(entity: Entity) -> dg.AssetSpec:
    """The same asset as :func:`build_extract_asset` makes, as a spec of a shared step."""
    return dg.AssetSpec(**asset_attributes(entity)).with_io_manager_key(keys.WAREHOUSE_IO_MANAGER)


def build_shared_extract_asset(system_name: str, entities: list[Entity]) -> dg.AssetsDefinition:
    """One step for all of a system's selected entities, fetched concurrently.

    For an API whose budget is one account-wide pool slot (NetSuite: a concurrency limit and a
    request rate per account), one entity at a time leaves the budget idle whenever that entity
    cannot fill it (a few pages, a chunk boundary, its commit). Here every selected entity
    fetches at once on its own threads, all through the one account governor, which keeps the
    limits and so keeps the budget full; each entity is committed as soon as it is fetched, while
    the others still fetch. Each stays its own asset with its own materialization (the step is
    subsettable); a failing entity does not stop the others from committing, and fails the step
    once they have.
    """
    system = SYSTEMS[system_name]
    by_key = {keys.table_key(e.table): e for e in entities}

    @dg.multi_asset(
        name=f"{system_name}_extract",
        specs=[asset_spec(e) for e in entities],
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        required_resource_keys={system.resource_key, keys.CHECKPOINTS, keys.WAREHOUSE},
        pool=system.pool.name,
        can_subset=True,
    )
    def _extract(context: dg.AssetExecutionContext, config: ExtractConfig) -> Iterator[dg.Output]:
        resources = context.resources
        checkpoints = getattr(resources, keys.CHECKPOINTS)
        warehouse = getattr(resources, keys.WAREHOUSE).warehouse()
        selected = [e for key, e in by_key.items() if key in context.selected_asset_keys]
        deltas = {e.table: (e, delta_of(context, config, e, checkpoints)) for e in selected}
        probes = shared_probes(context, config, lambda: source_of(resources, system_name), deltas)

        def one(entity: Entity) -> StagedLoad:
            source = source_of(resources, system_name)  # its own call tally, shared governor
            return run_extraction(
                context,
                config,
                entity,
                source,
                checkpoints,
                warehouse,
                deltas[entity.table][1],
                probes.get(entity.table),
            )

        failures: list[BaseException] = []
        with ThreadPoolExecutor(
            max_workers=max(1, len(selected)), thread_name_prefix=f"{system_name}-extract"
        ) as pool:
            futures = {pool.submit(one, e): e for e in selected}
            for future in as_completed(futures):  # commit (IO manager) while the rest fetch
                entity = futures[future]
                try:
                    staged = future.result()
                except Exception as exc:  # noqa: BLE001 - the others still commit
                    context.log.error(f"{entity.table}: extraction failed: {exc}")
                    failures.append(exc)
                    continue
                yield dg.Output(
                    staged, output_name=keys.table_key(entity.table).to_python_identifier()
                )
        if failures:
            raise failures[0]

    return _extract


def build_extract_assets() -> list[dg.AssetsDefinition]:
    """Per system: one step per entity, or one shared step for systems that extract together."""
    assets: list[dg.AssetsDefinition] = []
    for name, system in SYSTEMS.items():
        entities = [e for e in ENTITIES if e.system == name]
        if system.shared_step and entities:
            with accepted_beta_parameters():
                assets.append(build_shared_extract_asset(name, entities))
        else:
            assets += [build_extract_asset(e) for e in entities]
    return assets


EXTRACT_ASSETS: list[dg.AssetsDefinition] = build_extract_assets()
