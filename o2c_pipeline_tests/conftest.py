"""Shared fixtures: the sandbox's (one per test session and xdist worker, on ephemeral ports,
from :mod:`o2c_sandbox.testing`) and the pipeline's environment over it."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Pipeline modules read the configuration file when they are imported: the suite runs on the
# defaults, whatever o2c.yaml a developer keeps in the project root.
os.environ.setdefault("O2C_CONFIG", str(Path(__file__).with_name("defaults.yaml")))
# ... and never in the checkout's .o2c/ (the CLI's default state, where a developer's sandbox may
# be running: its credentials must not stand in for settings a test leaves unset).
os.environ.setdefault("O2C_HOME", tempfile.mkdtemp(prefix="o2c-home-"))


@pytest.fixture
def private_pipeline_env(private_sandbox, tmp_path, monkeypatch) -> dict[str, str]:
    """Like ``pipeline_env``, over ``private_sandbox``."""
    env = dict(private_sandbox.credentials())
    env["O2C_WAREHOUSE"] = str(tmp_path / "warehouse.duckdb")
    env["O2C_CHECKPOINT_URL"] = f"sqlite:///{tmp_path / 'checkpoints.sqlite'}"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def pipeline_env(sandbox_env, tmp_path, monkeypatch) -> dict[str, str]:
    """Process environment for a pipeline run: sandbox credentials plus a fresh warehouse."""
    env = dict(sandbox_env)
    env["O2C_WAREHOUSE"] = str(tmp_path / "warehouse.duckdb")
    env["O2C_CHECKPOINT_URL"] = f"sqlite:///{tmp_path / 'checkpoints.sqlite'}"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


# -- the warehouse on both backends ----------------------------------------------------------------

POSTGRES_ADMIN_DSN = os.environ.get(
    "O2C_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


class PostgresServer:
    """The shared test server: hands out fresh databases and drops them at the session's end."""

    def __init__(self, admin) -> None:
        self.admin = admin
        self.created: list[str] = []

    def database(self) -> str:
        """A new empty database; its ``postgresql+psycopg2://`` URL."""
        name = f"o2c_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with self.admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace(
            "postgresql://", "postgresql+psycopg2://", 1
        )
        return f"{base}/{name}"

    def drop_all(self) -> None:
        with self.admin.cursor() as cur:
            for name in self.created:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server on 127.0.0.1:5432; the test is skipped, saying so, when none answers."""
    import psycopg2

    try:
        admin = psycopg2.connect(POSTGRES_ADMIN_DSN, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server answers at {POSTGRES_ADMIN_DSN}: {exc}".strip())
    admin.autocommit = True
    server = PostgresServer(admin)
    try:
        yield server
    finally:
        server.drop_all()
        admin.close()


BACKENDS = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def warehouse_location(request, tmp_path) -> str:
    """An empty warehouse on each backend: a DuckDB file, then a fresh PostgreSQL database."""
    if request.param == "duckdb":
        return str(tmp_path / "warehouse.duckdb")
    return request.getfixturevalue("postgres_server").database()
