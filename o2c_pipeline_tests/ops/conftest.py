"""Fixtures for running the pipeline the way users do: a Dagster instance on PostgreSQL and a real
``dagster dev`` (webserver + daemon) on a free port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import requests

from o2c_pipeline.definitions import build_definitions

REPO = Path(__file__).resolve().parents[2]
POSTGRES_ADMIN_DSN = os.environ.get(
    "O2C_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
CHROMIUM = os.environ.get("O2C_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class PostgresDatabase:
    """A throw-away database on the shared server; ``sqlalchemy_url`` names the psycopg2 driver."""

    name: str
    url: str

    @property
    def sqlalchemy_url(self) -> str:
        return self.url.replace("postgresql://", "postgresql+psycopg2://", 1)


@pytest.fixture
def postgres_database() -> Iterator[PostgresDatabase]:
    """A fresh database per test so parallel workers and reruns never share Dagster tables."""
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(POSTGRES_ADMIN_DSN, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server answers at {POSTGRES_ADMIN_DSN}: {exc}".strip())
    admin.autocommit = True
    name = f"o2c_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0]
    try:
        yield PostgresDatabase(name=name, url=f"{base}/{name}")
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def postgres_dagster_home(tmp_path, postgres_database, monkeypatch) -> Path:
    """A DAGSTER_HOME whose dagster.yaml is deploy/dagster.postgres.yaml, pointed at the test DB."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.postgres.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", postgres_database.sqlalchemy_url)
    return home


def free_port() -> int:
    """A port nothing listens on right now (dagster-webserver cannot bind port 0 and report it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class DagsterDev:
    """A running ``dagster dev``: its base URL and a GraphQL helper."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = requests.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


LOCATION_STATUS = """
{ workspaceOrError { ... on Workspace { locationEntries { name
    locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


@pytest.fixture
def dagster_dev(private_pipeline_env, tmp_path) -> Iterator[DagsterDev]:
    """``dagster dev`` (webserver and daemon) on a free port with a temp DAGSTER_HOME, serving the
    project's workspace with the test's sandbox credentials, torn down with its process group."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    if (REPO / "deploy" / "dagster.yaml").exists():
        shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    # a private sandbox: the change sensors run in `dagster dev` and launch runs of their own
    env = {**os.environ, **private_pipeline_env, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "dagster_dev.log"
    dagster = Path(sys.executable).with_name("dagster")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(dagster),
                "dev",
                "-w",
                str(REPO / "workspace.yaml"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: webserver, daemon and code server
        )
    dev = DagsterDev(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        _wait_until_loaded(dev, timeout_s=120)
        yield dev
    finally:
        _stop(process)


def _wait_until_loaded(dev: DagsterDev, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        if dev.process.poll() is not None:
            raise AssertionError(
                f"dagster dev exited with {dev.process.returncode}:\n{dev.log_tail()}"
            )
        try:
            entries = dev.graphql(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
        except (requests.RequestException, AssertionError, KeyError) as exc:
            last = repr(exc)
        else:
            states = [e["locationOrLoadError"] for e in entries]
            errors = [s for s in states if s and s["__typename"] == "PythonError"]
            if errors:
                raise AssertionError(f"code location failed to load: {errors[0]['message']}")
            if states and all(s and s["__typename"] == "RepositoryLocation" for s in states):
                return
            last = f"locations: {states}"
        time.sleep(0.5)
    raise AssertionError(f"dagster dev not ready after {timeout_s}s ({last}):\n{dev.log_tail()}")


def _stop(process: subprocess.Popen) -> None:
    """Stop the process group we started: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


@pytest.fixture
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (Debian: apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
def defs(pipeline_env) -> dg.Definitions:
    """The project's Definitions over the test's sandbox settings."""
    return build_definitions(pipeline_env)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A throwaway Dagster instance."""
    with dg.instance_for_test() as instance:
        yield instance
