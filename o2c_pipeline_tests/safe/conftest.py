"""A private small world per test: the plan, the modes, the SLAs and the formula refresh count
the sandbox's calls and change its records, which the shared sandbox's users must not see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests

from o2c_pipeline.cli.run import execute
from o2c_pipeline.definitions import build_definitions
from o2c_pipeline.partitions import open_partition_key
from o2c_pipeline.warehouse import Warehouse
from o2c_pipeline_tests.sync.test_full_cycle import _private_world, _writes
from o2c_sandbox.core import Knobs
from o2c_sandbox.runner import Sandbox

HISTORY_DAYS = 150


@dataclass
class World:
    box: Sandbox
    env: dict[str, str]

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.env["O2C_WAREHOUSE"])

    def counters(self) -> dict[str, Any]:
        return requests.get(
            f"{self.box.sf_url}/__sandbox__/counters", verify=str(self.box.ca_path), timeout=10
        ).json()

    def writes(self) -> int:
        return _writes(self.counters())

    def advance(self, steps: int) -> dict[str, Any]:
        return requests.post(
            f"{self.box.sf_url}/__sandbox__/advance",
            json={"steps": steps},
            verify=str(self.box.ca_path),
            timeout=120,
        ).json()

    def cycle(
        self, *, days: int = HISTORY_DAYS, dry_run: bool = False, job: str = "o2c_sync"
    ) -> dg.ExecuteInProcessResult:
        from o2c_pipeline.cli.sync import plan_run_config

        defs = build_definitions(self.env)
        job_def = defs.resolve_job_def(job)
        today = open_partition_key()
        start = (dt.date.fromisoformat(today) - dt.timedelta(days=days)).isoformat()
        result = execute(
            job_def,
            dg.DagsterInstance.ephemeral(),
            start=start,
            end=today,
            run_config=plan_run_config(job_def) if dry_run else None,
            progress=False,
        )
        assert result.success
        return result


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    # a quicker NetSuite than the default governance: these tests are about what is written
    knobs = Knobs(ns_rate_limit=200, ns_concurrency_limit=10)
    for private in _private_world(tmp_path, knobs):
        yield World(private.box, private.env)
