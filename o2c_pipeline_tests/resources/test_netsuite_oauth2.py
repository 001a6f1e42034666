"""NetSuite OAuth 2.0 client credentials (M2M) through the pipeline's client, against the
sandbox's token endpoint: tokens cached and renewed, a refused token renewed once, and every
refusal of the token endpoint a clear, non-retried error."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from o2c_pipeline import settings
from o2c_pipeline.netsuite.auth import BearerToken
from o2c_pipeline.netsuite.errors import NetSuiteAuthError
from o2c_pipeline.netsuite.resource import NetSuiteResource
from o2c_pipeline.resources.tokens import TOKENS
from o2c_pipeline_tests.resources.conftest import FAST_RETRIES, sandbox_admin

TBA = (
    "NETSUITE_CONSUMER_KEY",
    "NETSUITE_CONSUMER_SECRET",
    "NETSUITE_TOKEN_ID",
    "NETSUITE_TOKEN_SECRET",
)


def m2m_for(env: dict[str, str], *, fresh: bool = True, **overrides) -> NetSuiteResource:
    """An M2M client; ``fresh``: without the process-wide cached token (as a new process)."""
    fields = {
        "account_id": env["NETSUITE_ACCOUNT_ID"],
        "base_url": env["NETSUITE_BASE_URL"],
        "auth_flow": "oauth2_m2m",
        "client_id": env["NETSUITE_CLIENT_ID"],
        "certificate_id": env["NETSUITE_CERTIFICATE_ID"],
        "private_key_file": env["NETSUITE_PRIVATE_KEY_FILE"],
        "ca_bundle": env["O2C_CA_BUNDLE"],
        **FAST_RETRIES,
        **overrides,
    }
    ns = NetSuiteResource(**fields)
    if fresh and (token := _cached(ns)) is not None:
        TOKENS.invalidate(ns._runtime().m2m.cache_key, token.access_token)
    return ns


def _cached(ns: NetSuiteResource) -> BearerToken | None:
    return TOKENS._tokens.get(ns._runtime().m2m.cache_key)  # type: ignore[return-value]


def _first_customer(ns: NetSuiteResource) -> str:
    return ns.suiteql_page("SELECT id FROM customer ORDER BY id", limit=1)["items"][0]["id"]


def _statuses(sandbox) -> dict[str, int]:
    return sandbox_admin(sandbox, "GET", "counters")["statuses"].get("netsuite", {})


def test_m2m_settings_need_no_tba_variables(sandbox_env):
    env = {k: v for k, v in sandbox_env.items() if k not in TBA}
    env["NETSUITE_AUTH_FLOW"] = "oauth2_m2m"
    settings.validate(env)  # nothing missing
    with pytest.raises(settings.SettingsError) as err:
        settings.validate({**env, "NETSUITE_CERTIFICATE_ID": ""})
    assert "NETSUITE_CERTIFICATE_ID is not set (NETSUITE_AUTH_FLOW=oauth2_m2m needs it)" in str(
        err.value
    )
    with pytest.raises(settings.SettingsError) as err:
        settings.validate({**env, "NETSUITE_AUTH_FLOW": "tba"})
    assert all(f"{name} is not set" in str(err.value) for name in TBA)


def test_one_token_serves_every_request_and_every_instance(sandbox_env):
    first = m2m_for(sandbox_env)
    customer = _first_customer(first)
    assert first.get_record("customer", customer)["id"] == customer  # record API too
    second = m2m_for(sandbox_env, fresh=False)
    _first_customer(second)
    assert (first.api_calls, first.auth_calls) == (2, 1)
    assert (second.api_calls, second.auth_calls) == (1, 0)  # the cached token


def test_a_token_is_renewed_before_it_expires(sandbox, sandbox_env):
    sandbox_admin(sandbox, "PATCH", "knobs", json={"ns_access_token_ttl_s": 2})
    ns = m2m_for(sandbox_env, certificate_id=sandbox_env["NETSUITE_CERTIFICATE_ID"])
    TOKENS.invalidate(ns._runtime().m2m.cache_key, _cached(ns).access_token) if _cached(
        ns
    ) else None
    refused_before = _statuses(sandbox).get("401", 0)
    _first_customer(ns)
    time.sleep(2.2)  # the token has expired by now: the client renews without being refused
    _first_customer(ns)
    assert ns.auth_calls == 2
    assert _statuses(sandbox).get("401", 0) == refused_before


def test_a_refused_token_is_renewed_once_and_the_request_repeated(sandbox, sandbox_env):
    ns = m2m_for(sandbox_env)
    _first_customer(ns)
    key = ns._runtime().m2m.cache_key
    # the server no longer takes the token the client still holds (revoked, or its clock ran
    # ahead): the next request is refused once, then served with a new token
    far = time.time() + 3000
    TOKENS._tokens[key] = BearerToken("revoked-access-token", expires_at=far, renew_at=far)
    refused_before = _statuses(sandbox).get("401", 0)
    assert _first_customer(ns)
    assert ns.auth_calls == 2
    assert _statuses(sandbox).get("401", 0) == refused_before + 1
    assert _cached(ns).access_token != "revoked-access-token"


def _refusal(env: dict[str, str], **overrides) -> NetSuiteAuthError:
    ns = m2m_for(env, **overrides)
    with pytest.raises(NetSuiteAuthError) as err:
        _first_customer(ns)
    assert ns.auth_calls == 1, "a refusal is not retried"
    assert ns.api_calls == 0
    return err.value


def test_an_unknown_certificate_id_is_refused_as_invalid_client(sandbox_env):
    err = _refusal(sandbox_env, certificate_id="no-such-certificate")
    assert (err.status, err.error_code, err.transient) == (401, "invalid_client", False)
    assert "certificate no-such-certificate" in str(err) and "NETSUITE_CERTIFICATE_ID" in str(err)


def test_an_unknown_client_id_is_refused_as_invalid_client(sandbox_env):
    err = _refusal(sandbox_env, client_id="not-our-integration")
    assert (err.status, err.error_code) == (401, "invalid_client")
    assert "client not-our-integration" in str(err)


def test_a_key_that_is_not_the_mapped_certificates_is_refused(sandbox_env, tmp_path):
    other = tmp_path / "other.pem"
    other.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    err = _refusal(sandbox_env, private_key_file=str(other))
    assert (err.status, err.error_code) == (401, "invalid_client")
    assert "NETSUITE_PRIVATE_KEY_FILE" in str(err)


def test_an_unknown_scope_is_refused_as_invalid_scope(sandbox_env):
    err = _refusal(sandbox_env, oauth_scope="soap_webservices")
    assert (err.status, err.error_code) == (400, "invalid_scope")
    assert "REST Web Services scope" in str(err)


def test_refusals_name_no_secret(sandbox_env):
    err = _refusal(sandbox_env, certificate_id="no-such-certificate")
    key_text = open(sandbox_env["NETSUITE_PRIVATE_KEY_FILE"]).read()
    body = key_text.splitlines()[1]
    assert body not in str(err) and "eyJ" not in str(err)  # neither the key nor a JWT
