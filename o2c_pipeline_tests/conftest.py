"""Shared fixtures: one sandbox per test session (per xdist worker), on ephemeral ports."""

from __future__ import annotations

import pytest

from o2c_pipeline.sandbox.core import Knobs
from o2c_pipeline.sandbox.runner import Sandbox


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory) -> Sandbox:
    """A running small-scale sandbox. Tests that change knobs must restore them."""
    state = tmp_path_factory.mktemp("sandbox")
    box = Sandbox(state_dir=state, scale="small", seed=42, sf_port=0, ns_port=0, knobs=Knobs())
    box.start()
    yield box
    box.stop()


@pytest.fixture
def private_sandbox(tmp_path_factory) -> Sandbox:
    """A sandbox of the test's own, for tests whose side effects (sensors launching runs, bulk
    writes) must not reach the shared session sandbox other tests count calls on."""
    box = Sandbox(state_dir=tmp_path_factory.mktemp("private-sandbox"), scale="small", seed=42,
                  sf_port=0, ns_port=0, knobs=Knobs())
    box.start()
    yield box
    box.stop()


@pytest.fixture
def private_pipeline_env(private_sandbox, tmp_path, monkeypatch) -> dict[str, str]:
    """Like ``pipeline_env``, over ``private_sandbox``."""
    env = dict(private_sandbox.credentials())
    env["O2C_WAREHOUSE"] = str(tmp_path / "warehouse.duckdb")
    env["O2C_CHECKPOINT_URL"] = f"sqlite:///{tmp_path / 'checkpoints.sqlite'}"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(scope="session")
def sandbox_env(sandbox) -> dict[str, str]:
    """The settings the pipeline reads, pointing at the session's sandbox."""
    return sandbox.credentials()


@pytest.fixture
def pipeline_env(sandbox_env, tmp_path, monkeypatch) -> dict[str, str]:
    """Process environment for a pipeline run: sandbox credentials plus a fresh warehouse."""
    env = dict(sandbox_env)
    env["O2C_WAREHOUSE"] = str(tmp_path / "warehouse.duckdb")
    env["O2C_CHECKPOINT_URL"] = f"sqlite:///{tmp_path / 'checkpoints.sqlite'}"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(autouse=True)
def _restore_knobs(request):
    """Put back any knob a test changed on the shared sandbox."""
    if "sandbox" not in request.fixturenames:
        yield
        return
    box = request.getfixturevalue("sandbox")
    before = dict(vars(box.knobs))
    yield
    box.knobs.update(before)
