"""pytest fixtures for code tested against the sandbox: import them into a ``conftest.py``.

One sandbox per test session (per xdist worker) on ephemeral ports, plus private ones for tests
whose side effects must not reach the shared sandbox that other tests count calls on.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from o2c_sandbox.core import Knobs
from o2c_sandbox.runner import Sandbox


def start_sandbox(state_dir, **options) -> Sandbox:  # noqa: ANN001
    """A started small-scale sandbox on ephemeral ports (``options`` override the defaults)."""
    settings = {"scale": "small", "seed": 42, "sf_port": 0, "ns_port": 0, "knobs": Knobs()}
    return Sandbox(state_dir=state_dir, **{**settings, **options}).start()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory) -> Iterator[Sandbox]:  # noqa: ANN001
    """A running small-scale sandbox. Tests that change knobs get them restored afterwards."""
    box = start_sandbox(tmp_path_factory.mktemp("sandbox"))
    yield box
    box.stop()


@pytest.fixture
def private_sandbox(tmp_path_factory) -> Iterator[Sandbox]:  # noqa: ANN001
    """A sandbox of the test's own."""
    box = start_sandbox(tmp_path_factory.mktemp("private-sandbox"))
    yield box
    box.stop()


@pytest.fixture(scope="session")
def sandbox_env(sandbox) -> dict[str, str]:  # noqa: ANN001
    """The settings a client of the sandbox reads, pointing at the session's sandbox."""
    return sandbox.credentials()


@pytest.fixture(autouse=True)
def _restore_knobs(request) -> Iterator[None]:  # noqa: ANN001
    """Put back any knob a test changed on the shared sandbox."""
    if "sandbox" not in request.fixturenames:
        yield
        return
    box = request.getfixturevalue("sandbox")
    before = dict(vars(box.knobs))
    yield
    box.knobs.update(before)
