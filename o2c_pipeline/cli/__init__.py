"""``o2c``: the command line for those who prefer a terminal to the Dagster UI."""

from __future__ import annotations

import click

from o2c_pipeline.cli.dlq import dlq
from o2c_pipeline.cli.run import run
from o2c_pipeline.cli.sandbox import sandbox
from o2c_pipeline.cli.status import status


@click.group()
def main() -> None:
    """o2c_pipeline: Salesforce <-> NetSuite order-to-cash sync on Dagster."""


main.add_command(sandbox)
main.add_command(run)
main.add_command(dlq)
main.add_command(status)

if __name__ == "__main__":
    main()
