"""Custom field mappings: the configuration file's ``mappings:`` section, per flow a list of
``source`` field of the flow's record -> ``target`` field of the record it writes, each through
at most one of the transforms the built-in mappings use (truncate, lookup table, date in a time
zone, constant). The flow template adds them to every payload it prepares
(:meth:`~o2c_pipeline.sync.flow.Flow.prepare`); "only if different" covers them (a payload with
custom fields the target's row cannot show is compared through the ledger's request hash).

Ownership is checked as for built-in fields: a mapping may not write a field the flow's built-in
mapping writes, nor one the ``ownership:`` section gives to the other system; an unlisted
custom field becomes the flow's source system's to master, and two flows from different systems
cannot both claim one. A value a lookup table lacks dead-letters the record with its reason.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from o2c_pipeline.config import FieldMapping, LoadedConfig
from o2c_pipeline.config import load as load_config
from o2c_pipeline.sync.config import FIELD_OWNERSHIP, SyncSettings, assert_owned, owners
from o2c_pipeline.sync.deals import account_date
from o2c_pipeline.sync.mapping import DataError


@dataclass(frozen=True)
class CustomMapping:
    key: str  # where it is in the file, e.g. mappings.customers[0]
    spec: FieldMapping

    @property
    def target(self) -> str:
        return self.spec.target


def validate(
    loaded: LoadedConfig, flows: Mapping[str, Any]
) -> dict[str, tuple[CustomMapping, ...]]:
    """The file's mappings per flow name, checked against the flows and field ownership."""
    problems: list[str] = []
    out: dict[str, tuple[CustomMapping, ...]] = {}
    claims: dict[tuple[str, str], tuple[str, str]] = {}  # (target, field) -> (system, key)
    for flow_name, specs in loaded.config.mappings.items():
        flow = flows.get(flow_name)
        if flow is None:
            problems.append(
                f"mappings.{flow_name}: no such flow (flows: {', '.join(sorted(flows))})"
            )
            continue
        target = f"{flow.writes.system}.{flow.writes.object}"
        if flow.writes.system not in ("salesforce", "netsuite"):
            problems.append(f"mappings.{flow_name}: the flow writes no record ({target})")
            continue
        declared = owners(target, loaded.config.ownership)
        seen: set[str] = set()
        for i, spec in enumerate(specs):
            key = f"mappings.{flow_name}[{i}].target"
            field = spec.target
            if field in seen:
                problems.append(f"{key}: {field} is mapped twice in this flow")
            seen.add(field)
            if field in FIELD_OWNERSHIP.get(target, {}) or field in ("Id", "externalId"):
                problems.append(f"{key}: {target}.{field} is written by the flow's own mapping")
            elif declared.get(field, flow.source_system) != flow.source_system:
                problems.append(
                    f"{key}: {declared[field]} masters {target}.{field} (ownership), so "
                    f"{flow.source_system} may not write it"
                )
            else:
                other = claims.setdefault((target, field), (flow.source_system, key))
                if other[0] != flow.source_system:
                    problems.append(
                        f"{key}: {target}.{field} is also written from {other[0]} ({other[1]})"
                    )
        out[flow_name] = tuple(
            CustomMapping(f"mappings.{flow_name}[{i}]", spec) for i, spec in enumerate(specs)
        )
    if problems:
        raise loaded.error(problems)
    return out


_VALIDATED: dict[int, tuple[Any, dict[str, tuple[CustomMapping, ...]]]] = {}


def for_flow(
    name: str, flows: Mapping[str, Any], loaded: LoadedConfig | None = None
) -> tuple[CustomMapping, ...]:
    """The mappings of one flow under the configuration in effect (validated once per file)."""
    loaded = loaded or load_config()
    cached = _VALIDATED.get(id(loaded.config))
    if cached is None or cached[0] is not loaded.config:
        cached = _VALIDATED[id(loaded.config)] = (loaded.config, validate(loaded, flows))
    return cached[1].get(name, ())


def check_sources(
    loaded: LoadedConfig, mappings: Sequence[CustomMapping], row: Mapping[str, Any], table: str
) -> None:
    """Every mapped source field is a column of the flow's records (told once per run, before
    anything is written, rather than as a dead letter per record)."""
    names = {k.lower() for k in row}
    missing = [m for m in mappings if m.spec.source and m.spec.source.lower() not in names]
    if missing:
        raise loaded.error(
            [f"{m.key}.source: {table} has no column {m.spec.source}" for m in missing]
        )


def _value(row: Mapping[str, Any], name: str) -> Any:
    if name in row:
        return row[name]
    lowered = {k.lower(): v for k, v in row.items()}
    return lowered.get(name.lower())


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def transform(m: CustomMapping, row: Mapping[str, Any], settings: SyncSettings) -> Any:
    """The target value of one mapping for ``row``; a lookup miss raises :class:`DataError`."""
    spec = m.spec
    if "constant" in spec.model_fields_set:
        return spec.constant
    value = _value(row, spec.source or "")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if spec.truncate is not None:
        return str(value)[: spec.truncate]
    if spec.lookup is not None:
        if str(value) in spec.lookup:
            return spec.lookup[str(value)]
        if "default" in spec.model_fields_set:
            return spec.default
        raise DataError(
            "UNMAPPED_VALUE",
            f"{spec.source} {value!r} has no entry in the lookup table of {m.key}; add it "
            "(or a default) to the configuration file",
        )
    if spec.date_in_timezone:
        zone = (
            settings.netsuite_timezone
            if spec.date_in_timezone == "netsuite"
            else spec.date_in_timezone
        )
        return account_date(value, zone)
    return _jsonable(value)


def fields(
    mappings: Sequence[CustomMapping],
    row: Mapping[str, Any],
    settings: SyncSettings,
    *,
    target: str,
    source_system: str,
) -> dict[str, Any]:
    """The custom fields of one payload, ownership checked as for built-in fields."""
    out = {m.target: transform(m, row, settings) for m in mappings}
    assert_owned(target, source_system, out, claim_unlisted=True)  # type: ignore[arg-type]
    return out
