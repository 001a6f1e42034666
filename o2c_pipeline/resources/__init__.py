"""What the per-system resources share (HTTP sessions, retries, secret scrubbing, the error
shape), the checkpoint store, and the factory that builds every resource from the settings. The
API resources themselves live with their systems: :mod:`o2c_pipeline.salesforce.resource`,
:mod:`o2c_pipeline.netsuite.resource` (contract: docs/resources_contract.md)."""
