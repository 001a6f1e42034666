"""The one place that knows the pipeline's environment settings.

Each setting is declared once (name, whether it is required, secret, a file or a URL, default);
validation, the resource factory and the documentation all read those declarations. Secrets reach
the resources as ``dg.EnvVar`` so Dagster resolves them at run time and never shows their values;
everything else is read and checked when the definitions load, so a missing or malformed setting
fails at once with a message naming it, not halfway through a run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg

from o2c_pipeline.pools import NETSUITE_API
from o2c_pipeline.resources import CheckpointStore, NetSuiteResource, SalesforceResource

SALESFORCE_RESOURCE_KEY = "salesforce"
NETSUITE_RESOURCE_KEY = "netsuite"
CHECKPOINTS_RESOURCE_KEY = "checkpoints"

DEFAULT_WAREHOUSE = "warehouse/o2c.duckdb"
CHECKPOINT_FILE_NAME = "checkpoints.sqlite"
SALESFORCE_AUTH_FLOWS = ("jwt", "client_credentials", "password")


@dataclass(frozen=True)
class Setting:
    """One environment variable the pipeline reads."""

    name: str
    help: str
    required: bool = False
    secret: bool = False
    default: str | None = None
    kind: str = "text"  # text | https_url | file | sqlalchemy_url | version | int | number | choice
    choices: tuple[str, ...] = ()


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "SALESFORCE_LOGIN_URL",
        "OAuth login host (login, test or My Domain URL).",
        default="https://login.salesforce.com",
        kind="https_url",
    ),
    Setting(
        "SALESFORCE_AUTH_FLOW",
        "jwt (recommended), client_credentials or password.",
        default="jwt",
        kind="choice",
        choices=SALESFORCE_AUTH_FLOWS,
    ),
    Setting("SALESFORCE_CLIENT_ID", "Connected app consumer key.", required=True),
    Setting(
        "SALESFORCE_CLIENT_SECRET", "Consumer secret (client_credentials, password).", secret=True
    ),
    Setting("SALESFORCE_USERNAME", "Integration user (jwt, password)."),
    Setting("SALESFORCE_PASSWORD", "Password plus security token (password flow).", secret=True),
    Setting(
        "SALESFORCE_PRIVATE_KEY_FILE",
        "PEM private key of the connected app's certificate (jwt).",
        kind="file",
    ),
    Setting("SALESFORCE_API_VERSION", "Pinned REST API version.", default="62.0", kind="version"),
    Setting(
        "NETSUITE_ACCOUNT_ID", "Account id as NetSuite shows it, e.g. 1234567_SB1.", required=True
    ),
    Setting(
        "NETSUITE_BASE_URL",
        "REST host; default https://{account slug}.suitetalk.api.netsuite.com.",
        kind="https_url",
    ),
    Setting("NETSUITE_CONSUMER_KEY", "Integration record consumer key.", required=True),
    Setting(
        "NETSUITE_CONSUMER_SECRET",
        "Integration record consumer secret.",
        required=True,
        secret=True,
    ),
    Setting("NETSUITE_TOKEN_ID", "Access token id.", required=True),
    Setting("NETSUITE_TOKEN_SECRET", "Access token secret.", required=True, secret=True),
    Setting(
        "NETSUITE_CONCURRENCY_LIMIT",
        "The account's concurrent-request limit.",
        default="5",
        kind="int",
    ),
    Setting(
        "NETSUITE_RATE_LIMIT",
        "Requests per second the account allows.",
        default="10",
        kind="number",
    ),
    Setting(
        "O2C_CA_BUNDLE",
        "CA bundle (PEM) for TLS verification; default the system store.",
        kind="file",
    ),
    Setting("O2C_WAREHOUSE", "DuckDB warehouse file.", default=DEFAULT_WAREHOUSE),
    Setting(
        "O2C_CHECKPOINT_URL",
        "SQLAlchemy URL of the checkpoint store; default a SQLite file beside the warehouse.",
        kind="sqlalchemy_url",
    ),
)
SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}

# settings a Salesforce auth flow cannot do without
_FLOW_NEEDS = {
    "jwt": ("SALESFORCE_USERNAME", "SALESFORCE_PRIVATE_KEY_FILE"),
    "client_credentials": ("SALESFORCE_CLIENT_SECRET",),
    "password": ("SALESFORCE_CLIENT_SECRET", "SALESFORCE_USERNAME", "SALESFORCE_PASSWORD"),
}


class SettingsError(ValueError):
    """One or more settings are missing or malformed; the message names each of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid pipeline settings:\n  - " + "\n  - ".join(problems))


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def value(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The setting's value (blank counts as unset), or its default."""
    raw = _env(environ).get(name, "").strip()
    return raw or SETTINGS_BY_NAME[name].default


def _problem(setting: Setting, raw: str) -> str | None:
    if setting.kind == "https_url":
        parsed = urlparse(raw)
        if parsed.scheme != "https" or not parsed.netloc:
            return f"{setting.name} must be an https:// URL, not {raw!r}"
    elif setting.kind == "file":
        if not Path(raw).expanduser().is_file():
            return f"{setting.name} points to a missing file: {raw}"
    elif setting.kind == "version":
        if not re.fullmatch(r"\d+\.\d+", raw):
            return f"{setting.name} must look like 62.0, not {raw!r}"
    elif setting.kind == "int":
        if not raw.isdigit() or int(raw) < 1:
            return f"{setting.name} must be a positive whole number, not {raw!r}"
    elif setting.kind == "number":
        try:
            if float(raw) <= 0:
                raise ValueError
        except ValueError:
            return f"{setting.name} must be a positive number, not {raw!r}"
    elif setting.kind == "choice":
        if raw not in setting.choices:
            return f"{setting.name} must be one of {', '.join(setting.choices)}, not {raw!r}"
    elif setting.kind == "sqlalchemy_url":
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(raw)
        except ArgumentError:
            return f"{setting.name} is not a SQLAlchemy URL (e.g. sqlite:///path or postgresql+psycopg2://...)"
    return None


def validate(environ: Mapping[str, str] | None = None) -> None:
    """Raise :class:`SettingsError` naming every missing or malformed setting."""
    problems: list[str] = []
    for setting in SETTINGS:
        raw = value(setting.name, environ)
        if raw is None:
            if setting.required:
                problems.append(f"{setting.name} is not set ({setting.help})")
            continue
        problem = _problem(setting, raw)
        if problem:
            problems.append(problem)
    flow = value("SALESFORCE_AUTH_FLOW", environ)
    for name in _FLOW_NEEDS.get(flow or "", ()):
        if value(name, environ) is None:
            problems.append(f"{name} is not set (SALESFORCE_AUTH_FLOW={flow} needs it)")
    if problems:
        raise SettingsError(problems)


def warehouse_path(environ: Mapping[str, str] | None = None) -> Path:
    """The DuckDB warehouse file (``O2C_WAREHOUSE``)."""
    return Path(value("O2C_WAREHOUSE", environ) or DEFAULT_WAREHOUSE).expanduser()


def default_checkpoint_url(environ: Mapping[str, str] | None = None) -> str:
    """``O2C_CHECKPOINT_URL``, else a SQLite file beside the warehouse."""
    explicit = value("O2C_CHECKPOINT_URL", environ)
    if explicit:
        return explicit
    return f"sqlite:///{warehouse_path(environ).resolve().parent / CHECKPOINT_FILE_NAME}"


def _secret_or_value(name: str, environ: Mapping[str, str] | None) -> str | dg.EnvVar | None:
    """Secrets as ``EnvVar`` (resolved at run time, never displayed); others as their value."""
    if value(name, environ) is None:
        return None
    return dg.EnvVar(name) if SETTINGS_BY_NAME[name].secret else value(name, environ)


def build_resources(
    environ: Mapping[str, str] | None = None, *, check: bool = True
) -> dict[str, dg.ConfigurableResource]:
    """The resources for ``Definitions``, keyed ``salesforce``, ``netsuite`` and ``checkpoints``.

    ``check`` validates first (no network involved). Secrets are passed as ``dg.EnvVar`` and read
    from the process environment when a run starts.
    """
    if check:
        validate(environ)

    def get(name: str):  # noqa: ANN202
        return _secret_or_value(name, environ)

    ca_bundle = value("O2C_CA_BUNDLE", environ)
    salesforce_fields = {
        "login_url": get("SALESFORCE_LOGIN_URL"),
        "auth_flow": get("SALESFORCE_AUTH_FLOW"),
        "client_id": get("SALESFORCE_CLIENT_ID") or "",
        "client_secret": get("SALESFORCE_CLIENT_SECRET"),
        "username": get("SALESFORCE_USERNAME"),
        "password": get("SALESFORCE_PASSWORD"),
        "private_key_file": get("SALESFORCE_PRIVATE_KEY_FILE"),
        "api_version": get("SALESFORCE_API_VERSION"),
        "ca_bundle": ca_bundle,
    }
    netsuite_fields = {
        "account_id": get("NETSUITE_ACCOUNT_ID") or "",
        "base_url": get("NETSUITE_BASE_URL"),
        "consumer_key": get("NETSUITE_CONSUMER_KEY") or "",
        "consumer_secret": get("NETSUITE_CONSUMER_SECRET") or "",
        "token_id": get("NETSUITE_TOKEN_ID") or "",
        "token_secret": get("NETSUITE_TOKEN_SECRET") or "",
        # one op's share of the account budget: pools.NETSUITE_API runs that many ops at once
        "concurrency_limit": NETSUITE_API.requests_per_slot(
            int(value("NETSUITE_CONCURRENCY_LIMIT", environ) or 5)
        ),
        "rate_limit_per_s": NETSUITE_API.rate_per_slot(
            float(value("NETSUITE_RATE_LIMIT", environ) or 10)
        ),
        "ca_bundle": ca_bundle,
    }
    return {
        SALESFORCE_RESOURCE_KEY: SalesforceResource(
            **{k: v for k, v in salesforce_fields.items() if v is not None}
        ),
        NETSUITE_RESOURCE_KEY: NetSuiteResource(
            **{k: v for k, v in netsuite_fields.items() if v is not None}
        ),
        CHECKPOINTS_RESOURCE_KEY: CheckpointStore(url=default_checkpoint_url(environ)),
    }


def settings_table() -> str:
    """The settings as a Markdown table (for the README)."""
    lines = ["| Variable | Required | Default | Meaning |", "|---|---|---|---|"]
    for s in SETTINGS:
        required = "yes" if s.required else ""
        lines.append(f"| `{s.name}` | {required} | {s.default or ''} | {s.help} |")
    return "\n".join(lines)
