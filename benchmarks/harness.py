"""What every benchmark shares: command-line flags, the sandbox under test, its admin API, the
pipeline worker process, and the figures table / JSON results.

The sandbox runs in the benchmark's own process (or is a running one, attached to); the pipeline
runs in a separate worker process (:mod:`pipeline_worker`) so its peak RSS is the pipeline's alone
and the two never share a GIL, as in a real deployment.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from o2c_pipeline.cli.tables import text_table
from o2c_sandbox.core import ADMIN_PREFIX, Knobs
from o2c_sandbox.runner import Sandbox

BENCH_DIR = Path(__file__).resolve().parent
STATE_ROOT = BENCH_DIR / ".state"
RESULTS_PATH = BENCH_DIR / "results" / "latest.json"
WORKER = BENCH_DIR / "pipeline_worker.py"
BUILD_RECORD = "benchmark_build.json"  # written beside a world this harness built and timed


# -- flags -------------------------------------------------------------------------------------
def benchmark_parser(
    doc: str,
    *,
    scale: str = "large",
    workdir: Path | None = None,
    workdir_help: str = "",
) -> argparse.ArgumentParser:
    """A benchmark's parser (described by the first line of its module ``doc``) with the flags
    every benchmark script takes (``run_all.py`` passes them through), ``--scale`` defaulting to
    ``scale``; with ``workdir``, also ``--workdir`` (where the script keeps what it measures)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--scale", default=scale, choices=["small", "medium", "large"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="Sandbox state (world, keys); default benchmarks/.state/<scale>-<seed>, kept across runs.",
    )
    parser.add_argument("--rebuild", action="store_true", help="Build (and time) the world afresh.")
    parser.add_argument(
        "--latency-ms", type=float, default=100.0, help="Sandbox latency per request."
    )
    parser.add_argument(
        "--ns-concurrency", type=int, default=5, help="NetSuite account concurrency limit."
    )
    parser.add_argument(
        "--ns-rate", type=int, default=10, help="NetSuite account requests per second."
    )
    parser.add_argument(
        "--attach",
        type=Path,
        default=None,
        metavar="STATE_DIR",
        help="Use the sandbox already serving STATE_DIR (`o2c sandbox serve`) instead of starting one.",
    )
    parser.add_argument(
        "--results", type=Path, default=RESULTS_PATH, help="JSON results file to update."
    )
    parser.add_argument(
        "--pipeline-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="Extra setting for the pipeline process, e.g. NETSUITE_RATE_LIMIT=10 (repeatable).",
    )
    if workdir is not None:
        parser.add_argument("--workdir", type=Path, default=workdir, help=workdir_help)
    return parser


# -- the sandbox under test --------------------------------------------------------------------
@dataclass
class SandboxUnderTest:
    """Credentials and admin access for the sandbox being measured, however it was started."""

    env: dict[str, str]
    state_dir: Path
    box: Sandbox | None = None  # None when attached to a running sandbox
    build_seconds: float | None = None  # the world build this harness timed, if any
    build_measured_now: bool = False

    @property
    def sf_url(self) -> str:
        return self.env["SALESFORCE_LOGIN_URL"]

    @property
    def ca_bundle(self) -> str:
        return self.env["O2C_CA_BUNDLE"]

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = requests.request(
            method,
            f"{self.sf_url}{ADMIN_PREFIX}{path}",
            json=body,
            verify=self.ca_bundle,
            timeout=120,
        )
        response.raise_for_status()
        return response.json()

    def set_knobs(self, **knobs: Any) -> dict[str, Any]:
        return self.admin("PATCH", "knobs", knobs)

    def counters(self) -> dict[str, Any]:
        return self.admin("GET", "counters")

    def reset_counters(self) -> None:
        self.admin("POST", "counters/reset")

    def stats(self) -> dict[str, dict[str, int]]:
        return self.admin("GET", "stats")

    def world_history_start(self) -> dt.datetime:
        """The start of the world's history (its anchor minus the history it spans), without an
        API call: from the world's own record when the sandbox runs in this process, else a
        history as long as any world holds."""
        from o2c_sandbox.world import HISTORY_DAYS

        anchor = self.box.ctx.store.get_meta("anchor") if self.box and self.box.ctx else None
        now = dt.datetime.fromisoformat(anchor) if anchor else dt.datetime.now(dt.UTC)
        return now.replace(tzinfo=None) - dt.timedelta(days=HISTORY_DAYS + 1)


@contextmanager
def sandbox_under_test(args: argparse.Namespace) -> Iterator[SandboxUnderTest]:
    """Start the sandbox the flags describe (building and timing its world only if needed), or
    attach to a running one; the knobs the flags set are applied either way."""
    knobs = {
        "latency_ms": args.latency_ms,
        "jitter_ms": 0.0,
        "ns_concurrency_limit": args.ns_concurrency,
        "ns_rate_limit": args.ns_rate,
    }
    if args.attach is not None:
        state_dir = args.attach.resolve()
        env = json.loads((state_dir / "server.json").read_text())["env"]
        sut = SandboxUnderTest(
            env=env, state_dir=state_dir, build_seconds=_recorded_build(state_dir)
        )
        sut.set_knobs(**knobs)
        yield sut
        return
    state_dir = (args.state_dir or STATE_ROOT / f"{args.scale}-{args.seed}").resolve()
    world_existed = (state_dir / "world.duckdb").exists() and not args.rebuild
    started = time.perf_counter()
    box = Sandbox(
        state_dir=state_dir,
        scale=args.scale,
        seed=args.seed,
        sf_port=0,
        ns_port=0,
        knobs=Knobs(**knobs),
        rebuild=args.rebuild,
    )
    box.start()
    sut = SandboxUnderTest(env=box.credentials(), state_dir=state_dir, box=box)
    if world_existed:
        sut.build_seconds = _recorded_build(state_dir)
    else:
        sut.build_seconds = time.perf_counter() - started
        sut.build_measured_now = True
        (state_dir / BUILD_RECORD).write_text(
            json.dumps(
                {
                    "seconds": sut.build_seconds,
                    "scale": args.scale,
                    "seed": args.seed,
                    "at": dt.datetime.now(dt.UTC).isoformat(),
                    "cpus": os.cpu_count(),
                    "load_average": os.getloadavg(),
                },
                indent=2,
            )
        )
    try:
        yield sut
    finally:
        box.stop()


def _recorded_build(state_dir: Path) -> float | None:
    record = state_dir / BUILD_RECORD
    return json.loads(record.read_text())["seconds"] if record.exists() else None


# -- a process, timed whole -------------------------------------------------------------------
@dataclass
class TimedProcess:
    """A process that ran to its end: how long it took and what the sandbox counted over it."""

    seconds: float  # its whole life: interpreter start to exit (what a user waits for)
    counters: dict[str, Any]  # the sandbox's counters, read after it ended
    stdout: str


def timed_process(
    sut: SandboxUnderTest,
    command: list[str],
    *,
    env: dict[str, str],
    cwd: Path | None = None,
    stdin: str | None = None,
    log: Path | None = None,
    reset_counters: bool = True,
) -> TimedProcess:
    """Run ``command`` to its end, timed whole, with the sandbox's counters over it: reset just
    before it starts (``reset_counters=False``: the process resets them itself) and read after.
    Its stdout is kept; its stderr goes to ``log`` if given. A failed process ends the benchmark,
    showing the end of its output or naming its log."""
    if reset_counters:
        sut.reset_counters()
    with log.open("w") if log else nullcontext(subprocess.PIPE) as stderr:
        started = time.perf_counter()
        done = subprocess.run(
            command, input=stdin, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        seconds = time.perf_counter() - started
    counters = sut.counters()
    if done.returncode != 0:
        output = f"see {log}" if log else f"\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}); {output}")
    return TimedProcess(seconds=seconds, counters=counters, stdout=done.stdout)


# -- the pipeline, in its own process ----------------------------------------------------------
@dataclass
class PipelineRun:
    """What :mod:`pipeline_worker` reports about one Dagster run."""

    success: bool
    seconds: float  # wall time of the run itself (Dagster in-process execution)
    max_rss_bytes: int
    start: str
    end: str
    assets: dict[str, dict[str, Any]]  # table -> materialization metadata
    counters: dict[str, Any] = field(default_factory=dict)  # sandbox counters over the run
    log: str = ""
    load_average: tuple[float, float] = (0.0, 0.0)  # host 1-minute load at start and end (noise!)
    process_seconds: float = 0.0  # the worker process's whole life: interpreter start to exit
    cpu_seconds: float = 0.0  # CPU time of the worker process (user + system), its whole life

    def of(self, system: str) -> dict[str, dict[str, Any]]:
        return {t: m for t, m in self.assets.items() if t.startswith(f"{system}.")}


def run_pipeline(
    sut: SandboxUnderTest,
    warehouse_dir: Path,
    *,
    label: str,
    entities: list[str],
    start: str | None = None,
    end: str | None = None,
    config: dict[str, Any] | None = None,
    extra_env: list[str] | None = None,
) -> PipelineRun:
    """Materialize ``entities`` (warehouse table names) for ``[start, end]`` as one run in a
    worker process (``start=None``: the sources' whole history through today); the sandbox's
    counters are reset just before the run starts and read after it."""
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}  # ephemeral instance
    env |= sut.env | {
        "O2C_WAREHOUSE": str(warehouse_dir / "warehouse.duckdb"),
        "O2C_CHECKPOINT_URL": f"sqlite:///{warehouse_dir / 'checkpoints.sqlite'}",
    }
    env |= dict(pair.split("=", 1) for pair in extra_env or [])
    request = {
        "entities": entities,
        "start": start,
        "end": end,
        "config": config or {},
        "reset_counters_url": f"{sut.sf_url}{ADMIN_PREFIX}counters/reset",
    }
    log_path = warehouse_dir / f"{label}.log"
    load_before = os.getloadavg()[0]
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        done = timed_process(
            sut,
            [sys.executable, str(WORKER), "--output", out.name],
            env=env,
            stdin=json.dumps(request),
            log=log_path,
            reset_counters=False,  # the worker resets them once the run is planned
        )
        answer = json.loads(Path(out.name).read_text())
    return PipelineRun(
        **answer,
        counters=done.counters,
        log=str(log_path),
        load_average=(round(load_before, 2), round(os.getloadavg()[0], 2)),
        process_seconds=done.seconds,
    )


# -- figures -----------------------------------------------------------------------------------
@dataclass
class Figure:
    """One measured figure, with the target it is judged against (if any)."""

    name: str
    value: Any
    unit: str = ""
    target: str = ""
    passed: bool | None = None  # None: informative, no target
    note: str = ""


@dataclass
class Report:
    """A benchmark's figures, printed as a table and saved as one section of the results JSON."""

    section: str
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(
        self,
        name: str,
        value: Any,
        unit: str = "",
        *,
        target: str = "",
        passed: bool | None = None,
        note: str = "",
    ) -> Figure:
        figure = Figure(name, value, unit, target, passed, note)
        self.figures.append(figure)
        return figure

    @property
    def passed(self) -> bool:
        return all(f.passed is not False for f in self.figures)

    def table(self) -> str:
        rows = [("figure", "value", "target", "result")]
        for f in self.figures:
            verdict = {True: "PASS", False: "FAIL", None: ""}[f.passed]
            rows.append((f.name, f"{_fmt(f.value)} {f.unit}".strip(), f.target, verdict))
        lines = text_table(rows, right={1}, rules_before={1})
        notes = [f"  * {f.name}: {f.note}" for f in self.figures if f.note]
        return "\n".join([f"== {self.section} ==", *lines, *notes])

    def save(self, path: Path, context: dict[str, Any]) -> None:
        """Merge this section into ``path`` (other sections stay as they were)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        results = json.loads(path.read_text()) if path.exists() else {}
        results[self.section] = {
            "passed": self.passed,
            "context": context,
            "figures": [asdict(f) for f in self.figures],
            "details": self.details,
        }
        path.write_text(json.dumps(results, indent=2, default=str) + "\n")


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def context_of(args: argparse.Namespace, sut: SandboxUnderTest) -> dict[str, Any]:
    """The conditions a result was measured under, saved beside it."""
    return {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "scale": args.scale,
        "seed": args.seed,
        "latency_ms": args.latency_ms,
        "ns_concurrency_limit": args.ns_concurrency,
        "ns_rate_limit": args.ns_rate,
        "world": sut.stats(),
        "host": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
    }


def measure(
    args: argparse.Namespace,
    section: str,
    body: Callable[[argparse.Namespace, SandboxUnderTest, Report], None],
) -> int:
    """A benchmark from start to end: ``body`` adds its figures to the report of ``section``
    against the sandbox the flags describe, then the report is finished (printed and saved);
    the process exit status (0: all targets met)."""
    report = Report(section)
    with sandbox_under_test(args) as sut:
        body(args, sut, report)
        return finish(report, args, sut)


def finish(report: Report, args: argparse.Namespace, sut: SandboxUnderTest) -> int:
    """Print the table, save the section, and give the process exit status (0: all targets met)."""
    print(report.table(), flush=True)
    report.save(args.results, context_of(args, sut))
    print(f"(saved to {args.results})", flush=True)
    return 0 if report.passed else 1
