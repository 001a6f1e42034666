"""``o2c``: the command line for those who prefer a terminal to the Dagster UI."""

from __future__ import annotations

import importlib
from importlib.metadata import EntryPoint, entry_points

import click

#: command name -> "module:attribute". Loaded on use, so a quick command never pays for
#: importing Dagster and the whole pipeline.
COMMANDS = {
    "run": "o2c_pipeline.cli.run:run",
    "status": "o2c_pipeline.cli.status:status",
    "dlq": "o2c_pipeline.cli.dlq:dlq",
    "sync": "o2c_pipeline.cli.sync:sync",
}
#: Entry-point group through which other installed packages add commands (the sandbox extra adds
#: ``o2c sandbox``), so the pipeline never imports them itself.
PLUGIN_GROUP = "o2c.commands"


def _plugins() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP)}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when invoked (or listed in --help); a
    bad setting or configuration file ends any of them with its one-line message."""

    def invoke(self, ctx: click.Context) -> object:
        from o2c_pipeline.config import ConfigError
        from o2c_pipeline.settings import SettingsError

        try:
            return super().invoke(ctx)
        except (ConfigError, SettingsError) as exc:
            raise click.ClickException(str(exc)) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *_plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            plugin = _plugins().get(cmd_name)
            return plugin.load() if plugin is not None else None
        module, attribute = target.split(":")
        return getattr(importlib.import_module(module), attribute)


@click.group(cls=LazyGroup)
@click.pass_context
def main(ctx: click.Context) -> None:
    """o2c_pipeline: Salesforce <-> NetSuite order-to-cash sync on Dagster.

    State lives in the checkout's .o2c/ (O2C_HOME), as for `make run`; without Salesforce and
    NetSuite settings the commands use the sandbox running from .o2c/sandbox.
    """
    if ctx.invoked_subcommand in COMMANDS:
        from o2c_pipeline.settings import apply_checkout_defaults

        apply_checkout_defaults()


if __name__ == "__main__":
    main()
