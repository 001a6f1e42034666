"""Everything the pipeline knows about Salesforce: the API resource, its login and errors, SOQL."""
