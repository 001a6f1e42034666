"""Dagster resources the pipeline talks to the outside world through (see
docs/resources_contract.md): Salesforce, NetSuite and the checkpoint store."""

from o2c_pipeline.resources.checkpoints import (
    CheckpointStore,
    Watermark,
    checkpoint_metadata,
)
from o2c_pipeline.resources.netsuite import NetSuiteApiError, NetSuiteResource
from o2c_pipeline.resources.salesforce import (
    SalesforceApiError,
    SalesforceAuthError,
    SalesforceResource,
)
from o2c_pipeline.resources.secrets import scrub

__all__ = [
    "CheckpointStore",
    "NetSuiteApiError",
    "NetSuiteResource",
    "SalesforceApiError",
    "SalesforceAuthError",
    "SalesforceResource",
    "Watermark",
    "checkpoint_metadata",
    "scrub",
]
