"""Third-party NetSuite clients, used unmodified against the sandbox: only the host and the CA
bundle they trust differ from a real account."""
