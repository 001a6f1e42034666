"""``o2c sandbox ...``: run the local Salesforce and NetSuite sandbox and print its settings."""

from __future__ import annotations

import json
import os
import shlex
import signal
import threading
from pathlib import Path
from typing import Any

import click
import requests

from o2c_sandbox.core import ADMIN_PREFIX, Knobs
from o2c_sandbox.runner import (
    DEFAULT_HOST,
    DEFAULT_NS_PORT,
    DEFAULT_SF_PORT,
    Sandbox,
    credentials_env,
)
from o2c_sandbox.schema import Credentials

SANDBOX_HOME_ENV = "O2C_SANDBOX_HOME"
SF_PORT_ENV = "O2C_SF_PORT"
NS_PORT_ENV = "O2C_NS_PORT"


def sandbox_home() -> Path:
    """``$O2C_SANDBOX_HOME``, else ``sandbox/`` of the pipeline's state folder ``$O2C_HOME``
    (where ``o2c`` looks for a running sandbox), else ``.o2c/sandbox``."""
    explicit = os.environ.get(SANDBOX_HOME_ENV) or (
        str(Path(os.environ["O2C_HOME"]) / "sandbox") if os.environ.get("O2C_HOME") else None
    )
    return Path(explicit or ".o2c/sandbox").resolve()


@click.group()
def sandbox() -> None:
    """The local Salesforce + NetSuite sandbox (HTTPS on 127.0.0.1)."""


@sandbox.command()
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    default=None,
    help=f"Where the world, keys and certificates live (default ${SANDBOX_HOME_ENV}, $O2C_HOME/sandbox or .o2c/sandbox).",
)
@click.option(
    "--scale", type=click.Choice(["small", "medium", "large"]), default="small", show_default=True
)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option(
    "--sf-port",
    type=int,
    default=DEFAULT_SF_PORT,
    show_default=True,
    envvar=SF_PORT_ENV,
    help=f"Salesforce port (${SF_PORT_ENV}); 0 picks a free one.",
)
@click.option(
    "--ns-port",
    type=int,
    default=DEFAULT_NS_PORT,
    show_default=True,
    envvar=NS_PORT_ENV,
    help=f"NetSuite port (${NS_PORT_ENV}); 0 picks a free one.",
)
@click.option("--latency-ms", type=float, default=0.0, show_default=True)
@click.option("--jitter-ms", type=float, default=0.0, show_default=True)
@click.option("--ns-concurrency", type=int, default=5, show_default=True)
@click.option(
    "--ns-rate",
    type=int,
    default=10,
    show_default=True,
    help="NetSuite requests per second, sustained over the ns_rate_window_s knob (60 s).",
)
@click.option(
    "--knob",
    "knob_pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="Any other knob (see GET /__sandbox__/knobs), e.g. --knob fault_429_rate=0.1.",
)
@click.option("--rebuild", is_flag=True, help="Discard the saved world and build a new one.")
def serve(
    state_dir: Path | None,
    latency_ms: float,
    jitter_ms: float,
    ns_concurrency: int,
    ns_rate: int,
    knob_pairs: tuple[str, ...],
    **sandbox_options: Any,
) -> None:
    """Start both servers and block until interrupted."""
    # sandbox_options: --scale, --seed, --host, the ports and --rebuild, as Sandbox takes them
    knobs = Knobs(
        latency_ms=latency_ms,
        jitter_ms=jitter_ms,
        ns_concurrency_limit=ns_concurrency,
        ns_rate_limit=ns_rate,
    )
    try:
        knobs.update(dict(pair.split("=", 1) for pair in knob_pairs))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--knob") from exc
    state_dir = (state_dir or sandbox_home()).resolve()
    box = Sandbox(state_dir=state_dir, knobs=knobs, **sandbox_options)
    box.start()
    creds = box.credentials()
    (state_dir / "server.json").write_text(json.dumps({"pid": os.getpid(), "env": creds}, indent=2))
    click.echo(f"Salesforce sandbox: {box.sf_url}")
    click.echo(f"NetSuite sandbox:   {box.ns_url}")
    click.echo(f"Admin API:          {box.sf_url}/__sandbox__/knobs (either port)")
    click.echo(
        f"Settings:           o2c sandbox credentials --state-dir {shlex.quote(str(state_dir))}"
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        box.stop()
        (state_dir / "server.json").unlink(missing_ok=True)


@sandbox.command()
@click.option("--state-dir", type=click.Path(path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of export lines.")
def credentials(state_dir, as_json) -> None:
    """Print the settings the pipeline reads, as shell `export` lines: Salesforce's, and both of
    NetSuite's credential sets (TBA, the default, and OAuth 2.0 client credentials; pick one
    with NETSUITE_AUTH_FLOW=tba|oauth2_m2m)."""
    state_dir = (state_dir or sandbox_home()).resolve()
    server_file = state_dir / "server.json"
    if server_file.exists():
        env = json.loads(server_file.read_text())["env"]
    else:
        c = Credentials()
        env = credentials_env(
            c,
            sf_url=f"https://{DEFAULT_HOST}:{DEFAULT_SF_PORT}",
            ns_url=f"https://{DEFAULT_HOST}:{DEFAULT_NS_PORT}",
            ca_bundle=state_dir / "ca.pem",
            jwt_key=state_dir / "jwt_private_key.pem",
            ns_private_key=state_dir / c.ns_private_key_file,
        )
    if as_json:
        click.echo(json.dumps(env, indent=2))
    else:
        for key, value in env.items():
            click.echo(f"export {key}={shlex.quote(value)}")


# -- talking to a running sandbox ------------------------------------------------------------------

_state_dir_option = click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    default=None,
    help=f"The running sandbox's state directory (default ${SANDBOX_HOME_ENV} or .o2c/sandbox).",
)
_url_option = click.option(
    "--url",
    default=None,
    help="Either server's base URL (default: the one the sandbox in --state-dir wrote at start).",
)


def _admin_call(
    state_dir: Path | None, url: str | None, method: str, path: str, body: dict | None = None
) -> dict:
    """One admin API call to the sandbox serving ``state_dir``; its CA bundle verifies TLS."""
    state_dir = (state_dir or sandbox_home()).resolve()
    server_file = state_dir / "server.json"
    env = json.loads(server_file.read_text())["env"] if server_file.exists() else {}
    base = url or env.get("SALESFORCE_LOGIN_URL")
    if not base:
        raise click.ClickException(
            f"no running sandbox found in {state_dir} (start one with `o2c sandbox serve`, or pass --url)"
        )
    ca_bundle = env.get("O2C_CA_BUNDLE") or str(state_dir / "ca.pem")
    try:
        response = requests.request(
            method,
            f"{base.rstrip('/')}{ADMIN_PREFIX}{path}",
            json=body,
            verify=ca_bundle,
            timeout=600,
        )
    except requests.RequestException as exc:
        raise click.ClickException(f"cannot reach the sandbox at {base}: {exc}") from exc
    payload = response.json()
    if not response.ok:
        raise click.ClickException(payload.get("error", response.text))
    return payload


def _echo_json(payload: dict) -> None:
    click.echo(json.dumps(payload, indent=2, ensure_ascii=False))


@sandbox.command()
@_state_dir_option
@_url_option
@click.option("--steps", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--full", is_flag=True, help="Print every changed id, not just the counts.")
def advance(state_dir, url, steps, full) -> None:
    """Advance the running sandbox's simulation: new orders, shipments, invoices, payments..."""
    summary = _admin_call(state_dir, url, "POST", "advance", {"steps": steps})
    if not full:
        summary = {
            "steps": summary["steps"],
            "at": summary["at"],
            "counts": summary["counts"],
            "changed": {t: len(ids) for t, ids in summary["changed"].items()},
            "deleted": {t: len(ids) for t, ids in summary["deleted"].items()},
        }
    _echo_json(summary)


@sandbox.command()
@_state_dir_option
@_url_option
@click.argument("changes", nargs=-1, metavar="[NAME=VALUE]...")
def knobs(state_dir, url, changes) -> None:
    """Show the running sandbox's knobs, or change some (e.g. latency_ms=50 fault_429_rate=0.1)."""
    if not changes:
        _echo_json(_admin_call(state_dir, url, "GET", "knobs"))
        return
    try:
        body = dict(change.split("=", 1) for change in changes)
    except ValueError as exc:
        raise click.BadParameter("expected NAME=VALUE", param_hint="CHANGES") from exc
    _echo_json(_admin_call(state_dir, url, "PATCH", "knobs", body))


@sandbox.command()
@_state_dir_option
@_url_option
def stats(state_dir, url) -> None:
    """Row counts of the running sandbox's world, per Salesforce object and NetSuite table."""
    _echo_json(_admin_call(state_dir, url, "GET", "stats"))


@sandbox.command()
@_state_dir_option
@_url_option
@click.option("--reset", is_flag=True, help="Zero the counters after printing them.")
def counters(state_dir, url, reset) -> None:
    """API calls per system and endpoint family, and responses per status code."""
    _echo_json(
        _admin_call(
            state_dir, url, "POST" if reset else "GET", "counters/reset" if reset else "counters"
        )
    )


if __name__ == "__main__":
    sandbox()
