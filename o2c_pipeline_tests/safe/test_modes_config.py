"""The configuration's ``flows``, ``slas`` and ``formula_refresh`` sections: bad values fail
fast naming the file and the key; YAML's bare on/off are modes."""

from __future__ import annotations

import pytest

from o2c_pipeline import config
from o2c_pipeline.sync import flows
from o2c_pipeline.sync.plan import field_changes


def _loaded(tmp_path, text: str) -> config.LoadedConfig:  # noqa: ANN001
    path = tmp_path / "o2c.yaml"
    path.write_text(text)
    return config.LoadedConfig(config.parse(text, str(path)), path)


def test_bare_on_and_off_are_modes_and_default_covers_the_rest(tmp_path) -> None:  # noqa: ANN001
    loaded = _loaded(tmp_path, "flows:\n  default: plan\n  customers: on\n  payments: off\n")
    flows.validate_modes(loaded)
    cfg = loaded.config
    assert cfg.flow_mode("customers") == "on" and cfg.flow_mode("payments") == "off"
    assert cfg.flow_mode("orders") == "plan"
    assert cfg.flow_mode("customers.writeback") == "on"  # a follow-up has its flow's mode
    assert config.O2CConfig().flow_mode("orders") == "on"  # no section: every flow on


def test_a_bad_mode_or_an_unknown_flow_names_the_file_and_the_key(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(config.ConfigError, match=r"o2c.yaml: flows.orders: input should be"):
        _loaded(tmp_path, "flows: {orders: sometimes}\n")
    loaded = _loaded(tmp_path, "flows: {ordrs: on}\n")
    with pytest.raises(
        config.ConfigError, match=r"o2c.yaml: flows.ordrs: unknown flow \(did you mean orders\?\)"
    ):
        flows.validate_modes(loaded)


def test_sla_and_refresh_settings_are_checked(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(config.ConfigError) as err:
        _loaded(
            tmp_path,
            "slas:\n  invoice_payment_grace_days: {within: 0, severity: LOUD}\n"
            "formula_refresh: {window_days: -1, cron: nope}\n",
        )
    text = str(err.value)
    for key in (
        "slas.invoice_payment_grace_days.within",
        "slas.invoice_payment_grace_days.severity",
        "formula_refresh.window_days",
        "formula_refresh.cron",
    ):
        assert f"o2c.yaml: {key}:" in text


def test_a_plan_shows_old_and_new_values_of_the_fields_that_change() -> None:
    payload = {"Id": "a1", "Status": "Shipped", "Amount__c": 10.0, "entity": {"id": "7"}}
    before = {"Id": "a1", "Status": "Pending", "Amount__c": 10.001, "entity": "7"}
    assert field_changes(payload, before) == [("Status", "Pending", "Shipped")]
    assert field_changes({"companyName": "X"}, None) == [("companyName", None, "X")]
