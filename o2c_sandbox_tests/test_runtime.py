"""The sandbox at run time: knobs through the admin API, injected faults at their set rates,
per-family call counters, a world that survives a restart, and the ``o2c sandbox`` CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from o2c_pipeline.cli import main as o2c
from o2c_sandbox import world
from o2c_sandbox.core import ADMIN_PREFIX, Knobs
from o2c_sandbox.runner import Sandbox

CREDENTIAL_KEYS = {
    "SALESFORCE_LOGIN_URL", "SALESFORCE_AUTH_FLOW", "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET",
    "SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_PRIVATE_KEY_FILE", "SALESFORCE_API_VERSION",
    "NETSUITE_ACCOUNT_ID", "NETSUITE_BASE_URL", "NETSUITE_CONSUMER_KEY", "NETSUITE_CONSUMER_SECRET",
    "NETSUITE_TOKEN_ID", "NETSUITE_TOKEN_SECRET", "NETSUITE_AUTH_FLOW", "NETSUITE_CLIENT_ID",
    "NETSUITE_CERTIFICATE_ID", "NETSUITE_PRIVATE_KEY_FILE", "O2C_CA_BUNDLE",
}  # fmt: skip
LIMITS = "/services/data/v62.0/limits/"
NS_CUSTOMERS = "/services/rest/record/v1/customer"


def admin(box: Sandbox, method: str, path: str, body: dict | None = None) -> requests.Response:
    return requests.request(method, f"{box.sf_url}{ADMIN_PREFIX}{path}", json=body,
                            verify=str(box.ca_path), timeout=30)  # fmt: skip


def set_knobs(box: Sandbox, **changes: Any) -> dict[str, Any]:
    response = admin(box, "PATCH", "knobs", changes)
    assert response.status_code == 200, response.text
    return response.json()


def statuses(box: Sandbox, n: int, session: requests.Session | None = None) -> list[int]:
    """Status codes of ``n`` unauthenticated GETs to a real Salesforce API route."""
    get = (session or requests).get
    return [get(f"{box.sf_url}{LIMITS}", verify=str(box.ca_path), timeout=10).status_code
            for _ in range(n)]  # fmt: skip


# -- knobs -------------------------------------------------------------------------------------


def test_latency_knob_slows_every_request(sandbox):
    def timed() -> float:
        started = time.perf_counter()
        requests.get(f"{sandbox.sf_url}{LIMITS}", verify=str(sandbox.ca_path), timeout=10)
        return time.perf_counter() - started

    baseline = min(timed() for _ in range(3))
    assert set_knobs(sandbox, latency_ms=300)["latency_ms"] == 300
    slowed = min(timed() for _ in range(3))
    assert slowed >= 0.3
    assert slowed - baseline > 0.25


def test_knobs_are_listed_and_unknown_knobs_rejected(sandbox):
    listed = admin(sandbox, "GET", "knobs").json()
    assert set(listed) == set(vars(Knobs()))
    response = admin(sandbox, "PATCH", "knobs", {"latency_ms": 5, "warp_drive": 1})
    assert response.status_code == 400
    assert "warp_drive" in response.json()["error"]
    response = admin(sandbox, "PATCH", "knobs", {"latency_ms": 7, "ns_concurrency_limit": "many"})
    assert response.status_code == 400
    assert admin(sandbox, "GET", "knobs").json() == listed  # a refused change changes nothing


def test_unknown_admin_endpoint_is_404(sandbox):
    assert admin(sandbox, "GET", "no-such-thing").status_code == 404


# -- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("knob", "status", "requests_sent"),
    [("fault_500_rate", 500, 300), ("fault_503_rate", 503, 200), ("fault_429_rate", 429, 200)],
)
def test_http_faults_appear_at_their_set_rate(sandbox, knob, status, requests_sent):
    rate = 0.2
    set_knobs(sandbox, **{knob: rate})
    with requests.Session() as session:
        seen = statuses(sandbox, requests_sent, session)
    faults = seen.count(status)
    # the rest reach the route and are refused for want of a session
    assert set(seen) == {status, 401}
    sd = (requests_sent * rate * (1 - rate)) ** 0.5
    assert abs(faults - requests_sent * rate) < 4 * sd, (faults, requests_sent)


def test_fault_bodies_use_the_systems_error_shapes(sandbox):
    set_knobs(sandbox, fault_503_rate=1.0)
    sf = requests.get(f"{sandbox.sf_url}{LIMITS}", verify=str(sandbox.ca_path), timeout=10)
    assert sf.status_code == 503
    assert isinstance(sf.json(), list) and sf.json()[0]["errorCode"]
    ns = requests.get(f"{sandbox.ns_url}{NS_CUSTOMERS}", verify=str(sandbox.ca_path), timeout=10)
    assert ns.status_code == 503
    assert ns.json()["o:errorDetails"][0]["o:errorCode"]
    set_knobs(sandbox, fault_503_rate=0.0, fault_429_rate=1.0)
    throttled = requests.get(f"{sandbox.sf_url}{LIMITS}", verify=str(sandbox.ca_path), timeout=10)
    assert throttled.status_code == 429
    assert throttled.headers.get("Retry-After")


def test_connection_resets_at_their_set_rate(sandbox):
    set_knobs(sandbox, fault_reset_rate=0.5)
    resets = 0
    for _ in range(40):
        try:
            requests.get(f"{sandbox.sf_url}{LIMITS}", verify=str(sandbox.ca_path), timeout=10)
        except requests.ConnectionError:
            resets += 1
    assert 8 <= resets <= 32
    set_knobs(sandbox, fault_reset_rate=0.0)
    assert statuses(sandbox, 3) == [401, 401, 401]


def test_timeouts_outlast_the_client_read_timeout_then_drop(sandbox):
    set_knobs(sandbox, fault_timeout_rate=1.0, client_read_timeout_s=1.0)
    started = time.perf_counter()
    with pytest.raises(requests.ReadTimeout):  # a client with that read timeout gives up first
        requests.get(f"{sandbox.sf_url}{LIMITS}", verify=str(sandbox.ca_path), timeout=(5, 1.0))
    assert 1.0 <= time.perf_counter() - started < 1.5
    # a more patient client sees the connection dropped after the hang, never an answer
    started = time.perf_counter()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{sandbox.sf_url}{LIMITS}", verify=str(sandbox.ca_path), timeout=5)
    assert time.perf_counter() - started >= 1.5


def test_session_expiry_fault_ends_a_valid_session(sandbox):
    creds = sandbox.credentials()
    token = requests.post(
        f"{sandbox.sf_url}/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": creds["SALESFORCE_CLIENT_ID"],
              "client_secret": creds["SALESFORCE_CLIENT_SECRET"]},
        verify=str(sandbox.ca_path), timeout=10,
    ).json()["access_token"]  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"}

    def limits() -> requests.Response:
        return requests.get(
            f"{sandbox.sf_url}{LIMITS}", headers=headers, verify=str(sandbox.ca_path), timeout=10
        )

    assert limits().status_code == 200
    set_knobs(sandbox, fault_session_expiry_rate=1.0)
    expired = limits()
    assert expired.status_code == 401
    assert expired.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    set_knobs(sandbox, fault_session_expiry_rate=0.0)
    assert limits().status_code == 401  # the session really is gone


# -- counters ----------------------------------------------------------------------------------


def test_counters_count_calls_per_system_and_endpoint_family(sandbox):
    # not a governance test: the window may still hold the previous module's requests
    set_knobs(sandbox, ns_rate_limit=100_000)
    assert admin(sandbox, "POST", "counters/reset").status_code == 200
    statuses(sandbox, 3)
    requests.get(f"{sandbox.sf_url}/services/data/v62.0/query/?q=SELECT+Id+FROM+Account",
                 verify=str(sandbox.ca_path), timeout=10)  # fmt: skip
    for _ in range(2):
        requests.get(f"{sandbox.ns_url}{NS_CUSTOMERS}", verify=str(sandbox.ca_path), timeout=10)
    snapshot = admin(sandbox, "GET", "counters").json()
    assert snapshot["calls"]["salesforce"] == {"limits": 3, "query": 1}
    assert snapshot["calls"]["netsuite"] == {"record": 2}
    assert snapshot["totals"] == {"salesforce": 4, "netsuite": 2}
    assert snapshot["statuses"]["salesforce"] == {"401": 4}
    assert snapshot["statuses"]["netsuite"] == {"401": 2}
    # admin calls are not API calls
    assert admin(sandbox, "GET", "counters").json()["totals"] == snapshot["totals"]


def test_advance_and_stats_through_the_admin_api(sandbox):
    before = admin(sandbox, "GET", "stats").json()
    summary = admin(sandbox, "POST", "advance", {"steps": 1}).json()
    assert summary["steps"] == 1 and summary["counts"]["new_accounts"] > 0
    after = admin(sandbox, "GET", "stats").json()
    assert after["sf"]["Account"] == before["sf"]["Account"] + summary["counts"]["new_accounts"]
    assert after["ns"]["transaction"] > before["ns"]["transaction"]


# -- persistence -------------------------------------------------------------------------------


def test_restarted_sandbox_keeps_its_world(tmp_path, monkeypatch):
    with Sandbox(
        state_dir=tmp_path, scale="small", seed=5, sf_port=0, ns_port=0, knobs=Knobs()
    ) as box:
        built_at = box.ctx.store.get_meta("built_at")
        admin(box, "POST", "advance", {"steps": 2})
        stats = admin(box, "GET", "stats").json()

    def must_not_rebuild(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the saved world was rebuilt")

    monkeypatch.setattr(world, "build_world", must_not_rebuild)
    with Sandbox(
        state_dir=tmp_path, scale="small", seed=5, sf_port=0, ns_port=0, knobs=Knobs()
    ) as box:
        assert box.ctx.store.get_meta("built_at") == built_at
        assert box.ctx.store.get_meta("sim_step") == "2"
        assert admin(box, "GET", "stats").json() == stats


# -- CLI ---------------------------------------------------------------------------------------


def test_credentials_json_and_export_lines(tmp_path):
    runner = CliRunner()
    result = runner.invoke(o2c, ["sandbox", "credentials", "--json", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    env = json.loads(result.output)
    assert set(env) == CREDENTIAL_KEYS
    assert env["O2C_CA_BUNDLE"] == str(tmp_path.resolve() / "ca.pem")
    assert env["SALESFORCE_LOGIN_URL"].startswith("https://")
    result = runner.invoke(o2c, ["sandbox", "credentials", "--state-dir", str(tmp_path)])
    lines = result.output.strip().splitlines()
    assert all(line.startswith("export ") for line in lines)
    assert {line[len("export ") :].split("=", 1)[0] for line in lines} == CREDENTIAL_KEYS


def test_serve_starts_on_given_ports_and_the_cli_drives_it(tmp_path):
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from o2c_pipeline.cli import main; main()", "sandbox", "serve",
         "--state-dir", str(state), "--sf-port", "0", "--ns-port", "0", "--seed", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        env = _wait_for_server(state / "server.json", proc)
        assert set(env) == CREDENTIAL_KEYS
        for base in (env["SALESFORCE_LOGIN_URL"], env["NETSUITE_BASE_URL"]):
            health = requests.get(
                f"{base}{ADMIN_PREFIX}health", verify=env["O2C_CA_BUNDLE"], timeout=10
            )
            assert health.json()["ok"] is True

        runner = CliRunner()

        def cli(*args: str) -> Any:
            result = runner.invoke(o2c, ["sandbox", *args, "--state-dir", str(state)])
            assert result.exit_code == 0, result.output
            return json.loads(result.output)

        assert cli("knobs", "latency_ms=5", "fault_429_rate=0")["latency_ms"] == 5
        assert cli("knobs")["latency_ms"] == 5
        assert cli("stats")["sf"]["Account"] == world.SCALES["small"].accounts
        advanced = cli("advance", "--steps", "2")
        assert advanced["steps"] == 2 and advanced["changed"]["sf.Account"] > 0
        assert cli("stats")["sf"]["Account"] > world.SCALES["small"].accounts
        assert "totals" in cli("counters")
        bad = runner.invoke(o2c, ["sandbox", "knobs", "warp_drive=1", "--state-dir", str(state)])
        assert bad.exit_code != 0 and "warp_drive" in bad.output
        assert (
            json.loads(
                runner.invoke(
                    o2c, ["sandbox", "credentials", "--json", "--state-dir", str(state)]
                ).output
            )
            == env
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert not (state / "server.json").exists()


def test_cli_without_a_running_sandbox_says_so(tmp_path):
    result = CliRunner().invoke(o2c, ["sandbox", "stats", "--state-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "no running sandbox" in result.output


def _wait_for_server(
    server_file: Path, proc: subprocess.Popen, timeout_s: float = 90
) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"o2c sandbox serve exited early:\n{proc.stdout.read().decode()}")
        if server_file.exists():
            env = json.loads(server_file.read_text())["env"]
            try:
                requests.get(f"{env['SALESFORCE_LOGIN_URL']}{ADMIN_PREFIX}health",
                             verify=env["O2C_CA_BUNDLE"], timeout=2)  # fmt: skip
                return env
            except requests.ConnectionError:
                pass
        time.sleep(0.2)
    pytest.fail("o2c sandbox serve did not come up")
