"""Shared fixtures: the sandbox's (one per test session and xdist worker, on ephemeral ports,
from :mod:`o2c_sandbox.testing`) and the pipeline's environment over it."""

from __future__ import annotations

import os
import tempfile
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
