"""The Salesforce CLI (``sf``), unmodified, against the Salesforce sandbox: logging in with an
access token and with an SFDX auth URL (the refresh-token flow), ``org display``,
``data query`` (which reads ``columns=true``) and ``data export bulk`` (Bulk API 2.0)."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest
import requests

from o2c_sandbox_tests.js_clients import JS_DIR, node_env, require_node


@pytest.fixture(scope="module")
def sf_cli(sandbox, tmp_path_factory):
    """Runs ``sf <args> --json`` with a home of its own; returns the parsed answer."""
    require_node()
    home = tmp_path_factory.mktemp("sf-home")
    env = node_env(sandbox, home)

    def run(*args: str, extra_env: dict[str, str] | None = None) -> dict:
        done = subprocess.run(
            [str(JS_DIR / "node_modules" / ".bin" / "sf"), *args, "--json"],
            env={**env, **(extra_env or {})}, cwd=home, capture_output=True, text=True,
            timeout=180, check=False,
        )  # fmt: skip
        answer = json.loads(done.stdout)
        assert done.returncode == 0 and answer["status"] == 0, done.stdout + done.stderr
        return answer["result"]

    run.home = home  # type: ignore[attr-defined]
    return run


@pytest.fixture(scope="module")
def org_alias(sandbox, sf_cli) -> str:
    c = sandbox.credentials_
    token = requests.post(
        f"{sandbox.sf_url}/services/oauth2/token", data={"grant_type": "client_credentials"},
        auth=(c.sf_client_id, c.sf_client_secret), verify=str(sandbox.ca_path), timeout=10,
    ).json()["access_token"]  # fmt: skip
    result = sf_cli("org", "login", "access-token", "--instance-url", sandbox.sf_url,
                    "--no-prompt", "--alias", "box", extra_env={"SF_ACCESS_TOKEN": token})  # fmt: skip
    # the CLI found the user through userinfo and sobjects/User
    assert result["username"] == c.sf_username and result["orgId"] == "00D000000000001AAA"
    return "box"


def test_org_display(sandbox, sf_cli, org_alias):
    shown = sf_cli("org", "display", "--target-org", org_alias)
    assert shown["instanceUrl"].rstrip("/") == sandbox.sf_url
    assert shown["apiVersion"] == "62.0" and shown["connectedStatus"] == "Connected"


def test_data_query_reads_column_metadata(sandbox, sf_cli, org_alias):
    result = sf_cli("data", "query", "--target-org", org_alias, "--query",
                    "SELECT Id, Name, Owner.Name FROM Account ORDER BY Id LIMIT 3")  # fmt: skip
    assert result["totalSize"] == 3
    assert result["records"][0]["Owner"]["Name"] == "Integration User"
    # the CSV and table formats lay out the columns ``columns=true`` describes
    done = subprocess.run(
        [str(JS_DIR / "node_modules" / ".bin" / "sf"), "data", "query", "--target-org", org_alias,
         "--query", "SELECT Id, Owner.Name, (SELECT LastName FROM Contacts) FROM Account "
         "ORDER BY Id LIMIT 2", "--result-format", "csv"],
        env=node_env(sandbox, sf_cli.home), cwd=sf_cli.home, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    header = done.stdout.splitlines()[0]
    assert header.startswith("Id,Owner.Name"), done.stdout
    assert "Integration User" in done.stdout


def test_data_export_bulk(sf_cli, org_alias):
    out = Path(sf_cli.home) / "accounts.csv"
    result = sf_cli("data", "export", "bulk", "--target-org", org_alias, "--query",
                    "SELECT Id, Name FROM Account", "--output-file", str(out), "--wait", "2")  # fmt: skip
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == result["totalSize"] > 200
    assert rows[0]["Id"].startswith("001")


def test_sfdx_url_login_uses_the_refresh_token_flow(sandbox, sf_cli):
    c = sandbox.credentials_
    auth_file = Path(sf_cli.home) / "auth-url.txt"
    host = sandbox.sf_url.removeprefix("https://")
    auth_file.write_text(
        f"force://{c.sf_client_id}:{c.sf_client_secret}:{c.sf_refresh_token}@{host}"
    )
    result = sf_cli("org", "login", "sfdx-url", "--sfdx-url-file", str(auth_file), "--alias", "rt")
    assert result["username"] == c.sf_username and result["instanceApiVersion"] == "62.0"
