"""The Salesforce half of the sandbox: OAuth, REST (query, sObjects, composite) and Bulk API 2.0."""
