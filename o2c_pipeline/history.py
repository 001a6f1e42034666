"""Where the daily partitions begin: a configured day, else the earliest record the sources hold,
found once and recorded in the checkpoint store.

Order: ``O2C_START_DATE``, then ``start_date`` of the configuration file, then the recorded day.
Loading the code location only reads (a configured day, or one row of the checkpoint store: no
network, no file created), so the partitions definition is the same on every load once recorded.

Before anything is recorded (a fresh checkpoint store, before the first run) the partitions cover
:data:`UNRECORDED_DAYS` back from today: the UI has a usable, bounded history and never 2015's
4,000 days. The first run records the sources' earliest day (:func:`ensure_recorded`, called by
``o2c run`` and by the executor's pre-flight of every Dagster run: one cheap query per entity and
delete source, once); the next load of the code location starts there. Extend the history later
by setting an earlier ``O2C_START_DATE`` / ``start_date`` (it wins over the record), or forget
the record with ``python -m o2c_pipeline.history --rediscover``.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from o2c_pipeline import config, settings
from o2c_pipeline.resources.checkpoints import UtcDateTime, checkpoint_table, shared_engine

#: how far back the partitions reach while the sources' earliest day is not yet recorded
UNRECORDED_DAYS = 366
RECORD_NAME = "history_start"

facts_table = checkpoint_table(
    "o2c_facts",
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.String(300), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    extend_existing=True,  # ``python -m o2c_pipeline.history`` defines it twice (as __main__)
)


def configured_start(environ: Mapping[str, str] | None = None) -> dt.date | None:
    """``O2C_START_DATE``, else the configuration file's ``start_date``."""
    raw = settings.value("O2C_START_DATE", environ)
    if raw:
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise settings.SettingsError(
                [f"O2C_START_DATE must be a date as YYYY-MM-DD, not {raw!r}"]
            ) from None
    return config.load(environ).config.start_date


def _checkpoint_url(environ: Mapping[str, str] | None) -> str:
    return settings.default_checkpoint_url(environ)


def recorded_start(environ: Mapping[str, str] | None = None) -> dt.date | None:
    """The recorded earliest day; None when nothing is recorded (a missing SQLite file is not
    created: loading the definitions writes nothing)."""
    url = _checkpoint_url(environ)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:" or not Path(database).expanduser().exists():
            return None
    try:
        with shared_engine(url).connect() as conn:
            value = conn.execute(
                sa.select(facts_table.c.value).where(facts_table.c.name == RECORD_NAME)
            ).scalar_one_or_none()
    except sa.exc.SQLAlchemyError:
        return None  # an unreachable store: the pre-flight of the next run names the problem
    return dt.date.fromisoformat(value) if value else None


def record_start(day: dt.date, environ: Mapping[str, str] | None = None) -> None:
    engine = shared_engine(_checkpoint_url(environ))
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(sa.delete(facts_table).where(facts_table.c.name == RECORD_NAME))
        conn.execute(
            sa.insert(facts_table).values(name=RECORD_NAME, value=day.isoformat(), updated_at=now)
        )


def forget_start(environ: Mapping[str, str] | None = None) -> None:
    with shared_engine(_checkpoint_url(environ)).begin() as conn:
        conn.execute(sa.delete(facts_table).where(facts_table.c.name == RECORD_NAME))


def discover(resources: Mapping[str, Any]) -> dt.date:
    """The first UTC day any entity has a record in (one cheap query per entity and delete
    source, four at a time); today when the sources hold nothing."""
    import dagster as dg

    from o2c_pipeline.entities import ENTITIES
    from o2c_pipeline.systems import source_of

    with dg.build_resources(dict(resources)) as live:

        def first(entity):  # noqa: ANN001, ANN202
            return source_of(live, entity.system).earliest(entity)

        with ThreadPoolExecutor(max_workers=4) as pool:
            stamps = [s for s in pool.map(first, ENTITIES) if s is not None]
    return min(stamps).date() if stamps else dt.datetime.now(dt.UTC).date()


def history_start(environ: Mapping[str, str] | None = None) -> dt.date:
    """The first partition, without any network call: configured, recorded, else a year back."""
    return (
        configured_start(environ)
        or recorded_start(environ)
        or dt.datetime.now(dt.UTC).date() - dt.timedelta(days=UNRECORDED_DAYS)
    )


def ensure_recorded(environ: Mapping[str, str] | None = None) -> dt.date:
    """The first partition; asks the sources (once per checkpoint store) when nothing is
    configured or recorded, and records their answer."""
    day = configured_start(environ) or recorded_start(environ)
    if day is None:
        from o2c_pipeline.resources.factory import build_resources

        day = discover(build_resources(environ, check=False))
        record_start(day, environ)
    return day


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The first daily partition.")
    parser.add_argument(
        "--rediscover",
        action="store_true",
        help="Forget the recorded day and ask the sources again (e.g. after loading older data).",
    )
    args = parser.parse_args(argv)
    if args.rediscover:
        forget_start()
    print(ensure_recorded().isoformat())


if __name__ == "__main__":
    main()
