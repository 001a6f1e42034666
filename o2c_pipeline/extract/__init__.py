"""Generic extraction: windows, per-system query planning, concurrent fetch into staging files."""

from o2c_pipeline.extract.runner import Extraction, extract
from o2c_pipeline.extract.sources import (
    FetchPlan,
    FetchTask,
    FetchTuning,
    NetSuiteSource,
    Probe,
    SalesforceSource,
    Source,
)
from o2c_pipeline.extract.windows import Window

__all__ = [
    "Extraction",
    "FetchPlan",
    "FetchTask",
    "FetchTuning",
    "NetSuiteSource",
    "Probe",
    "SalesforceSource",
    "Source",
    "Window",
    "extract",
]
