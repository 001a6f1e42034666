"""The first hour, as a new user lives it: ``make run`` on ports of their choosing with a private
state folder, then ``o2c status`` and ``o2c dlq list`` in the same checkout without exporting a
single setting; the graph is not red and nothing lands outside the state folder.

The history is narrowed to two weeks (``O2C_START_DATE``, as the README describes) so that the
whole first hour runs in the suite in about a minute."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from pathlib import Path

import dagster as dg
import pytest

from o2c_pipeline.entities import ENTITIES
from o2c_pipeline_tests.ops.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
HISTORY_DAYS = 14

#: settings a user of the sandbox never has to set
CREDENTIALS = re.compile(r"^(SALESFORCE_|NETSUITE_|O2C_(WAREHOUSE|CHECKPOINT_URL|SANDBOX_HOME)$)")


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not CREDENTIALS.match(k)}
    env.pop("DAGSTER_HOME", None)
    return {**env, "O2C_HOME": str(home), **extra}


def _git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):  # noqa: ANN201
    home = tmp_path_factory.mktemp("first-hour") / ".o2c"
    ports = {"O2C_SF_PORT": str(free_port()), "O2C_NS_PORT": str(free_port())}
    before = _git_status()
    start = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=HISTORY_DAYS)
    env = _env(home, **ports, O2C_START_DATE=start.isoformat())
    try:
        proc = subprocess.run(
            ["make", "run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500
        )
        yield home, ports, proc, before
    finally:
        subprocess.run(["make", "sandbox-stop"], cwd=ROOT, env=env, capture_output=True)


def test_make_run_uses_the_ports_and_state_folder_given(first_run) -> None:
    home, ports, proc, _ = first_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert f"https://127.0.0.1:{ports['O2C_SF_PORT']}" in out + proc.stderr
    assert f"https://127.0.0.1:{ports['O2C_NS_PORT']}" in out + proc.stderr
    header = next(line for line in out.splitlines() if "fetch s" in line)
    assert "wall s" in header and "api calls" in header
    assert re.search(r"o2c_sync \S+\.\.\S+: \d+\.\d+s wall", out)
    assert (home / "warehouse.duckdb").is_file() and (home / "checkpoints.sqlite").is_file()
    assert (home / "dagster_home" / "dagster.yaml").is_file()
    for warning in ("BetaWarning", "PreviewWarning", "DeprecationWarning"):  # Dagster's, ours
        assert warning not in proc.stdout + proc.stderr, proc.stderr[-2000:]


def test_make_ui_takes_its_port(first_run) -> None:
    home, *_ = first_run
    dry = subprocess.run(
        ["make", "-n", "ui"],
        cwd=ROOT,
        env=_env(home, O2C_UI_PORT="3999"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "-p 3999" in dry


def _o2c(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / ".venv/bin/o2c"), *args],
        cwd=ROOT / "o2c_pipeline",  # anywhere in the checkout
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_status_reads_what_make_run_wrote(first_run) -> None:
    home, *_ = first_run
    proc = _o2c(home, "status", "--as-json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    marks = {row["entity"]: row for row in report["watermarks"]}
    assert set(marks) == {e.table for e in ENTITIES}
    assert not [t for t, row in marks.items() if row["advanced"] == "never loaded"]
    assert report["runs"] and report["runs"][0]["status"] == "SUCCESS"
    assert sum(g["entries"] for g in report["dead_letter_queue"]) > 0
    text = _o2c(home, "status").stdout
    assert "Watermarks" in text and "salesforce.orders" in text


def test_dlq_list_has_a_header_and_every_entry_with_its_reason(first_run) -> None:
    home, *_ = first_run
    status = json.loads(_o2c(home, "status", "--as-json").stdout)
    expected = sum(g["entries"] for g in status["dead_letter_queue"])
    proc = _o2c(home, "dlq", "list")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines[0].split()[:3] == ["flow", "source_id", "error_code"] and "reason" in lines[0]
    rows = [line for line in lines[2:] if not set(line.strip()) <= {"─"}]
    assert len(rows) == expected and f"{expected} open entries" in proc.stderr
    assert all(len(row.split()) > 6 for row in rows)  # a reason on every row
    bad = _o2c(home, "dlq", "list", "--flow", "nosuchflow")
    assert bad.returncode == 2 and "orders" in bad.stderr and "nosuchflow" in bad.stderr


def test_a_clean_run_leaves_no_failed_check_and_nothing_outside_the_state_folder(
    first_run, monkeypatch
) -> None:
    home, _, proc, before = first_run
    assert proc.returncode == 0
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        records = instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, limit=10_000
        ).records
    evaluations = [r.event_log_entry.dagster_event.event_specific_data for r in records]
    failed = [
        (e.asset_key.to_user_string(), e.check_name)
        for e in evaluations
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    assert evaluations and not failed
    assert _git_status() == before
