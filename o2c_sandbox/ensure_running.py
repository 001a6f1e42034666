"""Start the sandbox in the background unless one already answers (``make run`` / ``make ui``).

The server outlives this command so that the UI, the CLI and later runs share one world; stop it
with ``make sandbox-stop`` (or ``--stop``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from o2c_sandbox.runner import DEFAULT_HOST, DEFAULT_SF_PORT


def _health(state_dir: Path) -> bool:
    ca = state_dir / "ca.pem"
    if not ca.exists():
        return False
    try:
        r = requests.get(f"https://{DEFAULT_HOST}:{DEFAULT_SF_PORT}/__sandbox__/health",
                         verify=str(ca), timeout=2)
        return r.ok
    except requests.RequestException:
        return False


def ensure_running(state_dir: Path, scale: str, timeout_s: float) -> None:
    if _health(state_dir):
        print(f"sandbox already running (state in {state_dir})")
        return
    state_dir.mkdir(parents=True, exist_ok=True)
    log = open(state_dir / "serve.log", "ab")  # noqa: SIM115 - handed to the child
    cmd = [sys.executable, "-m", "o2c_sandbox.cli", "serve", "--state-dir",
           str(state_dir), "--scale", scale]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    print(f"starting the sandbox (pid {proc.pid}, {scale} world, log {state_dir / 'serve.log'}) ...")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the sandbox exited with code {proc.returncode}; see {state_dir / 'serve.log'}")
        if _health(state_dir):
            print("sandbox ready")
            return
        time.sleep(0.3)
    sys.exit(f"the sandbox did not answer within {timeout_s:.0f} s; see {state_dir / 'serve.log'}")


def stop(state_dir: Path) -> None:
    server_file = state_dir / "server.json"
    if not server_file.exists():
        print("no sandbox running")
        return
    pid = json.loads(server_file.read_text())["pid"]
    try:
        os.kill(pid, signal.SIGTERM)
        print(f"stopped the sandbox (pid {pid})")
    except ProcessLookupError:
        server_file.unlink(missing_ok=True)
        print("no sandbox running")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
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
