"""The ``netsuite`` package from PyPI (async httpx, OAuth 1.0a TBA via authlib), pointed at the
sandbox: its ``rest_api.hostname`` is the sandbox's host and port, and httpx trusts the sandbox
CA through ``SSL_CERT_FILE`` (the package opens a new client per request, so the variable must be
set while it runs)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import urlparse

import pytest
from netsuite import Config, NetSuite, TokenAuth

from o2c_sandbox.runner import Sandbox

T = TypeVar("T")


def netsuite_package(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> NetSuite:
    c = sandbox.credentials_
    monkeypatch.setenv("SSL_CERT_FILE", str(sandbox.ca_path))
    ns = NetSuite(
        Config(
            account=c.ns_account_id,
            auth=TokenAuth(
                consumer_key=c.ns_consumer_key,
                consumer_secret=c.ns_consumer_secret,
                token_id=c.ns_token_id,
                token_secret=c.ns_token_secret,
            ),
        )
    )
    ns.rest_api.hostname = urlparse(sandbox.ns_url).netloc
    return ns


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)
