"""A Dagster run whose process is killed alone (SIGKILL, as the OOM killer or a timeout does)
leaves no forkserver and no step process behind: they die with it within seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from o2c_pipeline.partitions import open_partition_key

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's"
)


def descendants(pid: int, *, grandchildren: bool = False) -> set[int]:
    """Every live process below ``pid`` (read from /proc); only those below its children with
    ``grandchildren`` (the steps, forked by the forkserver)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    if grandchildren:
        found -= set(children.get(pid, []))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "?"


def alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.add(pid)
    return out


def test_killing_the_run_process_leaves_no_step_process(
    private_pipeline_env, private_sandbox, tmp_path
):
    private_sandbox.knobs.update({"latency_ms": 1500})  # steps stay busy long enough to be seen
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, **private_pipeline_env, "DAGSTER_HOME": str(home), "O2C_CONFIG": ""}
    env["O2C_START_DATE"] = open_partition_key()
    run = subprocess.Popen(
        [sys.executable, "-W", "ignore", "-m", "dagster", "asset", "materialize", "-m",
         "o2c_pipeline.definitions", "--select", "salesforce/sf_accounts,netsuite/ns_customers",
         "--partition", open_partition_key()],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        steps: set[int] = set()
        while time.monotonic() < deadline and not steps:  # step processes, forked and running
            steps = descendants(run.pid, grandchildren=True)
            assert run.poll() is None, "the run ended before its steps could be seen"
            time.sleep(0.2)
        assert steps, "no step processes appeared"
        time.sleep(1.0)
        seen |= descendants(run.pid)
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        deadline = time.monotonic() + 5
        while alive(seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = {pid: _cmdline(pid) for pid in alive(seen)}
        assert survivors == {}, "processes outlived the killed run"
    finally:
        for pid in alive(seen | descendants(run.pid)):  # never leave them to the machine
            os.kill(pid, signal.SIGKILL)
        if run.poll() is None:
            run.kill()
