"""The one ``Definitions``: a thin assembler of the lists other modules declare.

Add a module's assets, jobs, sensors, schedules or checks by extending the lists below; nothing
here is entity- or system-specific. Resources read the environment when Dagster loads the code
location (see :mod:`o2c_pipeline.resources.factory`); no network call happens until a run starts.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from o2c_pipeline import assets, checks, jobs, schedules, sensors
from o2c_pipeline.beta import accepted_beta_parameters
from o2c_pipeline.preflight import preflight_multiprocess_executor
from o2c_pipeline.resources import factory
from o2c_pipeline.sync import assets as sync_assets


def build_resources(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """API clients, checkpoint store and the warehouse IO manager, configured from ``environ``
    (validated when a run starts, so the code location loads without settings)."""
    return dict(factory.build_resources(environ, check=False))


def build_definitions(environ: Mapping[str, str] | None = None) -> dg.Definitions:
    """The definitions, resolved once here (cached by Dagster): resolving binds jobs to the
    sensors, and Dagster's own copy of each sensor passes the beta ``owners`` parameter, which
    would warn once per sensor on every load."""
    definitions = dg.Definitions(
        executor=STEP_EXECUTOR,
        assets=[*assets.ASSETS, *sync_assets.ASSETS],
        jobs=[*jobs.JOBS, *sync_assets.JOBS, *schedules.JOBS],
        sensors=[*sensors.SENSORS],
        schedules=[*schedules.SCHEDULES],
        asset_checks=[*checks.CHECKS],
        resources=build_resources(environ),
    )
    with accepted_beta_parameters():
        definitions.get_repository_def()
    return definitions


#: Steps run in their own processes (DuckDB writes are serialized by the warehouse's lock and the
#: pools), forked from a server that has already imported Dagster and this project, so a step
#: starts in a fraction of a second instead of re-importing everything. Before the first step, the
#: pre-flight check (:mod:`o2c_pipeline.preflight`) validates the settings and the configuration
#: file and asks each system the run needs one cheap question. The forkserver and the steps die
#: with the run's process (:mod:`o2c_pipeline.step_processes`, preloaded first): never orphans.
STEP_EXECUTOR = preflight_multiprocess_executor.configured(
    {
        "start_method": {
            "forkserver": {
                "preload_modules": ["o2c_pipeline.step_processes", "o2c_pipeline.definitions"]
            }
        }
    }
)


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
