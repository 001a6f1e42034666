"""Airbyte's NetSuite source (``airbyte-source-netsuite`` from PyPI) reading record types.

Runs inside its own virtualenv (see ``airbyte.txt``), through the connector's own
``read`` with a catalog of the wanted streams, as Airbyte runs it. Pointed at a NetSuite endpoint
by overriding the one method that derives the host from the realm (``base_url``), nothing else;
TLS trusts ``REQUESTS_CA_BUNDLE``. Prints one JSON object: the record ids per stream and the wall
time of the read.

    python airbyte_netsuite.py --base-url URL --realm 1234567_SB1 --consumer-key K ... \
        --objects customer,salesorder,invoice --start 2026-07-01T00:00:00Z
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

import requests.adapters
from airbyte_cdk.models import (
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteStream,
    DestinationSyncMode,
    SyncMode,
    Type,
)
from source_netsuite import SourceNetsuite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--realm", required=True)
    parser.add_argument("--consumer-key", required=True)
    parser.add_argument("--consumer-secret", required=True)
    parser.add_argument("--token-key", required=True)
    parser.add_argument("--token-secret", required=True)
    parser.add_argument("--objects", required=True, help="record types, comma-separated")
    parser.add_argument("--start", required=True, help="start_datetime, e.g. 2026-07-01T00:00:00Z")
    parser.add_argument("--window-days", type=int, default=30)
    args = parser.parse_args()

    if os.environ.get("REQUESTS_CA_BUNDLE"):
        # The connector's streams send prepared requests on a session that never reads the
        # environment, so the CA bundle is made the process's default trust store instead.
        requests.adapters.DEFAULT_CA_BUNDLE_PATH = os.environ["REQUESTS_CA_BUNDLE"]

    class PointedSource(SourceNetsuite):
        def base_url(self, config):  # noqa: ANN001, ANN202 - the connector's own signature
            return args.base_url.rstrip("/")

    config = {
        "realm": args.realm,
        "consumer_key": args.consumer_key,
        "consumer_secret": args.consumer_secret,
        "token_key": args.token_key,
        "token_secret": args.token_secret,
        "object_types": [o.strip() for o in args.objects.split(",")],
        "start_datetime": args.start,
        "window_in_days": args.window_days,
    }
    logger = logging.getLogger("airbyte")
    started = time.perf_counter()
    source = PointedSource()
    streams = source.streams(config)
    catalog = ConfiguredAirbyteCatalog(
        streams=[
            ConfiguredAirbyteStream(
                stream=stream.as_airbyte_stream(),
                sync_mode=SyncMode.incremental
                if stream.supports_incremental
                else SyncMode.full_refresh,
                destination_sync_mode=DestinationSyncMode.append,
            )
            for stream in streams
        ]
    )
    ids: dict[str, list[str]] = {s.name: [] for s in streams}
    for message in source.read(logger, config, catalog, state=None):
        if message.type == Type.RECORD:
            ids[message.record.stream].append(str(message.record.data.get("id")))
        elif message.type in (Type.LOG, Type.TRACE):  # the connector's own log, for its log file
            print(message.json(exclude_unset=True)[:2000], file=sys.stderr)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "ids": {k: sorted(v) for k, v in ids.items()}}))


if __name__ == "__main__":
    main()
