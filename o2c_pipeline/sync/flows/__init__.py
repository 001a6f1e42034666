"""The sync flows: one module per flow, each a :class:`~o2c_pipeline.sync.flow.Flow` subclass.

Every module in this package is imported here, so adding a flow is adding a file: its class
registers itself, and the assets, the replay job and the CLI read :data:`FLOWS`.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Iterable, Sequence
from graphlib import TopologicalSorter

from o2c_pipeline import config
from o2c_pipeline.sync import custom_fields
from o2c_pipeline.sync.context import FlowStats, SyncContext
from o2c_pipeline.sync.flow import REGISTRY, Flow

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


def _in_dependency_order(flows: dict[str, type[Flow]]) -> tuple[type[Flow], ...]:
    graph = {name: set(cls.after) for name, cls in flows.items()}
    unknown = {dep for deps in graph.values() for dep in deps} - set(flows)
    if unknown:
        raise ValueError(f"flows run after unknown flows: {', '.join(sorted(unknown))}")
    return tuple(flows[name] for name in TopologicalSorter(graph).static_order())


#: Every flow, each after the flows it runs after.
FLOWS: tuple[type[Flow], ...] = _in_dependency_order(REGISTRY)
FLOWS_BY_NAME: dict[str, type[Flow]] = {f.name: f for f in FLOWS}
custom_fields.validate(custom_fields.load_config(), FLOWS_BY_NAME)  # a bad mapping fails at load


def validate_modes(loaded: config.LoadedConfig) -> None:
    """Every key of the ``flows`` section names a flow (or is ``default``)."""
    names = [*FLOWS_BY_NAME, "default"]
    problems = []
    for key in loaded.config.flows:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else f"; flows: {', '.join(names)}"
            problems.append(f"flows.{key}: unknown flow{hint}")
    if problems:
        raise loaded.error(problems)


def mode(flow: str) -> config.FlowMode:
    """The configuration's mode of ``flow``: off, plan or on."""
    loaded = config.load()
    validate_modes(loaded)
    return loaded.config.flow_mode(flow)


validate_modes(config.load())


def base_flow(name: str) -> type[Flow]:
    """The flow that re-drives a DLQ entry of ``name`` (follow-ups belong to their flow)."""
    return FLOWS_BY_NAME[name.split(".", 1)[0]]


def sync(ctx: SyncContext, flow: str, only: Iterable[str] | None = None) -> FlowStats:
    """Run one flow by name (see :meth:`Flow.sync`)."""
    return FLOWS_BY_NAME[flow].sync(ctx, only)


def replay(
    ctx: SyncContext, flow: str | None = None, source_ids: Sequence[str] | None = None
) -> dict[str, FlowStats]:
    """Re-drive DLQ entries now: all of them, one flow's, or selected records of one flow. The
    entries are made due first, so a failure the run would otherwise hold back until its retry
    time is tried again."""
    entries = ctx.store.dlq(flow=None, source_ids=source_ids)
    selected: dict[str, list[str]] = {}
    for e in entries:
        owner = base_flow(e.flow)
        if flow is None or owner is base_flow(flow):
            selected.setdefault(owner.name, []).append(e.source_id)
    for name, ids in selected.items():
        ctx.store.make_due(name, ids, ctx.clock(), with_follow_ups=True)
    return {cls.name: cls.sync(ctx, selected[cls.name]) for cls in FLOWS if cls.name in selected}
