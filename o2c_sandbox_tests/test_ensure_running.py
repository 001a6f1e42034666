"""``make sandbox``: a running sandbox is recognised by its state folder and the ports it really
listens on, so checkouts side by side each run their own."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from o2c_sandbox import ensure_running


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_ensure(state_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "o2c_sandbox.ensure_running", "--state-dir", str(state_dir), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture
def two_checkouts(tmp_path):
    """Two sandboxes started the way ``make sandbox`` starts them, on ports of the test's choice."""
    started = []
    ports = {}
    for name in ("one", "two"):
        state = tmp_path / name / ".o2c" / "sandbox"
        ports[name] = (free_port(), free_port())
        done = run_ensure(state, O2C_SF_PORT=str(ports[name][0]), O2C_NS_PORT=str(ports[name][1]))
        assert done.returncode == 0, done.stdout + done.stderr
        started.append(state)
    yield started, ports
    for state in started:
        run_ensure(state, "--stop")


def test_each_checkout_runs_and_recognises_its_own_sandbox(two_checkouts, tmp_path) -> None:
    (one, two), ports = two_checkouts
    for state, name in ((one, "one"), (two, "two")):
        server = ensure_running.running_server(state)
        assert server is not None
        assert server["env"]["SALESFORCE_LOGIN_URL"].endswith(f":{ports[name][0]}")
        assert server["env"]["NETSUITE_BASE_URL"].endswith(f":{ports[name][1]}")
        again = run_ensure(state)  # a second `make sandbox` finds it and starts nothing
        assert again.returncode == 0 and "already running" in again.stdout
    # a state folder holding another checkout's server.json is not mistaken for a running sandbox
    impostor = tmp_path / "three"
    impostor.mkdir()
    shutil.copy(one / "server.json", impostor / "server.json")
    assert ensure_running.running_server(impostor) is None


def test_a_taken_default_port_gives_way_to_a_free_one(monkeypatch) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        taken = holder.getsockname()[1]
        monkeypatch.delenv("O2C_SF_PORT", raising=False)
        port, note = ensure_running.choose_port("O2C_SF_PORT", taken)
        assert port == 0 and note and str(taken) in note
        monkeypatch.setenv("O2C_SF_PORT", "50123")  # asked for: used as asked
        assert ensure_running.choose_port("O2C_SF_PORT", taken) == (50123, None)


def test_stop_ends_only_the_named_checkouts_sandbox(two_checkouts) -> None:
    (one, two), _ = two_checkouts
    done = run_ensure(one, "--stop")
    assert done.returncode == 0 and "stopped" in done.stdout
    assert ensure_running.running_server(one) is None
    assert ensure_running.running_server(two) is not None
    assert json.loads((two / "server.json").read_text())["pid"]
