"""Jobs. ``o2c_sync`` materializes every asset tagged into it, for a partition or a range.

Joining the job is declarative: an asset carries :data:`O2C_SYNC_TAG` (the extraction factory
adds it; sync assets add it the same way), so this module never lists assets.
"""

from __future__ import annotations

import dagster as dg

O2C_SYNC_TAG = {"o2c/job": "o2c_sync"}
#: Carried by the extraction assets only.
EXTRACT_TAG = {"o2c/layer": "extract"}

o2c_sync = dg.define_asset_job(
    name="o2c_sync",
    selection=dg.AssetSelection.tag(*next(iter(O2C_SYNC_TAG.items()))),
    description="Extract every O2C entity from Salesforce and NetSuite into DuckDB (and sync).",
)

o2c_extract = dg.define_asset_job(
    name="o2c_extract",
    selection=dg.AssetSelection.tag(*next(iter(EXTRACT_TAG.items()))),
    description="Only the extraction: every O2C entity from both systems into DuckDB.",
)

JOBS = [o2c_sync, o2c_extract]
