"""OAuth 1.0a Token-Based Authentication as NetSuite verifies it, driven by requests_oauthlib."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from types import SimpleNamespace

import pytest
import requests
from oauthlib.oauth1.rfc5849 import signature, utils

from o2c_sandbox_tests.netsuite_client import (
    RECORD,
    SUITEQL,
    NetSuiteClient,
    error_code,
    tba,
)

INVALID_LOGIN_BODY = {
    "type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2",
    "title": "Unauthorized",
    "status": 401,
    "o:errorDetails": [
        {
            "detail": "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
            "Setup > Users/Roles > User Management > View Login Audit Trail.",
            "o:errorCode": "INVALID_LOGIN",
        }
    ],
}


@pytest.fixture(autouse=True)
def generous_rate_limit(sandbox):
    sandbox.knobs.ns_rate_limit = 100_000  # restored by conftest's autouse fixture


def assert_invalid_login(response: requests.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == INVALID_LOGIN_BODY
    challenge = response.headers["WWW-Authenticate"]
    assert (
        challenge.startswith('OAuth realm="1234567_SB1"') and 'error="token_rejected"' in challenge
    )


def test_valid_signature_is_accepted(sandbox):
    response = NetSuiteClient(sandbox).get("customer", params={"limit": 1})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_secret": "wrong-consumer-secret"},
        {"resource_owner_secret": "wrong-token-secret"},
        {"client_key": "unknown-consumer"},
        {"resource_owner_key": "unknown-token"},
        {"realm": "1234567_sb1"},  # lowercase sandbox realm: a classic real-world failure
        {"realm": None},
        {"signature_method": "HMAC-SHA1"},  # unsupported since 2023.1
        {"signature_type": "query"},  # credentials in the query string, not the header
    ],
    ids=[
        "consumer-secret",
        "token-secret",
        "consumer-key",
        "token-id",
        "lowercase-realm",
        "no-realm",
        "hmac-sha1",
        "query-signature",
    ],
)
def test_bad_credentials_are_refused(sandbox, overrides):
    client = NetSuiteClient(sandbox, auth=tba(sandbox, **overrides))
    assert_invalid_login(client.get("customer", params={"limit": 1}))


def test_missing_authorization_is_refused(sandbox):
    response = requests.get(
        f"{sandbox.ns_url}{RECORD}/customer", verify=str(sandbox.ca_path), timeout=30
    )
    assert_invalid_login(response)


def test_replayed_nonce_is_refused(sandbox):
    session = requests.Session()
    prepared = session.prepare_request(
        requests.Request(
            "POST",
            f"{sandbox.ns_url}{SUITEQL}?limit=1",
            json={"q": "SELECT 1 FROM dual"},
            headers={"Prefer": "transient"},
            auth=tba(sandbox),
        )
    )
    first = session.send(prepared, verify=str(sandbox.ca_path), timeout=30)
    assert first.status_code == 200, first.text
    replay = session.send(prepared, verify=str(sandbox.ca_path), timeout=30)  # byte-identical
    assert_invalid_login(replay)


def test_stale_timestamp_is_refused_within_skew_accepted(sandbox):
    skew = sandbox.knobs.ns_timestamp_skew_s
    stale = tba(sandbox, timestamp=str(int(time.time() - skew - 60)), nonce=uuid.uuid4().hex)
    assert_invalid_login(NetSuiteClient(sandbox, auth=stale).get("customer", params={"limit": 1}))
    future = tba(sandbox, timestamp=str(int(time.time() + skew + 60)), nonce=uuid.uuid4().hex)
    assert_invalid_login(NetSuiteClient(sandbox, auth=future).get("customer", params={"limit": 1}))
    slightly_old = tba(sandbox, timestamp=str(int(time.time() - skew / 2)), nonce=uuid.uuid4().hex)
    assert (
        NetSuiteClient(sandbox, auth=slightly_old).get("customer", params={"limit": 1}).status_code
        == 200
    )


def test_query_parameters_are_decoded_and_reencoded(sandbox):
    client = NetSuiteClient(sandbox)
    q = 'companyName START_WITH "A/B & C+D=é%"'
    assert client.get("customer", params={"q": q, "limit": 5}).status_code == 200
    # httpx-style clients percent-encode "/" in query values; the signature must still verify
    url = f"{sandbox.ns_url}{RECORD}/customer?limit=5&q=companyName%20START_WITH%20%22A%2FB%22"
    signed = tba(sandbox)
    prepared = requests.Request("GET", url, auth=signed).prepare()
    assert "%2FB" in prepared.url
    response = requests.Session().send(prepared, verify=str(sandbox.ca_path), timeout=30)
    assert response.status_code == 200, response.text


def _signed_with_body_hash(sandbox, url: str, body: bytes, tamper: bool = False) -> dict[str, str]:
    """An Authorization header as authlib-style clients build it: oauth_body_hash over a JSON body."""
    c = sandbox.credentials_
    params = [
        ("oauth_consumer_key", c.ns_consumer_key),
        ("oauth_token", c.ns_token_id),
        ("oauth_nonce", uuid.uuid4().hex),
        ("oauth_timestamp", str(int(time.time()))),
        ("oauth_signature_method", "HMAC-SHA256"),
        ("oauth_version", "1.0"),
        ("oauth_body_hash", base64.b64encode(hashlib.sha1(body).digest()).decode()),
    ]
    base = signature.signature_base_string(
        "POST",
        signature.base_string_uri(url.split("?")[0]),
        signature.normalize_parameters(params + list(signature.urldecode(url.split("?")[1]))),
    )
    secrets = SimpleNamespace(
        client_secret=c.ns_consumer_secret, resource_owner_secret=c.ns_token_secret
    )
    params.append(("oauth_signature", signature.sign_hmac_sha256_with_client(base, secrets)))
    if tamper:
        params[-2] = ("oauth_body_hash", base64.b64encode(hashlib.sha1(b"other").digest()).decode())
    header = ", ".join(f'{k}="{utils.escape(v)}"' for k, v in params)
    return {
        "Authorization": f'OAuth realm="{c.ns_account_id}", {header}',
        "Prefer": "transient",
        "Content-Type": "application/json",
    }


@pytest.mark.parametrize("tamper", [False, True], ids=["signed", "tampered"])
def test_oauth_body_hash_is_part_of_the_signature(sandbox, tamper):
    url = f"{sandbox.ns_url}{SUITEQL}?limit=1"
    body = json.dumps({"q": "SELECT 1 FROM dual"}).encode()
    response = requests.post(
        url,
        data=body,
        headers=_signed_with_body_hash(sandbox, url, body, tamper),
        verify=str(sandbox.ca_path),
        timeout=30,
    )
    if tamper:
        assert_invalid_login(response)
    else:
        assert response.status_code == 200, response.text


def test_authentication_happens_before_any_data_is_touched(sandbox):
    bad = NetSuiteClient(sandbox, auth=tba(sandbox, client_secret="nope"))
    response = bad.suiteql("SELECT nosuchcolumn FROM customer")
    assert response.status_code == 401 and error_code(response) == "INVALID_LOGIN"
