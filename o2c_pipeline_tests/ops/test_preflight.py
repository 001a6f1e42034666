"""Fail fast, in one line: every malformed setting, a stopped sandbox and a wrong secret stop
``o2c run`` (what ``make run`` calls) within seconds, naming the setting, the system, its URL or
the credential set, never a secret, and without a traceback; a Dagster run stops before its first
step the same way. The CLI runs as a subprocess, as a user runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SECRETS = ("SALESFORCE_CLIENT_SECRET", "SALESFORCE_PASSWORD", "NETSUITE_CONSUMER_SECRET",
           "NETSUITE_TOKEN_SECRET")  # fmt: skip
WRONG_SECRET = "not-the-token-secret-0123456789"


def run_o2c(
    env: dict[str, str], cwd: Path, *args: str
) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "o2c_pipeline.cli", "run", "--no-progress", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc, time.monotonic() - started


_FAIL_FAST_S = 15.0  # a stopped service or a refused credential: answered at once, no retry loop
_startup_s: list[float] = []


def fail_fast_limit(env: dict[str, str], cwd: Path) -> float:
    """The seconds a fail-fast answer may take: 15 s, or 10 s beyond what the same CLI takes to
    start and refuse a malformed setting on this machine now (a loaded CI host starts Python and
    Dagster slowly; a retry loop or a connect timeout still shows as tens of seconds more)."""
    if not _startup_s:
        _, seconds = run_o2c({**env, "NETSUITE_READ_TIMEOUT_S": "soon"}, cwd)
        _startup_s.append(seconds)
    return max(_FAIL_FAST_S, _startup_s[0] + 10.0)


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]


def assert_no_secret(output: str, env: dict[str, str]) -> None:
    for name in SECRETS:
        assert env[name] not in output, name
    assert WRONG_SECRET not in output
    key = Path(env["SALESFORCE_PRIVATE_KEY_FILE"]).read_text().splitlines()[1]
    assert key not in output and "Traceback" not in output


def dead_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env(pipeline_env, tmp_path) -> dict[str, str]:
    return {**pipeline_env, "O2C_CONFIG": "", "DAGSTER_HOME": ""}


def test_a_stopped_sandbox_is_one_line_per_system_in_seconds(env, tmp_path):
    port = dead_port()
    stopped = {
        **env,
        "SALESFORCE_LOGIN_URL": f"https://127.0.0.1:{port}",
        "NETSUITE_BASE_URL": f"https://127.0.0.1:{port}",
    }
    proc, seconds = run_o2c(stopped, tmp_path)
    lines = error_lines(proc)
    assert proc.returncode == 1 and seconds < fail_fast_limit(env, tmp_path), (seconds, lines)
    assert lines == [
        f"Error: Salesforce is unreachable at https://127.0.0.1:{port} (connection refused): "
        "the local sandbox is not running: start it with `make sandbox`",
        f"NetSuite is unreachable at https://127.0.0.1:{port} (connection refused): "
        "the local sandbox is not running: start it with `make sandbox`",
    ]
    assert_no_secret(proc.stdout + proc.stderr, env)


def test_an_unknown_host_is_named_without_the_sandbox_hint(env, tmp_path):
    proc, seconds = run_o2c({**env, "NETSUITE_BASE_URL": "https://acct.invalid"}, tmp_path)
    assert proc.returncode == 1 and seconds < fail_fast_limit(env, tmp_path)
    assert error_lines(proc) == [
        "Error: NetSuite is unreachable at https://acct.invalid (host name not found)"
    ]


def _netsuite_refusals(sandbox) -> int:
    counters = requests.get(
        f"{sandbox.ns_url}/__sandbox__/counters", verify=str(sandbox.ca_path), timeout=10
    ).json()
    return counters["statuses"].get("netsuite", {}).get("401", 0)


def test_a_wrong_netsuite_secret_is_one_line_asked_once(env, tmp_path, sandbox):
    before = _netsuite_refusals(sandbox)
    proc, seconds = run_o2c({**env, "NETSUITE_TOKEN_SECRET": WRONG_SECRET}, tmp_path)
    lines = error_lines(proc)
    assert proc.returncode == 1 and seconds < fail_fast_limit(env, tmp_path), (seconds, lines)
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        "Error: NetSuite refused the credentials NETSUITE_AUTH_FLOW=tba (NETSUITE_ACCOUNT_ID, "
        "NETSUITE_CONSUMER_KEY, NETSUITE_CONSUMER_SECRET, NETSUITE_TOKEN_ID, NETSUITE_TOKEN_SECRET)"
        f" at {env['NETSUITE_BASE_URL']}: 401 INVALID_LOGIN"
    )
    assert _netsuite_refusals(sandbox) == before + 1  # asked once, never retried
    assert_no_secret(proc.stdout + proc.stderr, env)


def test_a_key_the_connected_app_does_not_know_is_one_line(env, tmp_path):
    other = tmp_path / "other_key.pem"
    other.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    proc, seconds = run_o2c({**env, "SALESFORCE_PRIVATE_KEY_FILE": str(other)}, tmp_path)
    lines = error_lines(proc)
    assert proc.returncode == 1 and seconds < fail_fast_limit(env, tmp_path) and len(lines) == 1, (
        lines
    )
    assert lines[0].startswith(
        "Error: Salesforce refused the credentials SALESFORCE_AUTH_FLOW=jwt (SALESFORCE_CLIENT_ID,"
        " SALESFORCE_USERNAME, SALESFORCE_PRIVATE_KEY_FILE)"
    )
    assert other.read_text().splitlines()[1] not in proc.stdout + proc.stderr


@pytest.fixture
def bad_files(tmp_path) -> dict[str, Path]:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----\n")
    public = tmp_path / "public.pem"
    public.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    config = tmp_path / "o2c.yaml"
    config.write_text("sync:\n  company_name_max: -5\n")
    return {"garbage": garbage, "public": public, "config": config}


MALFORMED = [
    ("NETSUITE_BASE_URL", "https://127.0.0.1:99999",
     "Error: NETSUITE_BASE_URL has a bad port (Port out of range 0-65535), not 'https://127.0.0.1:99999'"),
    ("SALESFORCE_LOGIN_URL", "http://login.salesforce.com",
     "Error: SALESFORCE_LOGIN_URL must be an https:// URL, not 'http://login.salesforce.com'"),
    ("O2C_CHECKPOINT_URL", "postgress://user@127.0.0.1/test",
     "Error: O2C_CHECKPOINT_URL names an unknown database dialect/driver 'postgress' (e.g. "
     "sqlite:///path/checkpoints.sqlite or postgresql+psycopg2://user@host/db)"),
    ("SALESFORCE_PRIVATE_KEY_FILE", "{garbage}",
     "Error: SALESFORCE_PRIVATE_KEY_FILE ({garbage}) is not a PEM private key (BEGIN PRIVATE KEY ...)"),
    ("NETSUITE_PRIVATE_KEY_FILE", "{public}",
     "Error: NETSUITE_PRIVATE_KEY_FILE ({public}) holds a public key, not a private key: give the "
     "PEM private key the certificate was made from"),
    ("NETSUITE_READ_TIMEOUT_S", "soon", "Error: NETSUITE_READ_TIMEOUT_S must be a positive number, not 'soon'"),
    ("NETSUITE_AUTH_FLOW", "oauth2", "Error: NETSUITE_AUTH_FLOW must be one of tba, oauth2_m2m, not 'oauth2'"),
    ("O2C_CONFIG", "{config}", "Error: {config}: sync.company_name_max: must be a positive integer, not -5"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "value", "wanted"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_setting_is_one_line_naming_it(env, tmp_path, bad_files, name, value, wanted):
    paths = {k: str(v) for k, v in bad_files.items()}
    proc, seconds = run_o2c({**env, name: value.format(**paths)}, tmp_path)
    assert proc.returncode == 1 and seconds < fail_fast_limit(env, tmp_path), (
        seconds,
        proc.stderr[-2000:],
    )
    assert error_lines(proc) == [wanted.format(**paths)]
    assert_no_secret(proc.stdout + proc.stderr, env)


def test_a_dagster_run_stops_before_its_first_step(env, tmp_path):
    """Runs launched by Dagster (UI, schedules, sensors, the dagster CLI) go through the
    definitions' executor, which runs the pre-flight for the systems the run needs."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    port = dead_port()
    stopped = {
        **env,
        "SALESFORCE_LOGIN_URL": f"https://127.0.0.1:{port}",
        "DAGSTER_HOME": str(home),
    }
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "dagster", "asset", "materialize", "-m",
         "o2c_pipeline.definitions", "--select", "salesforce/sf_accounts", "--partition", "2026-01-05"],
        env={**os.environ, **stopped}, cwd=tmp_path, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    seconds = time.monotonic() - started
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and seconds < 60, (seconds, output[-2000:])
    assert (
        f"pre-flight: Salesforce is unreachable at https://127.0.0.1:{port} (connection refused)"
        in output
    )
    assert "STEP_START" not in output and "NetSuite" not in output  # only what the run needs
    assert_no_secret(output, env)
