"""The two source systems, declared once: the resource type behind each, the extraction source
that speaks its query language, and the concurrency pool its calls count against.

Generic code (the extraction assets, the change sensors, the asset checks, ``o2c run``) reaches a
system only through this table, so it has no per-system branches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg

from o2c_pipeline import keys
from o2c_pipeline.extract.plan import Source
from o2c_pipeline.netsuite.resource import NetSuiteResource
from o2c_pipeline.netsuite.source import NetSuiteSource
from o2c_pipeline.pools import NETSUITE_API, SALESFORCE_API, Pool
from o2c_pipeline.salesforce.resource import SalesforceResource
from o2c_pipeline.salesforce.source import SalesforceSource


@dataclass(frozen=True)
class SourceSystem:
    name: str  # also its asset group and entity table schema
    resource_key: str
    resource_type: type[dg.ConfigurableResource]
    source: Callable[[Any], Source]
    pool: Pool
    #: One extraction step fetches all of the system's selected entities concurrently (its pool
    #: slot carries the whole account budget, which one entity at a time cannot keep full).
    shared_step: bool = False


SYSTEMS: dict[str, SourceSystem] = {
    "salesforce": SourceSystem(
        "salesforce", keys.SALESFORCE, SalesforceResource, SalesforceSource, SALESFORCE_API, True
    ),
    "netsuite": SourceSystem(
        "netsuite", keys.NETSUITE, NetSuiteResource, NetSuiteSource, NETSUITE_API, True
    ),
}


def resource_of(resources: Any, system: str) -> Any:
    """The system's resource from a context's resources (factories that serve either system
    name it in ``required_resource_keys``; Dagster allows no typed parameter to vary by system)."""
    return getattr(resources, SYSTEMS[system].resource_key)


def source_of(resources: Any, system: str) -> Source:
    """The system's extraction source over its resource."""
    return SYSTEMS[system].source(resource_of(resources, system))
