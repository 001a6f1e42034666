"""``o2c sandbox ...``: run the local Salesforce and NetSuite sandbox and print its settings."""

from __future__ import annotations

import json
import os
import shlex
import signal
import threading
from pathlib import Path

import click

from o2c_pipeline.sandbox.core import Knobs
from o2c_pipeline.sandbox.runner import DEFAULT_HOST, DEFAULT_NS_PORT, DEFAULT_SF_PORT, Sandbox, credentials_env
from o2c_pipeline.sandbox.schema import Credentials

SANDBOX_HOME_ENV = "O2C_SANDBOX_HOME"


def sandbox_home() -> Path:
    return Path(os.environ.get(SANDBOX_HOME_ENV, ".o2c/sandbox")).resolve()


@click.group()
def sandbox() -> None:
    """The local Salesforce + NetSuite sandbox (HTTPS on 127.0.0.1)."""


@sandbox.command()
@click.option("--state-dir", type=click.Path(path_type=Path), default=None,
              help=f"Where the world, keys and certificates live (default ${SANDBOX_HOME_ENV} or .o2c/sandbox).")
@click.option("--scale", type=click.Choice(["small", "medium", "large"]), default="small", show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option("--sf-port", type=int, default=DEFAULT_SF_PORT, show_default=True)
@click.option("--ns-port", type=int, default=DEFAULT_NS_PORT, show_default=True)
@click.option("--latency-ms", type=float, default=0.0, show_default=True)
@click.option("--jitter-ms", type=float, default=0.0, show_default=True)
@click.option("--ns-concurrency", type=int, default=5, show_default=True)
@click.option("--ns-rate", type=int, default=10, show_default=True, help="NetSuite requests per second.")
@click.option("--knob", "knob_pairs", multiple=True, metavar="NAME=VALUE",
              help="Any other knob (see GET /__sandbox__/knobs), e.g. --knob fault_429_rate=0.1.")
@click.option("--rebuild", is_flag=True, help="Discard the saved world and build a new one.")
def serve(state_dir, scale, seed, host, sf_port, ns_port, latency_ms, jitter_ms, ns_concurrency,
          ns_rate, knob_pairs, rebuild) -> None:
    """Start both servers and block until interrupted."""
    knobs = Knobs(latency_ms=latency_ms, jitter_ms=jitter_ms, ns_concurrency_limit=ns_concurrency,
                  ns_rate_limit=ns_rate)
    try:
        knobs.update(dict(pair.split("=", 1) for pair in knob_pairs))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--knob") from exc
    state_dir = (state_dir or sandbox_home()).resolve()
    box = Sandbox(state_dir=state_dir, scale=scale, seed=seed, host=host, sf_port=sf_port,
                  ns_port=ns_port, knobs=knobs, rebuild=rebuild)
    box.start()
    creds = box.credentials()
    (state_dir / "server.json").write_text(json.dumps({"pid": os.getpid(), "env": creds}, indent=2))
    click.echo(f"Salesforce sandbox: {box.sf_url}")
    click.echo(f"NetSuite sandbox:   {box.ns_url}")
    click.echo(f"Admin API:          {box.sf_url}/__sandbox__/knobs (either port)")
    click.echo(f"Settings:           o2c sandbox credentials --state-dir {shlex.quote(str(state_dir))}")
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
    """Print the settings the pipeline reads, as shell `export` lines."""
    state_dir = (state_dir or sandbox_home()).resolve()
    server_file = state_dir / "server.json"
    if server_file.exists():
        env = json.loads(server_file.read_text())["env"]
    else:
        env = credentials_env(Credentials(), sf_url=f"https://{DEFAULT_HOST}:{DEFAULT_SF_PORT}",
                              ns_url=f"https://{DEFAULT_HOST}:{DEFAULT_NS_PORT}",
                              ca_bundle=state_dir / "ca.pem",
                              jwt_key=state_dir / "jwt_private_key.pem")
    if as_json:
        click.echo(json.dumps(env, indent=2))
    else:
        for key, value in env.items():
            click.echo(f"export {key}={shlex.quote(value)}")
