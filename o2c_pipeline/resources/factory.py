"""The resources of ``Definitions``, built from the declared settings (:mod:`o2c_pipeline.settings`).

Secrets reach the resources as ``dg.EnvVar`` so Dagster resolves them at run time and never shows
their values; everything else is read (and, with ``check``, validated) when the definitions load,
so a missing or malformed setting fails at once with a message naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlparse

import dagster as dg

from o2c_pipeline import keys, settings
from o2c_pipeline.assets.warehouse_io import WarehouseIOManager, WarehouseResource
from o2c_pipeline.netsuite.resource import NetSuiteResource
from o2c_pipeline.pools import NETSUITE_API
from o2c_pipeline.resources.checkpoints import CheckpointStore
from o2c_pipeline.salesforce.resource import SalesforceResource


def secret_or_value(name: str, environ: Mapping[str, str] | None) -> str | dg.EnvVar | None:
    """Secrets as ``EnvVar`` (resolved at run time, never displayed); others as their value."""
    if settings.value(name, environ) is None:
        return None
    return (
        dg.EnvVar(name) if settings.SETTINGS_BY_NAME[name].secret else settings.value(name, environ)
    )


def _present(fields: Mapping[str, object]) -> dict[str, object]:
    return {k: v for k, v in fields.items() if v is not None}


def build_resources(
    environ: Mapping[str, str] | None = None, *, check: bool = True
) -> dict[str, dg.ConfigurableResource | dg.ConfigurableIOManager]:
    """API clients, checkpoint store and the warehouse IO manager, under :mod:`o2c_pipeline.keys`.

    ``check`` validates first (no network involved).
    """
    if check:
        settings.validate(environ)

    def get(name: str) -> str | dg.EnvVar | None:
        return secret_or_value(name, environ)

    def number(name: str) -> float | None:
        try:  # a malformed value (when not checked here) leaves the default; validation names it
            return float(settings.value(name, environ) or "")
        except ValueError:
            return None

    ca_bundle = settings.value("O2C_CA_BUNDLE", environ)
    salesforce = SalesforceResource(
        **_present(
            {
                "login_url": get("SALESFORCE_LOGIN_URL"),
                "auth_flow": get("SALESFORCE_AUTH_FLOW"),
                "client_id": get("SALESFORCE_CLIENT_ID") or "",
                "client_secret": get("SALESFORCE_CLIENT_SECRET"),
                "username": get("SALESFORCE_USERNAME"),
                "password": get("SALESFORCE_PASSWORD"),
                "private_key_file": get("SALESFORCE_PRIVATE_KEY_FILE"),
                "api_version": get("SALESFORCE_API_VERSION"),
                "connect_timeout_s": number("SALESFORCE_CONNECT_TIMEOUT_S"),
                "read_timeout_s": number("SALESFORCE_READ_TIMEOUT_S"),
                "ca_bundle": ca_bundle,
            }
        )
    )
    netsuite = NetSuiteResource(
        **_present(
            {
                "account_id": get("NETSUITE_ACCOUNT_ID") or "",
                "base_url": get("NETSUITE_BASE_URL"),
                "auth_flow": get("NETSUITE_AUTH_FLOW"),
                "consumer_key": get("NETSUITE_CONSUMER_KEY"),
                "consumer_secret": get("NETSUITE_CONSUMER_SECRET"),
                "token_id": get("NETSUITE_TOKEN_ID"),
                "token_secret": get("NETSUITE_TOKEN_SECRET"),
                "client_id": get("NETSUITE_CLIENT_ID"),
                "certificate_id": get("NETSUITE_CERTIFICATE_ID"),
                "private_key_file": get("NETSUITE_PRIVATE_KEY_FILE"),
                # one op's share of the account budget: pools.NETSUITE_API runs that many ops at once
                "concurrency_limit": NETSUITE_API.requests_per_slot(
                    int(settings.value("NETSUITE_CONCURRENCY_LIMIT", environ) or 5)
                ),
                "rate_limit_per_s": NETSUITE_API.rate_per_slot(
                    float(settings.value("NETSUITE_RATE_LIMIT", environ) or 10)
                ),
                "rate_window_s": number("NETSUITE_RATE_WINDOW_S"),
                "connect_timeout_s": number("NETSUITE_CONNECT_TIMEOUT_S"),
                "read_timeout_s": number("NETSUITE_READ_TIMEOUT_S"),
                "ca_bundle": ca_bundle,
            }
        )
    )
    # a warehouse URL with a password reaches the resources as EnvVar: resolved at run time,
    # never shown in the UI's resource config
    warehouse: str | dg.EnvVar = settings.warehouse_location(environ)
    checkpoint_url = settings.default_checkpoint_url(environ)  # the store masks its password
    if urlparse(str(warehouse)).password is not None:
        warehouse = dg.EnvVar("O2C_WAREHOUSE")
    return {
        keys.SALESFORCE: salesforce,
        keys.NETSUITE: netsuite,
        keys.CHECKPOINTS: CheckpointStore(url=checkpoint_url),
        keys.WAREHOUSE: WarehouseResource(path=warehouse),
        keys.WAREHOUSE_IO_MANAGER: WarehouseIOManager(path=warehouse),
    }
