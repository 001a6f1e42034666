"""Each malformed setting is named, with what is wrong, before anything connects: URLs parsed
(scheme, host, port), SQLAlchemy URLs checked for a dialect and an installed driver, key files
loaded and their type checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from o2c_pipeline import settings
from o2c_sandbox.runner import self_signed_certificate

PEM = serialization.Encoding.PEM


def problems(**env: str) -> str:
    with pytest.raises(settings.SettingsError) as err:
        settings.validate(env)
    return str(err.value)


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Path]:
    """Key material as a user might mix it up: private keys of both types, an encrypted one, a
    public key, a certificate and a file of garbage."""
    folder = tmp_path_factory.mktemp("keys")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = serialization.PrivateFormat.PKCS8
    cert = self_signed_certificate(rsa_key, "o2c test", valid_days=1)
    files = {
        "rsa": rsa_key.private_bytes(PEM, pkcs8, serialization.NoEncryption()),
        "ec": ec_key.private_bytes(PEM, pkcs8, serialization.NoEncryption()),
        "encrypted": rsa_key.private_bytes(
            PEM, pkcs8, serialization.BestAvailableEncryption(b"passphrase")
        ),
        "public": rsa_key.public_key().public_bytes(
            PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "certificate": cert.public_bytes(PEM),
        "garbage": b"-----BEGIN PRIVATE KEY-----\nnot a key at all\n-----END PRIVATE KEY-----\n",
    }
    out = {}
    for label, data in files.items():
        out[label] = folder / f"{label}.pem"
        out[label].write_bytes(data)
    return out


@pytest.mark.parametrize(
    ("raw", "wanted"),
    [
        ("https://acct.suitetalk.api.netsuite.com:99999", "has a bad port (Port out of range"),
        ("https://acct.suitetalk.api.netsuite.com:44x", "has a bad port (Port could not be cast"),
        ("http://acct.suitetalk.api.netsuite.com", "must be an https:// URL"),
        ("https://:443", "has no host name"),
        ("https://acct.suitetalk.api.netsuite.com/services/rest", "is the host only"),
        ("acct.suitetalk.api.netsuite.com", "must be an https:// URL"),
    ],
)
def test_a_bad_base_url_is_named_with_its_fault(raw, wanted):
    assert f"NETSUITE_BASE_URL {wanted}" in problems(NETSUITE_BASE_URL=raw)


def test_a_bad_webhook_port_is_named():
    text = problems(O2C_ALERT_WEBHOOK_URL="https://hooks.example:0/x")
    assert "O2C_ALERT_WEBHOOK_URL has port 0" in text


@pytest.mark.parametrize(
    ("raw", "wanted"),
    [
        ("postgress://u@h/db", "names an unknown database dialect/driver 'postgress'"),
        (
            "postgresql+psycopg9://u@h/db",
            "names an unknown database dialect/driver 'postgresql+psycopg9'",
        ),
        ("mysql+mysqldb://u@h/db", "the driver of 'mysql+mysqldb' is not installed (MySQLdb)"),
        ("not a url", "is not a SQLAlchemy URL"),
    ],
)
def test_a_bad_checkpoint_url_is_named(raw, wanted):
    assert f"O2C_CHECKPOINT_URL {wanted}" in problems(O2C_CHECKPOINT_URL=raw).replace(
        "O2C_CHECKPOINT_URL: ", "O2C_CHECKPOINT_URL "
    )


def test_known_checkpoint_urls_pass():
    env = {"SALESFORCE_CLIENT_ID": "x", "NETSUITE_ACCOUNT_ID": "1", "SALESFORCE_AUTH_FLOW": "client_credentials",
           "SALESFORCE_CLIENT_SECRET": "s", "NETSUITE_AUTH_FLOW": "tba", "NETSUITE_CONSUMER_KEY": "k",
           "NETSUITE_CONSUMER_SECRET": "s", "NETSUITE_TOKEN_ID": "t", "NETSUITE_TOKEN_SECRET": "s"}  # fmt: skip
    for url in ("sqlite:///x.sqlite", "postgresql+psycopg2://u@127.0.0.1/test"):
        settings.validate({**env, "O2C_CHECKPOINT_URL": url})


@pytest.mark.parametrize(
    ("label", "wanted"),
    [
        ("garbage", "is not a PEM private key"),
        ("public", "holds a public key, not a private key"),
        ("certificate", "holds a certificate, not a private key"),
        ("encrypted", "is an encrypted key"),
        ("ec", "holds an EC private key; it must be RSA"),
    ],
)
def test_a_wrong_salesforce_key_file_says_what_it_holds(keys, label, wanted):
    text = problems(SALESFORCE_PRIVATE_KEY_FILE=str(keys[label]))
    assert f"SALESFORCE_PRIVATE_KEY_FILE ({keys[label]}) {wanted}" in text
    assert "public key" not in text or label == "public"


def test_netsuite_takes_rsa_or_ec_keys(keys):
    for label in ("rsa", "ec"):
        assert "NETSUITE_PRIVATE_KEY_FILE" not in problems(
            NETSUITE_PRIVATE_KEY_FILE=str(keys[label])
        )
    assert "is not a PEM private key" in problems(NETSUITE_PRIVATE_KEY_FILE=str(keys["garbage"]))


@pytest.mark.parametrize(
    "name",
    [
        "NETSUITE_RATE_WINDOW_S",
        "NETSUITE_CONNECT_TIMEOUT_S",
        "NETSUITE_READ_TIMEOUT_S",
        "SALESFORCE_CONNECT_TIMEOUT_S",
        "SALESFORCE_READ_TIMEOUT_S",
    ],
)
def test_timeouts_and_the_rate_window_must_be_positive_numbers(name):
    assert f"{name} must be a positive number, not 'ten'" in problems(**{name: "ten"})
    assert f"{name} must be a positive number, not '-1'" in problems(**{name: "-1"})


def test_timeouts_and_the_rate_window_reach_the_resources(sandbox_env):
    from o2c_pipeline.resources.factory import build_resources

    env = {
        **sandbox_env,
        "NETSUITE_RATE_WINDOW_S": "30",
        "NETSUITE_CONNECT_TIMEOUT_S": "3",
        "NETSUITE_READ_TIMEOUT_S": "45",
        "SALESFORCE_CONNECT_TIMEOUT_S": "4",
        "SALESFORCE_READ_TIMEOUT_S": "140",
    }
    built = build_resources(env)
    ns, sf = built["netsuite"], built["salesforce"]
    assert (ns.rate_window_s, ns.connect_timeout_s, ns.read_timeout_s) == (30, 3, 45)
    assert (sf.connect_timeout_s, sf.read_timeout_s) == (4, 140)
    defaults = build_resources(sandbox_env)
    assert (defaults["netsuite"].rate_window_s, defaults["netsuite"].read_timeout_s) == (60, 120)
    assert (defaults["salesforce"].connect_timeout_s, defaults["salesforce"].read_timeout_s) == (
        10,
        130,
    )


def test_an_unknown_auth_flow_is_named():
    assert "NETSUITE_AUTH_FLOW must be one of tba, oauth2_m2m, not 'oauth2'" in problems(
        NETSUITE_AUTH_FLOW="oauth2"
    )
