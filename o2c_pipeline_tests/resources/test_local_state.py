"""One local state for make and the CLI: the checkout's .o2c/ (O2C_HOME), found from anywhere in
the checkout, and the credentials of the sandbox running from its sandbox/ folder."""

from __future__ import annotations

import json
import os

import pytest

from o2c_pipeline import settings


@pytest.fixture
def checkout(tmp_path, monkeypatch):  # noqa: ANN201
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (tmp_path / "pkg" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "pkg" / "deep")
    for name in settings.SETTINGS_BY_NAME:
        monkeypatch.delenv(name, raising=False)
    saved = dict(os.environ)  # apply_checkout_defaults writes the process environment
    yield tmp_path
    os.environ.clear()
    os.environ.update(saved)


def _serve(home, env: dict[str, str]) -> None:  # noqa: ANN001
    (home / "sandbox").mkdir(parents=True)
    (home / "sandbox" / "server.json").write_text(json.dumps({"pid": 1, "env": env}))


def test_the_defaults_live_in_the_checkouts_o2c_folder(checkout) -> None:
    home = checkout / ".o2c"
    assert settings.o2c_home() == home
    assert settings.warehouse_location() == str(home / "warehouse.duckdb")
    assert settings.default_checkpoint_url() == f"sqlite:///{home / 'checkpoints.sqlite'}"
    assert settings.dagster_home() == home / "dagster_home"


def test_the_running_sandbox_of_the_checkout_supplies_unset_credentials(checkout) -> None:
    _serve(checkout / ".o2c", {"SALESFORCE_CLIENT_ID": "sandbox-app", "NOT_A_SETTING": "x"})
    applied = settings.apply_checkout_defaults()
    assert os.environ["SALESFORCE_CLIENT_ID"] == "sandbox-app" and "NOT_A_SETTING" not in applied
    assert os.environ["DAGSTER_HOME"] == str(checkout / ".o2c" / "dagster_home")
    assert (checkout / ".o2c" / "dagster_home" / "dagster.yaml").is_file()
    assert sorted(p.name for p in checkout.iterdir()) == [
        ".o2c",
        "dagster.yaml",
        "pkg",
        "pyproject.toml",
    ]


def test_credentials_of_ones_own_are_never_mixed_with_the_sandboxs(checkout, monkeypatch) -> None:
    _serve(checkout / ".o2c", {"NETSUITE_ACCOUNT_ID": "SANDBOX", "SALESFORCE_CLIENT_ID": "app"})
    monkeypatch.setenv("NETSUITE_ACCOUNT_ID", "1234567_SB1")
    applied = settings.apply_checkout_defaults()
    assert "SALESFORCE_CLIENT_ID" not in applied and "SALESFORCE_CLIENT_ID" not in os.environ
    assert os.environ["NETSUITE_ACCOUNT_ID"] == "1234567_SB1"


def test_o2c_home_moves_everything(checkout, tmp_path_factory, monkeypatch) -> None:
    elsewhere = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("O2C_HOME", str(elsewhere))
    assert settings.warehouse_location() == str(elsewhere / "warehouse.duckdb")
    assert settings.dagster_home() == elsewhere / "dagster_home"
    assert settings.sandbox_settings() == {}  # no sandbox runs from there
