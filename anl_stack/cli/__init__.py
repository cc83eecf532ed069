"""The ``anl-stack`` command line.

Subcommands live in their own modules and are imported only when invoked,
so ``--help`` and ``plugins list`` never pay for Ansible or testinfra.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from anl_stack import __version__
from anl_stack.cli.output import fail
from anl_stack.core.errors import AnlError, ExitCode
from anl_stack.plugin_api import DEPLOY, LIFECYCLE

# name -> (module, attribute, one-line help shown by the root --help)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "plugins": ("anl_stack.cli.plugins_cmd", "plugins", "List, show and compare plugins (the catalog of fiches)."),
    "lab": ("anl_stack.cli.lab_cmd", "lab", "Disposable Debian lab hosts on this machine (root)."),
    "init": ("anl_stack.cli.inventory_cmd", "init", "Create a commune inventory."),
    "inventory": ("anl_stack.cli.inventory_cmd", "inventory", "Check a commune inventory."),
    "secrets": ("anl_stack.cli.secrets_cmd", "secrets", "List or reveal generated secrets."),
    "plan": ("anl_stack.cli.deploy_cmd", "plan", "Show what a deploy would change (check mode)."),
    "deploy": ("anl_stack.cli.deploy_cmd", "deploy", "Deploy plugins to a commune's servers."),
    "verify": ("anl_stack.cli.verify_cmd", "verify", "Verify an installation with testinfra checks."),
    "artifacts": ("anl_stack.cli.artifacts_cmd", "artifacts", "Fetch, verify and bundle application releases."),
}
# Every lifecycle step the plugin contract declares has a command; deploy has its own (with plan).
SUBCOMMANDS.update({step.name: ("anl_stack.cli.lifecycle_cmd", step.name, step.summary)
                    for step in LIFECYCLE if step is not DEPLOY})
SUBCOMMANDS["backups"] = ("anl_stack.cli.lifecycle_cmd", "backups", "List a plugin's backup snapshots.")


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._available())

    def _available(self) -> dict[str, tuple[str, str, str]]:
        # A subcommand module not written yet is simply not offered.
        return {
            name: spec
            for name, spec in SUBCOMMANDS.items()
            if importlib.util.find_spec(spec[0]) is not None
        }

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        spec = self._available().get(name)
        if spec is None:
            return None
        module = importlib.import_module(spec[0])
        return getattr(module, spec[1])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Root help shows short help without importing every subcommand.
        rows = [(name, spec[2]) for name, spec in sorted(self._available().items())]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AnlError as error:
            fail(error, json_output=_wants_json(ctx))
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(ExitCode.INTERRUPTED)


def _wants_json(ctx: click.Context) -> bool:
    return "--json" in sys.argv[1:]


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="anl-stack")
@click.option("--allow-lookups", is_flag=True,
              help="Let the inventory's templates run Ansible lookups on this controller (refused by default: "
                   "a shared inventory is untrusted).")
def cli(allow_lookups: bool) -> None:
    """anl-stack: deploy, verify and share the free software communes run together.

    \b
    Exit codes: 0 success; 1 the work ran and something failed;
    2 refused before touching any host; 130 interrupted.
    """
    if allow_lookups:
        from anl_stack.core.operator import ALLOW_LOOKUPS_ENV

        os.environ[ALLOW_LOOKUPS_ENV] = "1"  # child processes (verify's pytest) see it too


def main() -> None:
    cli(prog_name="anl-stack")
