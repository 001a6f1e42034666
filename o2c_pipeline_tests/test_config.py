"""The configuration file: one schema, every problem named with the file and the key, every
SyncSettings field configurable under ``sync:`` (whoever adds one), the documented example valid."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import yaml

from o2c_pipeline import config
from o2c_pipeline.entities import DECLARED_ENTITIES, configured_entities
from o2c_pipeline.sync import custom_fields
from o2c_pipeline.sync.config import SyncSettings
from o2c_pipeline.sync.flows import FLOWS_BY_NAME

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "o2c.yaml"
    path.write_text(text)
    return {"O2C_CONFIG": str(path)}


def errors(tmp_path: Path, text: str) -> list[str]:
    env = write(tmp_path, text)
    with pytest.raises(config.ConfigError) as err:
        config.load(env)
        SyncSettings.from_env(env)
    return str(err.value).splitlines()


def test_the_documented_example_is_valid(monkeypatch):
    example = ROOT / "o2c.example.yaml"
    monkeypatch.setenv("O2C_CONFIG", str(example))
    loaded = config.load()
    entities = configured_entities(loaded)
    assert {"salesforce.subscriptions", "netsuite.subscriptions"} <= {e.table for e in entities}
    settings = SyncSettings.from_env()
    assert settings.netsuite_timezone == "America/New_York" and settings.company_name_max == 83
    mappings = custom_fields.validate(loaded, FLOWS_BY_NAME)
    assert [m.target for m in mappings["customers"]][:2] == [
        "custentity_o2c_industry",
        "custentity_o2c_short_name",
    ]
    assert loaded.config.triggers.change_sensor_interval_s == 300


def test_no_file_means_every_default(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no o2c.yaml here
    loaded = config.load({})
    assert loaded.path is None and loaded.config == config.O2CConfig()
    assert configured_entities(loaded) == DECLARED_ENTITIES


def test_o2c_yaml_in_the_working_directory_is_the_default(monkeypatch, tmp_path):
    (tmp_path / "o2c.yaml").write_text("thresholds:\n  amount_tolerance: 0.5\n")
    monkeypatch.chdir(tmp_path)
    assert config.load({}).config.thresholds.amount_tolerance == 0.5


def test_every_sync_setting_is_configurable_under_sync(tmp_path):
    """Generic: each field of SyncSettings, set in the file to a value of its type, arrives."""
    wanted = {}
    for name, field in SyncSettings.model_fields.items():
        value = field.get_default(call_default_factory=True)
        choices = (
            typing.get_args(field.annotation)
            if typing.get_origin(field.annotation) is typing.Literal
            else ()
        )
        if choices:  # a choice: another of its values
            value = next(c for c in choices if c != value)
        elif isinstance(value, bool):
            value = not value
        elif isinstance(value, int | float):
            value = value + 1
        elif isinstance(value, str):
            value = "Europe/Paris" if name == "netsuite_timezone" else value + "X"
        elif isinstance(value, list):
            value = [*value, "Extra"]
        elif isinstance(value, dict):
            value = {**value, "Extra": next(iter(value.values()), "x")}
        wanted[name] = value
    env = write(tmp_path, yaml.safe_dump({"sync": wanted}))
    settings = SyncSettings.from_env(env)
    for name, value in wanted.items():
        assert getattr(settings, name) == value, name


def test_bad_sync_values_name_the_key_and_the_file(tmp_path):
    path = tmp_path / "o2c.yaml"
    assert errors(tmp_path, "sync:\n  company_name_max: -5\n") == [
        f"{path}: sync.company_name_max: must be a positive integer, not -5"
    ]
    assert errors(tmp_path, "sync:\n  company_name_max: many\n") == [
        f"{path}: sync.company_name_max: must be an integer, not 'many'"
    ]
    assert errors(tmp_path, "sync:\n  compnay_name_max: 80\n") == [
        f"{path}: sync.compnay_name_max: unknown key (did you mean company_name_max?)"
    ]


def test_every_problem_of_the_file_is_named_at_once(tmp_path):
    path = tmp_path / "o2c.yaml"
    found = errors(
        tmp_path,
        "entities:\n  salesforce.accounts:\n    exclud: [Fax]\n"
        "thresholds:\n  freshness_sla_minutes: 0\n  amount_tolerance: lots\n"
        "triggers:\n  reconciliation_cron: nightly\n"
        "mappings:\n  customers:\n    - {source: Name, target: custentity_x, truncate: 0}\n"
        "sections: {}\n",
    )
    assert found == [
        f"{path}: entities.salesforce.accounts.exclud: unknown key (did you mean exclude?)",
        f"{path}: mappings.customers[0].truncate: must be a positive integer, not 0",
        f"{path}: triggers.reconciliation_cron: must be a cron expression such as '0 6 * * *', not 'nightly'",
        f"{path}: thresholds.freshness_sla_minutes: must be a positive integer, not 0",
        f"{path}: thresholds.amount_tolerance: must be a number, not 'lots'",
        f"{path}: sections: unknown key",
    ]


def test_broken_yaml_names_the_line(tmp_path):
    assert errors(tmp_path, "sync:\n  company_name_max: [1,\n")[0].startswith(
        f"{tmp_path / 'o2c.yaml'}: not valid YAML (line 3)"
    )
    assert errors(tmp_path, "- just\n- a list\n") == [
        f"{tmp_path / 'o2c.yaml'}: the file must be a mapping of sections (entities, sync, mappings, ...)"
    ]


def test_the_environment_time_zone_wins_and_the_deprecated_file_is_still_read(tmp_path):
    env = write(tmp_path, "sync:\n  netsuite_timezone: Asia/Tokyo\n  subsidiary_id: '7'\n")
    assert SyncSettings.from_env(env).netsuite_timezone == "Asia/Tokyo"
    assert (
        SyncSettings.from_env({**env, "O2C_NETSUITE_TIMEZONE": "Europe/Berlin"}).netsuite_timezone
        == "Europe/Berlin"
    )
    legacy = tmp_path / "sync.yaml"
    legacy.write_text("subsidiary_id: '3'\ncompany_name_max: 50\n")
    both = SyncSettings.from_env({**env, "O2C_SYNC_CONFIG": str(legacy)})
    assert (both.subsidiary_id, both.company_name_max) == ("7", 50)  # the file's section wins
    legacy.write_text("company_name_max: -1\n")
    with pytest.raises(config.ConfigError) as err:
        SyncSettings.from_env({**env, "O2C_SYNC_CONFIG": str(legacy)})
    assert str(err.value) == f"{legacy}: company_name_max: must be a positive integer, not -1"


def test_field_rules_match_names_and_patterns_without_case():
    rules = config.EntityConfig(include=["*"], exclude=["jigsaw*", "PhotoUrl"])
    assert rules.wants("Industry") and not rules.wants("JigsawCompanyId")
    assert not rules.wants("photourl")
    only = config.EntityConfig(include=["Title", "Depart*"])
    assert only.wants("title") and only.wants("Department") and not only.wants("Fax")
    assert only.named() == ["Title"]
