"""A thin NetSuite REST client for the sandbox tests: requests + requests_oauthlib.OAuth1
(HMAC-SHA256, realm = account id), exactly what an integration would use against NetSuite."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from requests_oauthlib import OAuth1

from o2c_sandbox.runner import Sandbox

SUITEQL = "/services/rest/query/v1/suiteql"
RECORD = "/services/rest/record/v1"


def tba(sandbox: Sandbox, **overrides: Any) -> OAuth1:
    """OAuth1 signer for the sandbox account; ``overrides`` replace any constructor argument."""
    c = sandbox.credentials_
    kwargs: dict[str, Any] = {
        "client_key": c.ns_consumer_key,
        "client_secret": c.ns_consumer_secret,
        "resource_owner_key": c.ns_token_id,
        "resource_owner_secret": c.ns_token_secret,
        "signature_method": "HMAC-SHA256",
        "realm": c.ns_account_id,
    }
    kwargs.update(overrides)
    return OAuth1(**kwargs)


@dataclass
class NetSuiteClient:
    sandbox: Sandbox
    auth: OAuth1 | None = None

    def __post_init__(self) -> None:
        self.auth = self.auth or tba(self.sandbox)
        self.session = requests.Session()
        # verify= is passed per request: a session-level verify loses to REQUESTS_CA_BUNDLE
        self.verify = str(self.sandbox.ca_path)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("auth", self.auth)
        kwargs.setdefault("timeout", 30)
        url = path if path.startswith("https://") else f"{self.sandbox.ns_url}{path}"
        return self.session.request(method, url, verify=self.verify, **kwargs)

    def suiteql(
        self,
        q: str,
        limit: int | None = None,
        offset: int | None = None,
        prefer: str | None = "transient",
    ) -> requests.Response:
        params = {k: v for k, v in (("limit", limit), ("offset", offset)) if v is not None}
        headers = {"Prefer": prefer} if prefer else {}
        return self.request("POST", SUITEQL, params=params, json={"q": q}, headers=headers)

    def suiteql_all(
        self, q: str, limit: int = 1000
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Follow ``next`` links to the last page; returns (rows, page bodies)."""
        pages = []
        response = self.suiteql(q, limit=limit, offset=0)
        while True:
            assert response.status_code == 200, response.text
            body = response.json()
            pages.append(body)
            next_links = [link["href"] for link in body["links"] if link["rel"] == "next"]
            if not next_links:
                break
            response = self.request(
                "POST", next_links[0], json={"q": q}, headers={"Prefer": "transient"}
            )
        return [row for page in pages for row in page["items"]], pages

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", f"{RECORD}/{path}", **kwargs)

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.request("POST", f"{RECORD}/{path}", json=body)

    def patch(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.request("PATCH", f"{RECORD}/{path}", json=body)

    def put(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.request("PUT", f"{RECORD}/{path}", json=body)

    def delete(self, path: str) -> requests.Response:
        return self.request("DELETE", f"{RECORD}/{path}")

    def create(self, record_type: str, body: dict[str, Any]) -> str:
        """Create a record and return its id, read from the Location header."""
        response = self.post(record_type, body)
        assert response.status_code == 204, response.text
        return response.headers["Location"].rsplit("/", 1)[1]


def error_code(response: requests.Response) -> str:
    """NetSuite puts the code inside o:errorDetails."""
    return response.json()["o:errorDetails"][0]["o:errorCode"]
