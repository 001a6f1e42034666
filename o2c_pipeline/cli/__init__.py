"""``o2c``: the command line for those who prefer a terminal to the Dagster UI."""

from __future__ import annotations

import importlib

import click

#: command name -> "module:attribute". Loaded on use, so `o2c sandbox ...` never pays for
#: importing Dagster and the pipeline.
COMMANDS = {
    "run": "o2c_pipeline.cli.run:run",
    "status": "o2c_pipeline.cli.status:status",
    "dlq": "o2c_pipeline.cli.dlq:dlq",
    "sandbox": "o2c_pipeline.cli.sandbox:sandbox",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when invoked (or listed in --help)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        return getattr(importlib.import_module(module), attribute)


@click.group(cls=LazyGroup)
def main() -> None:
    """o2c_pipeline: Salesforce <-> NetSuite order-to-cash sync on Dagster."""


if __name__ == "__main__":
    main()
