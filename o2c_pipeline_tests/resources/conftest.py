"""Resource fixtures built from the sandbox's settings, the way the pipeline builds them."""

from __future__ import annotations

import pytest
import requests

from o2c_pipeline.netsuite.resource import NetSuiteResource
from o2c_pipeline.salesforce.resource import SalesforceResource

FAST_RETRIES = {"max_retries": 8, "backoff_initial_s": 0.05, "backoff_max_s": 0.5}


def sandbox_admin(sandbox, method: str, path: str, **kwargs) -> dict:
    """The sandbox's admin API over HTTPS (knobs, counters), as an operator would call it."""
    response = requests.request(
        method,
        f"{sandbox.ns_url}/__sandbox__/{path}",
        verify=str(sandbox.ca_path),
        timeout=10,
        **kwargs,
    )
    response.raise_for_status()
    return response.json()


def netsuite_for(env: dict[str, str], **overrides) -> NetSuiteResource:
    fields = {
        "account_id": env["NETSUITE_ACCOUNT_ID"],
        "base_url": env["NETSUITE_BASE_URL"],
        "consumer_key": env["NETSUITE_CONSUMER_KEY"],
        "consumer_secret": env["NETSUITE_CONSUMER_SECRET"],
        "token_id": env["NETSUITE_TOKEN_ID"],
        "token_secret": env["NETSUITE_TOKEN_SECRET"],
        "ca_bundle": env["O2C_CA_BUNDLE"],
        **FAST_RETRIES,
    }
    fields.update(overrides)
    return NetSuiteResource(**fields)


@pytest.fixture
def netsuite(sandbox_env) -> NetSuiteResource:
    return netsuite_for(sandbox_env)


def salesforce_for(env: dict[str, str], flow: str, **overrides) -> SalesforceResource:
    fields = {
        "login_url": env["SALESFORCE_LOGIN_URL"],
        "auth_flow": flow,
        "client_id": env["SALESFORCE_CLIENT_ID"],
        "client_secret": env["SALESFORCE_CLIENT_SECRET"],
        "username": env["SALESFORCE_USERNAME"],
        "password": env["SALESFORCE_PASSWORD"],
        "private_key_file": env["SALESFORCE_PRIVATE_KEY_FILE"],
        "api_version": env["SALESFORCE_API_VERSION"],
        "ca_bundle": env["O2C_CA_BUNDLE"],
        "bulk_poll_interval_s": 0.1,
        **FAST_RETRIES,
    }
    fields.update(overrides)
    return SalesforceResource(**fields)


@pytest.fixture
def salesforce(sandbox_env) -> SalesforceResource:
    return salesforce_for(sandbox_env, "jwt")
