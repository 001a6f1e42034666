"""The ``netsuite-rest`` npm package (got + oauth-1.0a TBA), run by Node on the requests a test
gives it (installed with the other Node.js clients, see :mod:`o2c_sandbox_tests.js_clients`)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from o2c_sandbox.runner import Sandbox
from o2c_sandbox_tests.js_clients import JS_DIR, node_env, require_node

SCRIPT = JS_DIR / "netsuite_rest.cjs"


def netsuite_rest(sandbox: Sandbox, *requests: dict[str, Any]) -> list[dict[str, Any]]:
    """Each request (``path`` under /services/rest/, ``method``, ``body``, ``heads``) sent in
    order; returns ``[{status, data}]`` (error answers with their ``headers`` too)."""
    node = require_node()
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
        env=node_env(sandbox),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
