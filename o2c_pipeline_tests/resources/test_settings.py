"""settings and the resource factory: validation names the bad setting; build_resources gives working resources with
secrets as EnvVar."""

from __future__ import annotations

import dagster as dg
import pytest

from o2c_pipeline import settings
from o2c_pipeline.netsuite.resource import NetSuiteResource
from o2c_pipeline.resources.checkpoints import CheckpointStore
from o2c_pipeline.resources.factory import build_resources, secret_or_value
from o2c_pipeline.salesforce.resource import SalesforceResource


def test_missing_and_bad_settings_are_named(sandbox_env, tmp_path):
    env = {k: v for k, v in sandbox_env.items() if k != "NETSUITE_ACCOUNT_ID"}
    env["O2C_CA_BUNDLE"] = str(tmp_path / "nope.pem")
    env["SALESFORCE_LOGIN_URL"] = "http://insecure.example"
    with pytest.raises(settings.SettingsError) as err:
        build_resources(env)
    text = str(err.value)
    assert "NETSUITE_ACCOUNT_ID is not set" in text
    assert f"O2C_CA_BUNDLE points to a missing file: {tmp_path / 'nope.pem'}" in text
    assert "SALESFORCE_LOGIN_URL must be an https:// URL" in text


def test_auth_flow_requirements(sandbox_env):
    env = {**sandbox_env, "SALESFORCE_AUTH_FLOW": "password"}
    del env["SALESFORCE_PASSWORD"]
    with pytest.raises(settings.SettingsError, match="SALESFORCE_PASSWORD is not set"):
        settings.validate(env)


def test_checkpoint_default_sits_beside_the_warehouse(tmp_path):
    env = {"O2C_WAREHOUSE": str(tmp_path / "wh" / "o2c.duckdb")}
    assert (
        settings.default_checkpoint_url(env)
        == f"sqlite:///{tmp_path / 'wh' / 'checkpoints.sqlite'}"
    )


def test_built_resources_work_and_use_envvar_for_secrets(pipeline_env):
    resources = build_resources()
    sf, ns, cp = (resources[k] for k in ("salesforce", "netsuite", "checkpoints"))
    assert isinstance(sf, SalesforceResource) and isinstance(ns, NetSuiteResource)
    assert isinstance(cp, CheckpointStore) and cp.url == pipeline_env["O2C_CHECKPOINT_URL"]

    @dg.asset
    def probe(salesforce: SalesforceResource, netsuite: NetSuiteResource) -> dict:
        return {
            "accounts": salesforce.count("Account"),
            "customers": len(netsuite.suiteql_page("SELECT id FROM customer", limit=3)["items"]),
        }

    result = dg.materialize([probe], resources=resources)
    assert result.success
    out = result.output_for_node("probe")
    assert out["accounts"] > 0 and out["customers"] == 3
    # secrets are configured as env-var references, resolved only when a run starts
    assert isinstance(secret_or_value("NETSUITE_TOKEN_SECRET", None), dg.EnvVar)
