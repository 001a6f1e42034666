"""The configuration file: everything about an org that is not a secret or an endpoint.

One YAML file (``O2C_CONFIG``, default ``o2c.yaml`` in the working directory when present; see
``o2c.example.yaml``) holds per-entity field rules and custom objects (``entities``), sync
settings (``sync``: any field of :class:`~o2c_pipeline.sync.config.SyncSettings`), custom field
mappings per flow (``mappings``) and who masters which field (``ownership``), the sensors' and
schedules' cadence (``triggers``) and the checks' thresholds (``thresholds``). Secrets and
endpoints stay in environment variables (:mod:`o2c_pipeline.settings`).

The schema is pydantic; every problem is reported as ``<file>: <key>: <what is wrong>``, all of
them at once. Sections whose meaning belongs to another module are checked there, with the same
error: ``sync`` against ``SyncSettings``, ``mappings`` against the flows and field ownership,
custom entities against the declared ones.
"""

from __future__ import annotations

import datetime as dt
import difflib
import fnmatch
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from o2c_pipeline import settings

System = Literal["salesforce", "netsuite"]
#: warehouse column types a custom object's declared columns may take
COLUMN_TYPES = ("VARCHAR", "BIGINT", "INTEGER", "DOUBLE", "BOOLEAN", "DATE", "TIMESTAMP")
ENTITY_KEY = r"^(salesforce|netsuite)\.[a-z][a-z0-9_]*$"


class ConfigError(ValueError):
    """Problems in the configuration file, each naming the file and the key."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__("\n".join(f"{source}: {p}" for p in self.problems))

    @classmethod
    def from_validation(
        cls, source: str, error: ValidationError, prefix: str = "", known: Iterable[str] = ()
    ) -> ConfigError:
        return cls(source, [_problem(e, prefix, list(known)) for e in error.errors()])


def _key(loc: Sequence[Any], prefix: str) -> str:
    parts = [prefix] if prefix else []
    for part in loc:
        if isinstance(part, int):
            parts[-1] = f"{parts[-1]}[{part}]" if parts else f"[{part}]"
        else:
            parts.append(str(part))
    return ".".join(parts) or "(top level)"


def _siblings(loc: Sequence[Any]) -> list[str]:
    """The keys allowed where an unknown key ``loc`` stands (for a "did you mean")."""
    depth_models = {
        (): O2CConfig,
        ("entities",): EntityConfig,
        ("mappings",): FieldMapping,
        ("triggers",): Triggers,
        ("thresholds",): Thresholds,
        ("slas",): Slas,
        ("formula_refresh",): FormulaRefresh,
    }
    section = tuple(loc[:1]) if len(loc) > 1 else ()
    model = depth_models.get(section)
    expected_depth = {(): 1, ("entities",): 3, ("mappings",): 4}.get(section, 2)
    return list(model.model_fields) if model and len(loc) == expected_depth else []


def _problem(error: Mapping[str, Any], prefix: str, known: list[str]) -> str:
    """One pydantic error as ``key: what is wrong``, in words a person acts on."""
    loc = [p for p in error["loc"] if not str(p).startswith("function-")]
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "extra_forbidden":
        candidates = known or _siblings(loc)
        close = difflib.get_close_matches(str(loc[-1]), candidates, n=1) if loc else []
        message = "unknown key" + (f" (did you mean {close[0]}?)" if close else "")
    elif kind == "missing":
        message = "is required"
    elif kind in ("greater_than", "greater_than_equal") and isinstance(value, int | float):
        bound = ctx.get("gt", ctx.get("ge"))
        whole = isinstance(value, int) and not isinstance(value, bool)
        if kind == "greater_than" and bound == 0:
            message = f"must be a positive {'integer' if whole else 'number'}"
        else:
            message = f"must be {'more than' if kind == 'greater_than' else 'at least'} {bound}"
    elif kind in ("int_parsing", "int_type", "int_from_float"):
        message = "must be an integer"
    elif kind in ("float_parsing", "float_type"):
        message = "must be a number"
    elif kind in ("bool_parsing", "bool_type"):
        message = "must be true or false"
    elif kind == "value_error":
        message = str(ctx.get("error") or error["msg"])
    else:
        message = error["msg"][:1].lower() + error["msg"][1:]
    shown = (
        "" if kind in ("missing", "extra_forbidden") or isinstance(value, dict | list) else value
    )
    suffix = f", not {shown!r}" if shown not in ("", None) and "not " not in message else ""
    return f"{_key(loc, prefix)}: {message}{suffix}"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EntityConfig(_Section):
    """Field rules of an entity; with ``object`` (Salesforce) or ``table`` (NetSuite), an
    entity of its own: a custom object the file adds, extracted like the declared ones."""

    include: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Fields to extract beyond the core (names or shell patterns); default all.",
    )
    exclude: list[str] = Field(default_factory=list, description="Fields never to extract.")
    object: str | None = Field(default=None, description="Salesforce object API name.")
    table: str | None = Field(default=None, description="NetSuite SuiteQL table.")
    record_type: str | None = Field(
        default=None,
        description="NetSuite record type: its metadata catalog entry lists the fields, and "
        "deletedrecord rows of this type delete records (default: the table).",
    )
    key: str | None = Field(default=None, description="Record key (default Id / id).")
    cursor: str | None = Field(
        default=None,
        description="Modification stamp (default SystemModstamp; NetSuite lastmodified for "
        "customrecord tables, else lastmodifieddate).",
    )
    columns: dict[str, Literal[COLUMN_TYPES]] = Field(  # type: ignore[valid-type]
        default_factory=dict,
        description="Columns always extracted (name -> warehouse type), beyond key and cursor.",
    )
    description: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> EntityConfig:
        if self.object and self.table:
            raise ValueError("give object (Salesforce) or table (NetSuite), not both")
        return self

    @property
    def is_custom(self) -> bool:
        return bool(self.object or self.table)

    def wants(self, name: str) -> bool:
        """Whether a field beyond the core is extracted under these rules (names and patterns
        compare without case, as SOQL and SuiteQL compare field names)."""
        return any(_match(name, p) for p in self.include) and not any(
            _match(name, p) for p in self.exclude
        )

    def named(self) -> list[str]:
        """Fields the include list names outright (not as a pattern)."""
        return [p for p in self.include if not any(c in p for c in "*?[")]


def _match(name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(name.lower(), pattern.lower())


class FieldMapping(_Section):
    """``source`` field of the flow's record -> ``target`` field of the record it writes, through
    at most one of the transforms the built-in mappings use."""

    source: str | None = None
    target: str
    truncate: int | None = Field(default=None, gt=0, description="Keep this many characters.")
    lookup: dict[str, Any] | None = Field(default=None, description="Source value -> target value.")
    default: Any = Field(default=None, description="With lookup: for values the table lacks.")
    date_in_timezone: str | None = Field(
        default=None,
        description="The calendar date of an instant in this IANA time zone ('netsuite': the "
        "account's, sync.netsuite_timezone).",
    )
    constant: Any = Field(default=None, description="Always this value (no source).")

    @field_validator("lookup", mode="before")
    @classmethod
    def _text_keys(cls, value: Any) -> Any:
        """YAML reads ``1: Gold`` with an integer key; source values compare as text."""
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _shape(self) -> FieldMapping:
        given = self.model_fields_set
        transforms = [
            t for t in ("truncate", "lookup", "date_in_timezone", "constant") if t in given
        ]
        if len(transforms) > 1:
            raise ValueError(f"one transform per mapping, not {' and '.join(transforms)}")
        if "constant" in given and self.source:
            raise ValueError("a constant takes no source")
        if "constant" not in given and not self.source:
            raise ValueError("source is required (or a constant)")
        if "default" in given and "lookup" not in given:
            raise ValueError("default applies to a lookup only")
        return self

    @field_validator("date_in_timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value and value != "netsuite":
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"must be an IANA time zone (e.g. America/Los_Angeles) or 'netsuite', "
                    f"not {value!r}"
                ) from None
        return value


class Triggers(_Section):
    """How often the sensors look and when the schedules fire (cron, UTC)."""

    change_sensor_interval_s: int = Field(default=300, gt=0)
    dlq_redrive_interval_s: int = Field(default=120, gt=0)
    invoice_payment_batch_cron: str = "0 6 * * *"
    item_price_sync_cron: str = "15 * * * *"
    reconciliation_cron: str = "30 2 * * *"

    @field_validator("invoice_payment_batch_cron", "item_price_sync_cron", "reconciliation_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from dagster._utils.schedules import is_valid_cron_string

        if not is_valid_cron_string(value):
            raise ValueError(f"must be a cron expression such as '0 6 * * *', not {value!r}")
        return value


class Thresholds(_Section):
    """What the asset checks tolerate."""

    freshness_sla_minutes: float = Field(default=60.0, gt=0)
    order_sync_grace_minutes: float = Field(default=60.0, ge=0)
    amount_tolerance: float = Field(default=0.01, ge=0)
    dlq_stale_after_hours: float = Field(default=24.0, gt=0)


FlowMode = Literal["off", "plan", "on"]
#: the mode of a flow the ``flows`` section does not name, when it names no ``default`` either
DEFAULT_FLOW_MODE: FlowMode = "on"


def _yaml_mode(value: Any) -> Any:
    """YAML 1.1 reads a bare ``on`` / ``off`` as true / false."""
    if value is True:
        return "on"
    if value is False:
        return "off"
    return value


class Sla(_Section):
    """One O2C stage's time limit and how loudly a breach is reported."""

    within: float = Field(
        gt=0,
        description="Hours (deal -> order), days (order -> fulfillment) "
        "or grace days past the due date (invoice -> payment).",
    )
    severity: Literal["WARN", "ERROR"] = "WARN"
    lookback_days: float = Field(
        default=30, gt=0, description="Records that entered the stage in the last N days count."
    )
    enabled: bool = True


class Slas(_Section):
    """O2C stage SLAs, each an asset check (see :mod:`o2c_pipeline.sla`)."""

    won_deal_to_sales_order_hours: Sla = Field(default_factory=lambda: Sla(within=1))
    sales_order_to_fulfillment_days: Sla = Field(default_factory=lambda: Sla(within=7))
    invoice_payment_grace_days: Sla = Field(default_factory=lambda: Sla(within=3))


class FormulaRefresh(_Section):
    """Formula and roll-up fields, which change without a new ``SystemModstamp``: re-read for
    the records stamped in the recent window (see :mod:`o2c_pipeline.formula_refresh`)."""

    enabled: bool = True
    window_days: int = Field(default=30, gt=0, description="Records stamped in the last N days.")
    cron: str = "45 * * * *"
    fields: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Entity -> fields re-read besides those describe() calls calculated.",
    )

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return Triggers._cron(value)


class O2CConfig(_Section):
    #: the first daily partition (O2C_START_DATE overrides it); None: the sources' earliest record
    start_date: dt.date | None = None
    entities: dict[str, EntityConfig] = Field(default_factory=dict)
    sync: dict[str, Any] = Field(default_factory=dict)
    mappings: dict[str, list[FieldMapping]] = Field(default_factory=dict)
    ownership: dict[str, dict[str, System]] = Field(default_factory=dict)
    triggers: Triggers = Field(default_factory=Triggers)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    #: per-flow mode: off, plan (a dry run every cycle) or on; ``default`` for the rest
    flows: dict[str, FlowMode] = Field(default_factory=dict)
    slas: Slas = Field(default_factory=Slas)
    formula_refresh: FormulaRefresh = Field(default_factory=FormulaRefresh)

    @field_validator("flows", mode="before")
    @classmethod
    def _modes(cls, value: Any) -> Any:
        return {k: _yaml_mode(v) for k, v in value.items()} if isinstance(value, dict) else value

    def flow_mode(self, flow: str) -> FlowMode:
        """The mode of ``flow`` (a follow-up, ``<flow>.writeback``, has its flow's)."""
        name = flow.split(".", 1)[0]
        return self.flows.get(name) or self.flows.get("default") or DEFAULT_FLOW_MODE

    @field_validator("entities")
    @classmethod
    def _entity_keys(cls, value: dict[str, EntityConfig]) -> dict[str, EntityConfig]:
        import re

        bad = [k for k in value if not re.match(ENTITY_KEY, k)]
        if bad:
            raise ValueError(
                f"entity keys are <system>.<name> (e.g. salesforce.subscriptions), not {bad[0]!r}"
            )
        return value

    def entity(self, table: str) -> EntityConfig:
        """The rules of an entity table (every field, when the file says nothing of it)."""
        return self.entities.get(table) or EntityConfig()


class LoadedConfig:
    """The validated file and where it came from (``source`` names it in messages)."""

    def __init__(self, config: O2CConfig, path: Path | None) -> None:
        self.config = config
        self.path = path

    @property
    def source(self) -> str:
        return str(self.path) if self.path else "(no configuration file)"

    def error(self, problems: Sequence[str]) -> ConfigError:
        return ConfigError(self.source, problems)


def parse(text: str, source: str) -> O2CConfig:
    """Validate the file's text; raises :class:`ConfigError` naming every bad key."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(source, [f"not valid YAML{where}: {problem}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            source, ["the file must be a mapping of sections (entities, sync, mappings, ...)"]
        )
    try:
        return O2CConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError.from_validation(source, exc) from None


_CACHE: dict[tuple[str, int], O2CConfig] = {}
_CACHE_LOCK = threading.Lock()


def load(environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """The configuration in effect (cached while the file is unchanged); every default when
    there is no file."""
    path = settings.config_path(environ)
    if path is None:
        return LoadedConfig(O2CConfig(), None)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        raise ConfigError(str(path), ["O2C_CONFIG points to a missing file"]) from None
    key = (str(path.resolve()), stamp)
    with _CACHE_LOCK:
        config = _CACHE.get(key)
        if config is None:
            config = _CACHE[key] = parse(path.read_text(), str(path))
    return LoadedConfig(config, path)
