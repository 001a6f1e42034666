"""The ``netsuite`` package from PyPI (async httpx, OAuth 1.0a TBA via authlib), pointed at the
sandbox: its ``hostname`` is the sandbox's host and port, and httpx trusts the sandbox CA through
``SSL_CERT_FILE`` (the package opens a new client per request, so the variable must be set while
it runs)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import urlparse

import pytest
from netsuite import Config, NetSuiteRestApi, TokenAuth

from o2c_sandbox.runner import Sandbox

T = TypeVar("T")


def netsuite_rest_api(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, **options: Any
) -> NetSuiteRestApi:
    """The package's REST client for the sandbox account (``options``: its keyword arguments,
    e.g. ``concurrent_requests``)."""
    c = sandbox.credentials_
    monkeypatch.setenv("SSL_CERT_FILE", str(sandbox.ca_path))
    config = Config(
        account=c.ns_account_id,
        auth=TokenAuth(
            consumer_key=c.ns_consumer_key,
            consumer_secret=c.ns_consumer_secret,
            token_id=c.ns_token_id,
            token_secret=c.ns_token_secret,
        ),
    )
    api = NetSuiteRestApi(config, **options)
    api.hostname = urlparse(sandbox.ns_url).netloc
    return api


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)
