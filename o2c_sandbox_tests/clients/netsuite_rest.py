"""The ``netsuite-rest`` npm package (got + oauth-1.0a TBA), run by Node on the requests a test
gives it. Installed from ``package-lock.json`` by ``.ci/run`` (``npm ci``); tests skip, saying
why, only when Node is absent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from o2c_sandbox.runner import Sandbox

HERE = Path(__file__).parent
SCRIPT = HERE / "netsuite_rest.js"


def netsuite_rest(sandbox: Sandbox, *requests: dict[str, Any]) -> list[dict[str, Any]]:
    """Each request (``path`` under /services/rest/, ``method``, ``body``, ``heads``) sent in
    order; returns ``[{status, data}]`` (error answers with their ``headers`` too)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the netsuite-rest (npm) client tests need Node.js")
    if not (HERE / "node_modules" / "netsuite-rest").is_dir():
        pytest.fail(f"netsuite-rest is not installed: run `npm ci --prefix {HERE}` (.ci/run does)")
    c = sandbox.credentials_
    spec = {
        "client": {
            "consumer_key": c.ns_consumer_key,
            "consumer_secret_key": c.ns_consumer_secret,
            "token": c.ns_token_id,
            "token_secret": c.ns_token_secret,
            "realm": c.ns_account_id,
            "base_url": sandbox.ns_url,
        },
        "requests": list(requests),
    }
    done = subprocess.run(
        [node, str(SCRIPT), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NODE_EXTRA_CA_CERTS": str(sandbox.ca_path)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
