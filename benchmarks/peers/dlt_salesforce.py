"""dlt's verified Salesforce source reading objects from a Salesforce endpoint into DuckDB.

Runs inside its own virtualenv (see ``dlt.txt``), as its users run it: the source's
own resources, unmodified, with its ``InstanceAuth`` after one OAuth token request of ours (the
verified source cannot be given a login host). The only things pointed at the sandbox are the
instance URL and the CA bundle (``REQUESTS_CA_BUNDLE``). Prints one JSON object: rows and the
record ids per object, and the wall time of the extraction.

    python dlt_salesforce.py --source-dir DIR --login-url URL --client-id ID --client-secret S \
        --objects account,contact,product_2 --workdir DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import requests


def token(login_url: str, client_id: str, client_secret: str) -> dict:
    response = requests.post(
        f"{login_url.rstrip('/')}/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, client_secret),
        timeout=60,
    )
    response.raise_for_status()
    return response.json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", type=Path, required=True, help="dlt's sources/salesforce")
    parser.add_argument("--login-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--objects", required=True, help="dlt resource names, comma-separated")
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args()

    # the verified source is a package named `salesforce`: link it under that name
    packages = Path(tempfile.mkdtemp(dir=args.workdir))
    (packages / "salesforce").symlink_to(args.source_dir.resolve(), target_is_directory=True)
    sys.path.insert(0, str(packages))
    import dlt
    from salesforce import salesforce_source
    from salesforce.helpers.client import InstanceAuth

    started = time.perf_counter()
    answer = token(args.login_url, args.client_id, args.client_secret)
    credentials = InstanceAuth(
        session_id=answer["access_token"], instance_url=answer["instance_url"]
    )
    resources = [name.strip() for name in args.objects.split(",")]
    pipeline = dlt.pipeline(
        pipeline_name="peer_salesforce",
        destination=dlt.destinations.duckdb(str(args.workdir / "dlt.duckdb")),
        dataset_name="salesforce",
        pipelines_dir=str(args.workdir / "dlt_pipelines"),
    )
    pipeline.run(salesforce_source(credentials=credentials).with_resources(*resources))
    seconds = time.perf_counter() - started
    ids = {}
    with pipeline.sql_client() as client:
        for name in resources:
            ids[name] = sorted(row[0] for row in client.execute_sql(f"SELECT id FROM {name}"))
    print(json.dumps({"seconds": seconds, "ids": ids}))


if __name__ == "__main__":
    main()
