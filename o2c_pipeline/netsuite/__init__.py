"""Everything the pipeline knows about NetSuite: the API resource and its governor, SuiteQL, the
transaction status letters. Imports nothing here, so pure-data modules (``statuses``) stay cheap."""
