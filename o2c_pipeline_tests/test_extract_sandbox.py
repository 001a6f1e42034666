"""Delta loads against the sandbox over real HTTPS, through the real clients.

One range load per module (the last weeks, as one run) is shared by the tests that follow it; each
test states what it changes. The whole history (four months, one run) is the slow test at the end.
Runs here select the extraction assets without their checks (those are tested on their own).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests

from o2c_pipeline.assets import EXTRACT_ASSETS
from o2c_pipeline.assets.partition_figures import merged_metadata
from o2c_pipeline.cli.run import earliest_partition, execute, extract_run_config
from o2c_pipeline.definitions import build_resources
from o2c_pipeline.entities import ENTITIES, NETSUITE_ENTITIES, SALESFORCE_ENTITIES, Entity, entity
from o2c_pipeline.extract.windows import parse_stamp
from o2c_pipeline.jobs import EXTRACT_TAG
from o2c_pipeline.keys import table_key
from o2c_pipeline.netsuite.queries import cursor_expr as _cursor_expr
from o2c_pipeline.netsuite.queries import key_expr as _key_expr
from o2c_pipeline.netsuite.queries import literal as suiteql_literal
from o2c_pipeline.partitions import open_partition_key
from o2c_pipeline.salesforce.queries import literal as soql_literal
from o2c_pipeline.warehouse import Warehouse
from o2c_sandbox.core import Knobs
from o2c_sandbox.runner import Sandbox

TODAY = open_partition_key()
RANGE_DAYS = 21
EXTRACT_ONLY = dg.define_asset_job(
    "extract_under_test",
    selection=dg.AssetSelection.tag(*next(iter(EXTRACT_TAG.items()))).without_checks(),
)
SALESFORCE_ONLY = dg.define_asset_job(
    "salesforce_under_test",
    selection=dg.AssetSelection.groups("salesforce").without_checks(),
)


class Pipeline:
    """The extraction job over one warehouse, plus the ground truth from the sandbox."""

    def __init__(
        self,
        env: dict[str, str],
        since: dt.datetime | None = None,
        job: Any = EXTRACT_ONLY,
        checkpoints: Any = None,
    ) -> None:
        self.env = env
        self.since = since  # compare with the sandbox from here on (what the loaded range covers)
        resources = build_resources()
        resources["salesforce"] = resources["salesforce"].model_copy(
            update={"bulk_poll_interval_s": 0.2}
        )
        if checkpoints is not None:
            resources["checkpoints"] = checkpoints
        defs = dg.Definitions(assets=EXTRACT_ASSETS, jobs=[job], resources=resources)
        self.job = defs.resolve_job_def(job.name)
        self.instance = dg.DagsterInstance.ephemeral()
        self.warehouse = Warehouse(env["O2C_WAREHOUSE"])

    def run(self, start: str, end: str | None = None, **config: Any) -> dg.ExecuteInProcessResult:
        result = execute(
            self.job,
            self.instance,
            start=start,
            end=end or start,
            run_config=extract_run_config(self.job, **config) if config else None,
            progress=False,
        )
        assert result.success
        return result

    def metadata(self, result: dg.ExecuteInProcessResult, ent: Entity) -> dict[str, Any]:
        events = [
            e
            for e in result.get_asset_materialization_events()
            if e.asset_key == table_key(ent.table)
        ]
        return merged_metadata(events)[ent.table]  # a range: the days' figures summed

    def current(self, ent: Entity) -> set[tuple[Any, dt.datetime]]:
        """Current rows as (key, stamp); from ``since`` on, as :meth:`truth` reads the sandbox (a
        delta's look-back may also re-read records stamped just before ``since``)."""
        held = self.warehouse.query(f'SELECT "{ent.key}", "{ent.cursor}" FROM {ent.current_table}')
        since = self.since.replace(tzinfo=None) if self.since else None
        return {(k, m) for k, m in held if since is None or m >= since}

    def versions(self, ent: Entity) -> set[tuple]:
        return set(self.warehouse.query(f"SELECT * EXCLUDE (_loaded_at) FROM {ent.table}"))

    def columns(self, ent: Entity) -> list[str]:
        """The columns of :meth:`versions`, declared and discovered (custom fields) alike."""
        described = self.warehouse.query(f"DESCRIBE SELECT * EXCLUDE (_loaded_at) FROM {ent.table}")
        return [row[0] for row in described]

    def identities(self, ent: Entity) -> set[tuple]:
        """The versions held, as (group, key, stamp, deleted)."""
        columns = ", ".join(
            f'"{c}"' for c in dict.fromkeys((ent.group_column, ent.key, ent.cursor))
        )
        return set(self.warehouse.query(f"SELECT {columns}, _deleted FROM {ent.table}"))

    def truth(self, ent: Entity) -> set[tuple[Any, dt.datetime]]:
        """Live records and their stamps, read whole through the real clients."""
        with dg.build_resources(build_resources()) as live:
            if ent.system == "salesforce":
                sf = live.salesforce.client()
                where = f" WHERE {ent.cursor} >= {soql_literal(self.since)}" if self.since else ""
                rows = sf.query_all_iter(f"SELECT {ent.key}, {ent.cursor} FROM {ent.source}{where}")
                return {(r[ent.key], parse_stamp(r[ent.cursor]).replace(tzinfo=None)) for r in rows}
            clauses = [*ent.where] + (
                [f"{_cursor_expr(ent)} >= {suiteql_literal(self.since)}"] if self.since else []
            )
            where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
            q = (
                f"SELECT {_key_expr(ent)} AS k, TO_CHAR({_cursor_expr(ent)}, 'YYYY-MM-DD HH24:MI:SS') AS m "
                f"FROM {ent.source}{where}"
            )
            return {
                (int(r["k"]), dt.datetime.fromisoformat(r["m"]))
                for page in live.netsuite.suiteql_pages(q)
                for r in page
            }


@contextmanager
def pipeline_for(
    env: dict[str, str],
    since: dt.datetime | None = None,
    job: Any = EXTRACT_ONLY,
    checkpoints: Any = None,
) -> Iterator[Pipeline]:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        yield Pipeline(env, since, job, checkpoints)


def fresh_env(sandbox_env: dict[str, str], directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    return {
        **sandbox_env,
        "O2C_WAREHOUSE": str(directory / "warehouse.duckdb"),
        "O2C_CHECKPOINT_URL": f"sqlite:///{directory / 'checkpoints.sqlite'}",
    }


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[Sandbox]:
    """This module's own sandbox: its tests count API calls and expect exactly the simulator's
    changes, which writes by other modules' tests on a shared sandbox would blur."""
    box = Sandbox(
        state_dir=tmp_path_factory.mktemp("extract-sandbox"),
        scale="small",
        seed=42,
        sf_port=0,
        ns_port=0,
        knobs=Knobs(),
    )
    box.start()
    yield box
    box.stop()


#: NetSuite setup records, stamped when the account was set up: a window of recent weeks may hold
#: none of them (the simulator re-stamps currencies only when it moves rates)
SETUP_TABLES = {"netsuite.currencies", "netsuite.subsidiaries"}


@pytest.fixture(scope="module")
def sandbox_env(sandbox) -> dict[str, str]:
    return sandbox.credentials()


@pytest.fixture(scope="module")
def pipeline(sandbox_env, tmp_path_factory) -> Iterator[Pipeline]:
    """A warehouse holding the last weeks through today, loaded as one run."""
    start = dt.date.fromisoformat(TODAY) - dt.timedelta(days=RANGE_DAYS - 1)
    since = dt.datetime.combine(start, dt.time())
    with pipeline_for(fresh_env(sandbox_env, tmp_path_factory.mktemp("extract")), since) as pipe:
        pipe.start = start.isoformat()
        pipe.history = pipe.run(pipe.start, TODAY)
        yield pipe


def assert_current_matches_sandbox(pipe: Pipeline) -> None:
    for ent in ENTITIES:
        truth, current = pipe.truth(ent), pipe.current(ent)
        assert truth or pipe.since, f"the sandbox has no {ent.table}"
        assert current == truth, (
            f"{ent.current_table}: {len(current - truth)} extra, {len(truth - current)} missing, "
            f"e.g. {sorted(current ^ truth)[:3]}"
        )


def check_range_run(pipe: Pipeline, result: dg.ExecuteInProcessResult, start: str) -> None:
    days = (dt.date.fromisoformat(TODAY) - dt.date.fromisoformat(start)).days + 1
    assert len(pipe.instance.get_runs()) == 1
    assert {e.partition for e in result.get_asset_materialization_events()} == {
        (dt.date.fromisoformat(start) + dt.timedelta(days=i)).isoformat() for i in range(days)
    }
    assert_current_matches_sandbox(pipe)
    for ent in ENTITIES:
        meta = pipe.metadata(result, ent)
        assert meta["mode"] == "full" and meta["watermark"] != "none", ent.table
        assert meta["rows"] == meta["versions"] and isinstance(meta["seconds"], float)
        assert meta["rows"] > 0 or ent.table in SETUP_TABLES, ent.table


def test_a_range_loads_as_one_run_and_matches_the_sandbox(pipeline: Pipeline) -> None:
    check_range_run(pipeline, pipeline.history, pipeline.start)


@pytest.mark.slow
def test_the_whole_history_loads_as_one_run_and_matches_the_sandbox(
    sandbox_env, tmp_path: Path
) -> None:
    with pipeline_for(fresh_env(sandbox_env, tmp_path)) as pipe:
        start = earliest_partition(build_resources())
        assert (dt.date.fromisoformat(TODAY) - start).days >= 90, "the world spans four months"
        result = pipe.run(start.isoformat(), TODAY)
        check_range_run(pipe, result, start.isoformat())
        lines = pipe.metadata(result, entity("netsuite.sales_order_lines"))
        assert lines["rows"] > 1000 and lines["api_calls"] <= lines["rows"] // 1000 + 4


def test_rerunning_a_partition_changes_nothing(pipeline: Pipeline) -> None:
    busiest = pipeline.warehouse.query(
        "SELECT _partition FROM salesforce.order_items GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    )[0][0].isoformat()
    before = {ent.table: pipeline.versions(ent) for ent in ENTITIES}
    stamps = pipeline.warehouse.query("SELECT max(_loaded_at) FROM salesforce.order_items")
    result = pipeline.run(busiest)
    assert {ent.table: pipeline.versions(ent) for ent in ENTITIES} == before
    assert pipeline.warehouse.query("SELECT max(_loaded_at) FROM salesforce.order_items") == stamps
    meta = pipeline.metadata(result, entity("salesforce.order_items"))
    assert meta["rows"] > 0 and meta["versions"] == meta["written"] == 0


def _sandbox_post(env: dict[str, str], path: str, body: dict) -> dict:
    url = f"{env['SALESFORCE_LOGIN_URL']}/__sandbox__/{path}"
    response = requests.post(url, json=body, verify=env["O2C_CA_BUNDLE"], timeout=60)
    response.raise_for_status()
    return response.json()


def _new_versions(pipe: Pipeline, before: dict[str, set], ent: Entity) -> set:
    return {
        row[ent.column_names.index(ent.group_column)]
        for row in pipe.versions(ent) - before[ent.table]
    }


def _formula_only(pipe: Pipeline, before: dict[str, set], ent: Entity) -> set:
    """Records whose new version differs from the one held at the same stamp in formula fields
    only: Salesforce moves no stamp when a cross-object formula's source changes (an order's
    ``TEXT(Account.Industry)`` after its account's industry changed), so a look-back that re-reads
    such a record rightly keeps its new value."""
    with dg.build_resources(build_resources()) as live:
        described = getattr(live.salesforce.client(), ent.source).describe()["fields"]
    formulas = {f["name"] for f in described if f.get("calculated")}
    columns = pipe.columns(ent)
    gi, si = ent.column_names.index(ent.group_column), ent.column_names.index(ent.cursor)
    held = {(row[gi], row[si]): row for row in before[ent.table]}
    found = set()
    for row in pipe.versions(ent) - before[ent.table]:
        old = held.get((row[gi], row[si]))
        changed = {c for c, a, b in zip(columns, old or (), row, strict=False) if a != b}
        if old is not None and changed and changed <= formulas:
            found.add(row[gi])
    return found


def test_a_delta_run_picks_up_exactly_the_changed_and_deleted_records(pipeline: Pipeline) -> None:
    before = {ent.table: pipeline.versions(ent) for ent in ENTITIES}
    changes = _sandbox_post(pipeline.env, "advance", {"steps": 1})
    touched: dict[str, set] = {}
    for kind in ("changed", "deleted"):
        for table, keys in changes[kind].items():
            touched.setdefault(table, set()).update(
                k[0] if isinstance(k, list) else k for k in keys
            )
    result = pipeline.run(TODAY)
    for ent in SALESFORCE_ENTITIES:
        meta = pipeline.metadata(result, ent)
        # one probe and (when there is something to fetch) one describe, then the pages of the
        # look-back window (other tests on this sandbox may have stamped many records within it),
        # plus at most one re-login
        most = 2 + -(-meta["rows"] // 2000) + 1 if meta["rows"] else 2
        assert meta["mode"] in ("incremental", "probe") and meta["api_calls"] <= most, (
            ent.table,
            meta,
        )
        new = _new_versions(pipeline, before, ent) - _formula_only(pipeline, before, ent)
        assert new == touched.get(f"sf.{ent.source}", set()), ent.table
    customers = entity("netsuite.customers")
    assert _new_versions(pipeline, before, customers) == touched.get("ns.customer", set())
    transactions = [e for e in NETSUITE_ENTITIES if e.source.startswith("transaction t")]
    extracted = set().union(*(_new_versions(pipeline, before, e) for e in transactions))
    with dg.build_resources(build_resources()) as live:
        ids = ",".join(str(i) for i in touched.get("ns.transaction", {0}))
        kinds = {
            int(r["id"]): r["type"]
            for page in live.netsuite.suiteql_pages(
                f"SELECT id, type FROM transaction WHERE id IN ({ids})"
            )
            for r in page
        }
    wanted = {i for i, t in kinds.items() if t in ("SalesOrd", "ItemShip", "CustInvc", "CustPymt")}
    assert extracted == wanted and wanted
    orders_with_new_lines = _new_versions(pipeline, before, entity("netsuite.sales_order_lines"))
    assert orders_with_new_lines <= {i for i, t in kinds.items() if t == "SalesOrd"}
    deleted_flag = len(entity("salesforce.contacts").columns)
    assert touched.get("sf.Contact") and any(
        row[deleted_flag]
        for row in pipeline.versions(entity("salesforce.contacts")) - before["salesforce.contacts"]
    ), "a deletion arrives as a version flagged deleted"
    assert_current_matches_sandbox(pipeline)


def test_ties_and_late_commits_at_the_watermark_are_not_lost(pipeline: Pipeline, sandbox) -> None:
    """Records committed after a run with a stamp equal to the watermark, or a little before it,
    arrive in the next delta run (a strict ``>`` cursor without look-back loses both)."""
    pipeline.run(TODAY)  # the watermark is now the newest stamp
    accounts, customers = entity("salesforce.accounts"), entity("netsuite.customers")
    sf_mark = max(stamp for _, stamp in pipeline.current(accounts))
    ns_mark = max(stamp for _, stamp in pipeline.current(customers))
    store = sandbox.ctx.store
    with store.writer() as cur:
        sf_ids = [
            r[0]
            for r in cur.execute(
                'SELECT "Id" FROM sf."Account" WHERE NOT "IsDeleted" AND "SystemModstamp" < ? ORDER BY "Id" LIMIT 2',
                [sf_mark - dt.timedelta(hours=1)],
            ).fetchall()
        ]
        ns_ids = [
            r[0]
            for r in cur.execute(
                "SELECT id FROM ns.customer WHERE lastmodifieddate < ? ORDER BY id LIMIT 2",
                [ns_mark - dt.timedelta(hours=1)],
            ).fetchall()
        ]
        for ids, stamps, sql in (
            (
                sf_ids,
                (sf_mark, sf_mark - dt.timedelta(minutes=5)),
                'UPDATE sf."Account" SET "Phone" = \'+1 555 0100\', "SystemModstamp" = ? WHERE "Id" = ?',
            ),
            (
                ns_ids,
                (ns_mark, ns_mark - dt.timedelta(minutes=5)),
                "UPDATE ns.customer SET phone = '+1 555 0100', lastmodifieddate = ? WHERE id = ?",
            ),
        ):
            for record_id, stamp in zip(ids, stamps, strict=True):
                cur.execute(sql, [stamp, record_id])
    pipeline.run(TODAY)
    assert {
        (sf_ids[0], sf_mark),
        (sf_ids[1], sf_mark - dt.timedelta(minutes=5)),
    } <= pipeline.current(accounts)
    assert {
        (ns_ids[0], ns_mark),
        (ns_ids[1], ns_mark - dt.timedelta(minutes=5)),
    } <= pipeline.current(customers)
    phones = pipeline.warehouse.query(
        "SELECT count(*) FROM salesforce.accounts_current WHERE \"Phone\" = '+1 555 0100'"
    )
    assert phones == [(2,)]


def _api_calls(env: dict[str, str]) -> dict[str, int]:
    """The sandbox's own count of data API calls so far, per system: admin calls are not counted,
    nor OAuth token requests (a session may expire between runs on the shared sandbox)."""
    url = f"{env['SALESFORCE_LOGIN_URL']}/__sandbox__/counters"
    response = requests.get(url, verify=env["O2C_CA_BUNDLE"], timeout=60)
    response.raise_for_status()
    calls = response.json()["calls"]
    return {
        system: sum(n for family, n in families.items() if family != "auth")
        for system, families in calls.items()
    }


def _watermarks() -> dict[str, dt.datetime]:
    with dg.build_resources(build_resources()) as live:
        return {e.table: live.checkpoints.get_watermark(e.watermark_key).modstamp for e in ENTITIES}


def test_a_delta_run_with_nothing_changed_makes_one_call_per_entity(pipeline: Pipeline) -> None:
    pipeline.run(TODAY)  # catch up with whatever earlier tests changed
    versions = {ent.table: pipeline.versions(ent) for ent in ENTITIES}
    # one row of two columns: UNION ALL leaves the order of its rows to the engine's threads
    newest_loads = (
        "SELECT (SELECT max(_loaded_at) FROM netsuite.sales_order_lines), "
        "(SELECT max(_loaded_at) FROM salesforce.accounts)"
    )
    loaded_at = pipeline.warehouse.query(newest_loads)
    marks, calls = _watermarks(), _api_calls(pipeline.env)
    started = time.monotonic()
    result = pipeline.run(TODAY)
    seconds = time.monotonic() - started
    after = _api_calls(pipeline.env)
    # every entity's probe at once: Salesforce's Composite API takes five queries a call,
    # NetSuite's one SuiteQL UNION ALL all of them
    expected = {"salesforce": -(-len(SALESFORCE_ENTITIES) // 5), "netsuite": 1}
    assert {system: after.get(system, 0) - calls.get(system, 0) for system in after} == expected
    counted = {"salesforce": 0, "netsuite": 0}
    for ent in ENTITIES:
        meta = pipeline.metadata(result, ent)
        counted[ent.system] += meta["api_calls"]
        assert (meta["mode"], meta["rows"], meta["written"]) == ("probe", 0, 0), (ent.table, meta)
        assert meta["table_rows"] == len(versions[ent.table])
        assert meta["current_rows"] > 0 or ent.table in SETUP_TABLES, ent.table
        assert meta["watermark"] == marks[ent.table].timestamp()  # timestamp metadata
    assert counted == expected  # each call on one entity's figures
    assert seconds < 10, f"a quiet delta run of {len(ENTITIES)} entities took {seconds:.1f}s"
    assert {ent.table: pipeline.versions(ent) for ent in ENTITIES} == versions
    assert _watermarks() == marks
    assert pipeline.warehouse.query(newest_loads) == loaded_at


def test_a_late_commit_restamping_a_record_inside_the_lookback_is_not_missed(
    pipeline: Pipeline, sandbox
) -> None:
    """A record already inside the look-back window, re-stamped by a late commit to a stamp still
    before the watermark, leaves the window's count and newest stamp as they were: the probe
    compares identities, so the next delta fetches it."""
    accounts, customers = entity("salesforce.accounts"), entity("netsuite.customers")
    pipeline.run(TODAY)
    marks = _watermarks()
    sf_mark, ns_mark = (
        marks[e.table].astimezone(dt.UTC).replace(tzinfo=None) for e in (accounts, customers)
    )
    updates = [
        (
            accounts,
            sf_mark,
            'SELECT "Id" FROM sf."Account" WHERE NOT "IsDeleted" AND "SystemModstamp" < ? ORDER BY "Id" DESC LIMIT 1',
            'UPDATE sf."Account" SET "Phone" = ?, "SystemModstamp" = ? WHERE "Id" = ?',
        ),
        (
            customers,
            ns_mark,
            "SELECT id FROM ns.customer WHERE lastmodifieddate < ? ORDER BY id DESC LIMIT 1",
            "UPDATE ns.customer SET phone = ?, lastmodifieddate = ? WHERE id = ?",
        ),
    ]
    picked: dict[str, Any] = {}
    with sandbox.ctx.store.writer() as cur:
        for ent, mark, select, update in updates:
            (record_id,) = cur.execute(select, [mark - dt.timedelta(hours=1)]).fetchone()
            cur.execute(update, ["+1 555 0101", mark - dt.timedelta(minutes=3), record_id])
            picked[ent.table] = record_id
    first = pipeline.run(TODAY)  # loads the records inside the look-back (before the watermark)
    for ent, mark, _, update in updates:
        assert pipeline.metadata(first, ent)["mode"] == "incremental"
        assert (picked[ent.table], mark - dt.timedelta(minutes=3)) in pipeline.current(ent)
        with sandbox.ctx.store.writer() as cur:
            cur.execute(update, ["+1 555 0102", mark - dt.timedelta(minutes=2), picked[ent.table]])
    second = pipeline.run(TODAY)
    for ent, mark, _, _ in updates:
        assert pipeline.metadata(second, ent)["mode"] == "incremental", ent.table
        restamped = (picked[ent.table], mark - dt.timedelta(minutes=2))
        assert restamped in pipeline.current(ent), ent.table
    assert _watermarks() == marks


def test_a_failed_commit_keeps_the_partition_and_the_watermark(
    pipeline: Pipeline, monkeypatch
) -> None:
    _sandbox_post(pipeline.env, "advance", {"steps": 1})
    before = {ent.table: pipeline.versions(ent) for ent in ENTITIES}
    with dg.build_resources(build_resources()) as live:
        marks = {
            ent.table: live.checkpoints.get_watermark(ent.watermark_key).modstamp
            for ent in ENTITIES
        }

    def disk_full(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Warehouse, "_refresh_current", staticmethod(disk_full))
    failed = execute(pipeline.job, pipeline.instance, start=TODAY, end=TODAY, progress=False)
    assert not failed.success
    assert {ent.table: pipeline.versions(ent) for ent in ENTITIES} == before
    with dg.build_resources(build_resources()) as live:
        assert {
            e.table: live.checkpoints.get_watermark(e.watermark_key).modstamp for e in ENTITIES
        } == marks
    monkeypatch.undo()
    held = {ent.table: pipeline.identities(ent) for ent in ENTITIES}
    pipeline.run(TODAY)  # the same delta commits once the fault is gone
    # every version held stays (a re-read may refresh a version's formula values, not drop it)
    assert [e.table for e in ENTITIES if not held[e.table] <= pipeline.identities(e)] == []
    assert any(before[e.table] != pipeline.versions(e) for e in ENTITIES)


def test_bulk_and_rest_paths_land_the_same_rows(sandbox_env, tmp_path: Path) -> None:
    with pipeline_for(fresh_env(sandbox_env, tmp_path / "rest"), job=SALESFORCE_ONLY) as rest:
        with dg.build_resources(build_resources()) as live:
            newest = live.salesforce.client().query(
                "SELECT SystemModstamp FROM OrderItem ORDER BY SystemModstamp DESC LIMIT 1"
            )["records"][0]
        day = parse_stamp(newest["SystemModstamp"]).date().isoformat()
        by_rest = rest.run(day, full_refresh=True)
    with pipeline_for(fresh_env(sandbox_env, tmp_path / "bulk"), job=SALESFORCE_ONLY) as bulk:
        by_bulk = bulk.run(day, full_refresh=True, bulk_threshold_rows=1)
    loaded = 0
    for ent in SALESFORCE_ENTITIES:
        meta = bulk.metadata(by_bulk, ent)
        if meta["rows"]:
            loaded += 1
            assert rest.metadata(by_rest, ent)["path"] == "rest"
            assert meta["path"] == "bulk", ent.table
        assert bulk.versions(ent) == rest.versions(ent), ent.table
    assert loaded >= 3


@pytest.mark.postgres
def test_the_postgres_checkpoint_store_carries_the_delta_loads(sandbox_env, tmp_path: Path) -> None:
    import sqlalchemy as sa

    from o2c_pipeline.resources.checkpoints import CheckpointStore

    url = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
    schema = f"o2c_extract_{uuid.uuid4().hex[:10]}"
    store = CheckpointStore(url=url, db_schema=schema)
    today = dt.datetime.combine(dt.date.fromisoformat(TODAY), dt.time())
    try:
        with pipeline_for(fresh_env(sandbox_env, tmp_path), today, checkpoints=store) as pipe:
            first = pipe.run(TODAY)
            assert all(pipe.metadata(first, e)["mode"] == "full" for e in ENTITIES)
            assert store.get_watermark(entity("salesforce.orders").watermark_key) is not None
            _sandbox_post(pipe.env, "advance", {"steps": 1})
            second = pipe.run(TODAY)
            modes = {pipe.metadata(second, e)["mode"] for e in ENTITIES}
            assert modes <= {"incremental", "probe"} and "incremental" in modes
            assert_current_matches_sandbox(pipe)
    finally:
        with sa.create_engine(url).begin() as con:
            con.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def _identities(probe: Any) -> list[tuple]:
    return sorted(map(tuple, probe.identities.to_pylist()))


@pytest.mark.parametrize("days", [0.1, 3])
def test_probes_asked_at_once_answer_as_each_probe_alone(pipeline_env, days: float) -> None:
    """Salesforce's Composite call (five queries each) and NetSuite's one ``UNION ALL`` answer
    every entity as its own probe does, over the real clients; NetSuite leaves all of them to
    their own probes when together they hold more than a page."""
    from o2c_pipeline.extract.plan import PROBE_MAX_VERSIONS
    from o2c_pipeline.extract.windows import Window
    from o2c_pipeline.systems import source_of

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    window = Window(now - dt.timedelta(days=days), now + dt.timedelta(days=1))
    with dg.build_resources(build_resources()) as live:
        for system, entities in (
            ("salesforce", SALESFORCE_ENTITIES),
            ("netsuite", NETSUITE_ENTITIES),
        ):
            together = source_of(live, system)
            answers = together.probe_many([(e, window) for e in entities])
            calls = together.api_calls
            alone = {e.table: source_of(live, system).probe(e, window) for e in entities}
            if system == "salesforce":
                assert calls == -(-len(entities) // 5)
            else:
                assert calls == 1
            if system == "netsuite" and not answers:
                held = sum(
                    len(p.identities) if p else PROBE_MAX_VERSIONS + 1 for p in alone.values()
                )
                assert held > PROBE_MAX_VERSIONS, "left to their own probes without need"
                continue
            assert set(answers) == {e.table for e in entities}
            for table, probe in alone.items():
                mine = answers[table]
                assert (probe is None) == (mine is None), table
                if probe is not None:
                    assert _identities(mine) == _identities(probe), table
                    assert mine.rows == probe.rows, table
