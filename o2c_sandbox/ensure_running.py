"""Start the sandbox in the background unless it already runs (``make run`` / ``make ui``).

A sandbox is recognised by its state folder: the server it started wrote ``server.json`` there
(its pid and the URLs it really listens on), and its health answer names the same folder. So two
checkouts side by side each run their own: the second finds the default ports taken by the first
and, unless ``O2C_SF_PORT`` / ``O2C_NS_PORT`` ask for particular ones, takes free ports instead.

The server outlives this command so that the UI, the CLI and later runs share one world; stop it
with ``make sandbox-stop`` (or ``--stop``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from o2c_sandbox.cli import NS_PORT_ENV, SF_PORT_ENV
from o2c_sandbox.core import ADMIN_PREFIX
from o2c_sandbox.runner import DEFAULT_HOST, DEFAULT_NS_PORT, DEFAULT_SF_PORT

SERVER_FILE = "server.json"


def running_server(state_dir: Path) -> dict[str, Any] | None:
    """The ``server.json`` of the sandbox serving ``state_dir``, if that server is alive and
    answers as the sandbox of this very folder."""
    server_file = state_dir / SERVER_FILE
    try:
        server = json.loads(server_file.read_text())
        os.kill(int(server["pid"]), 0)
        url = server["env"]["SALESFORCE_LOGIN_URL"]
        answer = requests.get(
            f"{url}{ADMIN_PREFIX}health", verify=server["env"]["O2C_CA_BUNDLE"], timeout=2
        )
        answer.raise_for_status()
    except (OSError, ValueError, KeyError, requests.RequestException):
        return None
    if Path(answer.json().get("state_dir", "")).resolve() != state_dir.resolve():
        return None
    return server


def port_is_free(port: int, host: str = DEFAULT_HOST) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(env_name: str, default: int) -> tuple[int, str | None]:
    """The port to serve on: the one asked for in ``env_name``, else the default when free, else
    a free one (0); with a note when the default was taken."""
    asked = os.environ.get(env_name, "").strip()
    if asked:
        return int(asked), None
    if port_is_free(default):
        return default, None
    return 0, f"port {default} is taken (another checkout's sandbox?): using a free one"


def ensure_running(state_dir: Path, scale: str, timeout_s: float) -> dict[str, Any]:
    server = running_server(state_dir)
    if server is not None:
        urls = f"{server['env']['SALESFORCE_LOGIN_URL']}, {server['env']['NETSUITE_BASE_URL']}"
        print(f"sandbox already running ({urls}; state in {state_dir})")
        return server
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / SERVER_FILE).unlink(missing_ok=True)  # a stale file of a server that is gone
    sf_port, sf_note = choose_port(SF_PORT_ENV, DEFAULT_SF_PORT)
    ns_port, ns_note = choose_port(NS_PORT_ENV, DEFAULT_NS_PORT)
    for note in filter(None, (sf_note, ns_note)):
        print(note)
    log = open(state_dir / "serve.log", "ab")  # noqa: SIM115 - handed to the child
    cmd = [
        sys.executable,
        "-m",
        "o2c_sandbox.cli",
        "serve",
        "--state-dir",
        str(state_dir),
        "--scale",
        scale,
        "--sf-port",
        str(sf_port),
        "--ns-port",
        str(ns_port),
    ]
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    print(
        f"starting the sandbox (pid {proc.pid}, {scale} world, log {state_dir / 'serve.log'}) ..."
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(
                f"the sandbox exited with code {proc.returncode}; see {state_dir / 'serve.log'}"
            )
        server = running_server(state_dir)
        if server is not None:
            env = server["env"]
            print(
                f"sandbox ready: Salesforce {env['SALESFORCE_LOGIN_URL']}, "
                f"NetSuite {env['NETSUITE_BASE_URL']}"
            )
            return server
        time.sleep(0.3)
    sys.exit(f"the sandbox did not answer within {timeout_s:.0f} s; see {state_dir / 'serve.log'}")


def stop(state_dir: Path) -> None:
    server = running_server(state_dir)
    if server is None:
        (state_dir / SERVER_FILE).unlink(missing_ok=True)
        print(f"no sandbox running for {state_dir}")
        return
    os.kill(int(server["pid"]), signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (state_dir / SERVER_FILE).exists():
        time.sleep(0.1)
    print(f"stopped the sandbox (pid {server['pid']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--scale", default=os.environ.get("O2C_SANDBOX_SCALE", "small"))
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--stop", action="store_true")
    args = parser.parse_args()
    if args.stop:
        stop(args.state_dir.resolve())
    else:
        ensure_running(args.state_dir.resolve(), args.scale, args.timeout)


if __name__ == "__main__":
    main()
