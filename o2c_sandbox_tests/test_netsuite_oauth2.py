"""NetSuite OAuth 2.0 client credentials (M2M): authlib's OAuth2Session with a private-key JWT
(RFC 7523) logs in and calls records, SuiteQL and the metadata catalog with its bearer token;
each refusal of the token endpoint and of a bad bearer token is asserted in NetSuite's shape."""

from __future__ import annotations

import functools
import time
import uuid
from typing import Any

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from o2c_sandbox.cli import sandbox as sandbox_cli
from o2c_sandbox.netsuite.oauth2 import ASSERTION_TYPE, TOKEN_PATH
from o2c_sandbox.runner import Sandbox

REST = "/services/rest"


def token_url(box: Sandbox) -> str:
    return f"{box.ns_url}{TOKEN_PATH}"


def authlib_session(box: Sandbox, scope: str = "rest_webservices") -> OAuth2Session:
    """authlib, configured as a NetSuite integration would be: client id, certificate id as
    ``kid``, PS256, the private key registered with the mapping."""
    c = box.credentials_
    endpoint = token_url(box)
    session = OAuth2Session(
        client_id=c.ns_client_id,
        client_secret=box.ns_m2m_key_path.read_text(),
        token_endpoint_auth_method=PrivateKeyJWT(
            endpoint, headers={"kid": c.ns_certificate_id}, alg="PS256", claims={"scope": scope}
        ),
        token_endpoint=endpoint,
    )
    # verify= goes with each request: a session-level one loses to REQUESTS_CA_BUNDLE
    session.request = functools.partial(session.request, verify=str(box.ca_path))
    return session


def assertion(box: Sandbox, *, key: Any = None, headers: dict | None = None, **claims: Any) -> str:
    """A client assertion as NetSuite documents it; keyword arguments replace claims."""
    c = box.credentials_
    now = int(time.time())
    payload = {
        "iss": c.ns_client_id,
        "scope": ["restlets", "rest_webservices"],
        "aud": token_url(box),
        "iat": now,
        "exp": now + 300,
        **claims,
    }
    payload = {k: v for k, v in payload.items() if v is not None}
    if key is None:
        key = serialization.load_pem_private_key(box.ns_m2m_key_path.read_bytes(), password=None)
    head = {"kid": c.ns_certificate_id, "alg": "PS256", **(headers or {})}
    return jwt.encode(payload, key, algorithm=head.pop("alg"), headers=head)


def post_token(box: Sandbox, **form: str) -> requests.Response:
    data = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, **form}
    return requests.post(token_url(box), data=data, verify=str(box.ca_path), timeout=10)


def bearer_get(box: Sandbox, token: str, path: str) -> requests.Response:
    return requests.get(
        f"{box.ns_url}{REST}{path}",
        headers={"Authorization": f"Bearer {token}"},
        verify=str(box.ca_path),
        timeout=10,
    )


@pytest.fixture
def box(sandbox) -> Sandbox:
    sandbox.knobs.ns_rate_limit = 100_000  # restored by conftest's autouse fixture
    return sandbox


def test_authlib_logs_in_and_uses_the_token_on_every_rest_path(box):
    session = authlib_session(box)
    token = session.fetch_token(grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["expires_in"] == "3600"
    assert "refresh_token" not in token and token["expires_at"] > time.time() + 3500
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert (
        claims["scope"] == ["rest_webservices"] and claims["iss"] == "https://system.netsuite.com"
    )

    customers = session.get(f"{box.ns_url}{REST}/record/v1/customer", params={"limit": 2})
    assert customers.status_code == 200, customers.text
    first = customers.json()["items"][0]["id"]
    assert session.get(f"{box.ns_url}{REST}/record/v1/customer/{first}").json()["id"] == first
    page = session.post(
        f"{box.ns_url}{REST}/query/v1/suiteql",
        params={"limit": 3},
        json={"q": "SELECT id, companyname FROM customer ORDER BY id"},
        headers={"Prefer": "transient"},
    )
    assert page.status_code == 200 and page.json()["count"] == 3
    schema = session.get(
        f"{box.ns_url}{REST}/record/v1/metadata-catalog/customer",
        headers={"Accept": "application/schema+json"},
    )
    assert schema.status_code == 200 and "companyName" in schema.json()["properties"]


def test_token_answer_shape(box):
    answer = post_token(box, client_assertion=assertion(box))
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "PS256" and header["kid"]


def _other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


@pytest.mark.parametrize(
    ("case", "status", "error"),
    [
        ("wrong iss", 401, "invalid_client"),
        ("wrong aud", 401, "invalid_client"),
        ("expired", 401, "invalid_client"),
        ("issued in the future", 401, "invalid_client"),
        ("unknown certificate id", 401, "invalid_client"),
        ("bad signature", 401, "invalid_client"),
        ("RS256", 401, "invalid_client"),
        ("EC key against an RSA certificate", 401, "invalid_client"),
        ("exp more than 60 minutes after iat", 400, "invalid_request"),
        ("no kid", 400, "invalid_request"),
        ("no exp", 400, "invalid_request"),
        ("not a JWT", 400, "invalid_request"),
        ("unknown scope", 400, "invalid_scope"),
        ("no scope", 400, "invalid_scope"),
    ],
)
def test_assertion_refusals(box, case, status, error):
    now = int(time.time())
    c = box.credentials_
    built = {
        "wrong iss": lambda: assertion(box, iss="someone-else"),
        "wrong aud": lambda: assertion(box, aud="https://1234567.suitetalk.api.netsuite.com/x"),
        "expired": lambda: assertion(box, iat=now - 600, exp=now - 300),
        "issued in the future": lambda: assertion(box, iat=now + 600, exp=now + 900),
        "unknown certificate id": lambda: assertion(box, headers={"kid": "not-mapped"}),
        "bad signature": lambda: assertion(box, key=_other_rsa_key()),
        "RS256": lambda: assertion(box, headers={"alg": "RS256"}),
        "EC key against an RSA certificate": lambda: assertion(
            box, key=ec.generate_private_key(ec.SECP256R1()), headers={"alg": "ES256"}
        ),
        "exp more than 60 minutes after iat": lambda: assertion(box, exp=now + 3601),
        "no kid": lambda: jwt.encode(
            {"iss": c.ns_client_id, "aud": token_url(box), "iat": now, "exp": now + 60},
            serialization.load_pem_private_key(box.ns_m2m_key_path.read_bytes(), None),
            algorithm="PS256",
        ),
        "no exp": lambda: assertion(box, exp=None),
        "not a JWT": lambda: "not-a-jwt",
        "unknown scope": lambda: assertion(box, scope="rest_webservices,everything"),
        "no scope": lambda: assertion(box, scope=None),
    }[case]()
    answer = post_token(box, client_assertion=built)
    assert (answer.status_code, answer.json()) == (status, {"error": error}), case


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "authorization_code"}, "invalid_request"),
        (
            {"client_assertion_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"},
            "invalid_request",
        ),
        ({"client_assertion": ""}, "invalid_request"),
    ],
)
def test_request_refusals(box, form, error):
    answer = post_token(box, **{"client_assertion": assertion(box), **form})
    assert (answer.status_code, answer.json()) == (400, {"error": error})


def test_scope_as_a_comma_separated_string_is_accepted(box):
    answer = post_token(box, client_assertion=assertion(box, scope="rest_webservices,restlets"))
    assert answer.status_code == 200


def _invalid_login(answer: requests.Response) -> None:
    assert answer.status_code == 401
    body = answer.json()
    assert body["status"] == 401 and body["title"] == "Unauthorized"
    assert body["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer ")


def test_bad_bearer_tokens_answer_invalid_login(box):
    good = post_token(box, client_assertion=assertion(box)).json()["access_token"]
    assert bearer_get(box, good, "/record/v1/customer?limit=1").status_code == 200
    _invalid_login(bearer_get(box, "unknown-token", "/record/v1/customer"))
    head, payload, signature = good.split(".")
    _invalid_login(bearer_get(box, f"{head}.{payload}.{signature[::-1]}", "/record/v1/customer"))
    # a token without the rest_webservices scope does not open REST web services
    restlets_only = post_token(box, client_assertion=assertion(box, scope="restlets"))
    _invalid_login(bearer_get(box, restlets_only.json()["access_token"], "/record/v1/customer"))


def test_expired_access_token_answers_invalid_login(box):
    box.knobs.update({"ns_access_token_ttl_s": 1.0})
    answer = post_token(box, client_assertion=assertion(box))
    assert answer.json()["expires_in"] == "1"
    token = answer.json()["access_token"]
    assert bearer_get(box, token, "/record/v1/customer?limit=1").status_code == 200
    time.sleep(2.1)
    _invalid_login(bearer_get(box, token, "/record/v1/customer?limit=1"))
    _invalid_login(bearer_get(box, token, "/record/v1/metadata-catalog"))


def test_mapped_certificate_and_key_as_netsuite_requires(box):
    from cryptography import x509

    key = serialization.load_pem_private_key(box.ns_m2m_key_path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 3072  # 3072 or 4096 bits
    assert box.ns_m2m_key_path.stat().st_mode & 0o077 == 0
    cert = x509.load_pem_x509_certificate(box.ns_m2m_cert_path.read_bytes())
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 731  # two years at most
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()


def test_credentials_give_both_netsuite_sets(box, tmp_path):
    env = box.credentials()
    assert env["NETSUITE_AUTH_FLOW"] == "tba"
    assert env["NETSUITE_CLIENT_ID"] == box.credentials_.ns_client_id
    assert env["NETSUITE_CERTIFICATE_ID"] == box.credentials_.ns_certificate_id
    assert env["NETSUITE_PRIVATE_KEY_FILE"] == str(box.ns_m2m_key_path)
    assert env["NETSUITE_TOKEN_ID"] and env["NETSUITE_CONSUMER_KEY"]
    printed = CliRunner().invoke(sandbox_cli, ["credentials", "--state-dir", str(tmp_path)])
    assert printed.exit_code == 0, printed.output
    lines = printed.output.splitlines()
    for name in ("NETSUITE_AUTH_FLOW=tba", "NETSUITE_CLIENT_ID=", "NETSUITE_CERTIFICATE_ID=",
                 "NETSUITE_PRIVATE_KEY_FILE=", "NETSUITE_TOKEN_ID=", "NETSUITE_CONSUMER_KEY="):  # fmt: skip
        assert any(line.startswith(f"export {name}") for line in lines), name


def test_token_requests_are_not_governed(box):
    """Logins do not take a slot of the account's concurrency limit."""
    box.knobs.update({"ns_concurrency_limit": 1, "latency_ms": 200.0})
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(
            pool.map(lambda _: post_token(box, client_assertion=assertion(box)), range(3))
        )
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert uuid.UUID(jwt.decode(answers[0].json()["access_token"],
                                options={"verify_signature": False})["jti"])  # fmt: skip
