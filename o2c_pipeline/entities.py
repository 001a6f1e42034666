"""Every O2C entity the pipeline extracts, declared once.

Generic code reads these declarations to build the extraction queries, the DuckDB tables, the
Dagster assets and their column schemas. The columns declared here are each entity's *core*: what
the sync relies on, always extracted. Every other field the source reports (Salesforce
``describe()``, NetSuite's metadata catalog, checked against SuiteQL) is extracted too, unless the
configuration file (:mod:`o2c_pipeline.config`) excludes it; see :mod:`o2c_pipeline.extract.columns`.
Objects the file adds (``entities:`` with ``object:`` or ``table:``) become entities of their own
here, so they get an asset and checks like the declared ones. Pipeline code never imports the
sandbox: these are the source systems' real names (Salesforce field API names; SuiteQL tables and
lowercase columns).

Warehouse columns keep the source's names (quoted, so Salesforce's case survives), plus
bookkeeping columns added by :mod:`o2c_pipeline.warehouse` (``_deleted``, ``_partition``,
``_loaded_at``).
"""

from __future__ import annotations

from o2c_pipeline import config
from o2c_pipeline.entity import SF_TYPES, Column, Entity, System
from o2c_pipeline.netsuite.entities import ITEM_RECORD_TYPES, NETSUITE_ENTITIES, ns_column
from o2c_pipeline.salesforce.entities import SALESFORCE_ENTITIES, SF_SYSTEM_COLUMNS, sf_column

__all__ = [
    "DECLARED_ENTITIES",
    "ENTITIES",
    "ITEM_RECORD_TYPES",
    "NETSUITE_ENTITIES",
    "SALESFORCE_ENTITIES",
    "SF_TYPES",
    "Column",
    "Entity",
    "System",
    "entity",
]

DECLARED_ENTITIES: tuple[Entity, ...] = SALESFORCE_ENTITIES + NETSUITE_ENTITIES

# ---------------------------------------------------------------------------------------------
# Objects the configuration file adds
# ---------------------------------------------------------------------------------------------


def custom_entity(table: str, spec: config.EntityConfig) -> Entity:
    """The entity of a custom object the file declares (``entities.<system>.<name>``)."""
    system, name = table.split(".", 1)
    extra = tuple(Column(n, t) for n, t in spec.columns.items())
    if system == "salesforce":
        key, cursor = spec.key or "Id", spec.cursor or "SystemModstamp"
        base = [c for c in SF_SYSTEM_COLUMNS if c.name not in (key, cursor)]
        columns = (sf_column(key, "id"), *base, sf_column(cursor, "datetime"), *extra)
        return Entity("salesforce", name, spec.object or "", _unique(columns), key, cursor,
                      spec.description or f"Salesforce {spec.object} (configured).",
                      deleted_flag="IsDeleted")  # fmt: skip
    source = spec.table or ""
    record_type = spec.record_type or source
    key = spec.key or "id"
    cursor = spec.cursor or (
        "lastmodified" if source.startswith("customrecord") else "lastmodifieddate"
    )
    columns = (ns_column(key, "BIGINT"), ns_column(cursor, "TIMESTAMP"), *extra)
    return Entity("netsuite", name, f"{source} r", _unique(columns), key, cursor,
                  spec.description or f"NetSuite {source} (configured).", alias="r",
                  deleted_record_types=(record_type,), record_type=record_type)  # fmt: skip


def _unique(columns: tuple[Column, ...]) -> tuple[Column, ...]:
    """Each name once, as first declared."""
    first: dict[str, Column] = {}
    for c in columns:
        first.setdefault(c.name, c)
    return tuple(first.values())


def configured_entities(
    loaded: config.LoadedConfig, declared: tuple[Entity, ...] = DECLARED_ENTITIES
) -> tuple[Entity, ...]:
    """The declared entities plus the custom objects of the configuration file."""
    known = {e.table for e in declared}
    problems, custom = [], []
    for table, spec in loaded.config.entities.items():
        system = table.split(".", 1)[0]
        if table in known:
            if spec.is_custom or spec.columns or spec.key or spec.cursor:
                problems.append(
                    f"entities.{table}: a declared entity takes include/exclude only "
                    "(its core columns are declared in entities.py)"
                )
            continue
        needed = "object" if system == "salesforce" else "table"
        if not getattr(spec, needed):
            hint = "Salesforce object API name" if needed == "object" else "SuiteQL table"
            problems.append(f"entities.{table}: a new entity needs {needed}: <{hint}>")
        else:
            custom.append(custom_entity(table, spec))
    if problems:
        raise loaded.error(problems)
    return declared + tuple(custom)


ENTITIES: tuple[Entity, ...] = configured_entities(config.load())


def entity_of(table: str) -> Entity | None:
    """The entity whose warehouse table is ``table`` (e.g. ``netsuite.sales_orders``), or None."""
    return next((e for e in ENTITIES if e.table == table), None)


def entity(table: str) -> Entity:
    """Look an entity up by its warehouse table name, e.g. ``netsuite.sales_orders``."""
    found = entity_of(table)
    if found is None:
        raise KeyError(table)
    return found
