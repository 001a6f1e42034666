"""Generic extraction: windows, fetch plans, the concurrent runner and Parquet staging. The
per-system planning lives with each system (:mod:`o2c_pipeline.salesforce.source`,
:mod:`o2c_pipeline.netsuite.source`)."""
