"""The Node.js clients the sandbox tests drive (jsforce, the Salesforce CLI, netsuite-rest), installed from the
committed lock file in ``clients/js`` by the first test that needs them (``npm ci``, under a file lock
shared by the xdist workers). Tests skip, saying why, only when Node.js itself is absent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

JS_DIR = Path(__file__).parent / "clients" / "js"
NPM_CI_TIMEOUT_S = 600


def require_node() -> str:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.skip("Node.js (node and npm) is not installed: the JS client tests need it")
    with FileLock(str(JS_DIR / ".install.lock")):
        if not (JS_DIR / "node_modules" / ".package-lock.json").exists():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=JS_DIR,
                check=True,
                timeout=NPM_CI_TIMEOUT_S,
            )
    return node


def node_env(sandbox, home: Path | None = None) -> dict[str, str]:  # noqa: ANN001
    """The environment a Node.js client gets: the sandbox CA trusted, no telemetry, no proxy."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(
        NODE_EXTRA_CA_CERTS=str(sandbox.ca_path),
        NODE_NO_WARNINGS="1",
        SF_DISABLE_TELEMETRY="true",
        SFDX_DISABLE_TELEMETRY="true",
        SF_AUTOUPDATE_DISABLE="true",
        SF_SKIP_NEW_VERSION_CHECK="true",
        SF_USE_PROGRESS_BAR="false",
        SF_CONTAINER_MODE="true",
    )
    if home is not None:
        env["HOME"] = str(home)
    return env


def jsforce_settings(sandbox) -> dict[str, Any]:  # noqa: ANN001
    c = sandbox.credentials_
    return {
        "loginUrl": sandbox.sf_url,
        "clientId": c.sf_client_id,
        "clientSecret": c.sf_client_secret,
        "refreshToken": c.sf_refresh_token,
    }


def jsforce(sandbox, op: str, **params: Any) -> dict[str, Any]:  # noqa: ANN001
    """Run one jsforce operation (see ``clients/js/jsforce_ops.mjs``) and return its result."""
    node = require_node()
    done = subprocess.run(
        [node, str(JS_DIR / "jsforce_ops.mjs"), op],
        input=json.dumps({**jsforce_settings(sandbox), **params}),
        capture_output=True,
        text=True,
        env=node_env(sandbox),
        timeout=120,
        check=False,
    )
    try:
        result = json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"jsforce {op}: {done.stdout}\n{done.stderr}") from None
    if done.returncode != 0:
        raise AssertionError(f"jsforce {op} failed: {json.dumps(result, indent=1)}")
    return result
