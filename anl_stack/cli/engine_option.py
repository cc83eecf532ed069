"""``--engine``: the Ansible strategy of one command's runs (anl_stack.deploy.engines)."""

from __future__ import annotations

import os

import click

from anl_stack.deploy.engines import ENGINE_ENV
from anl_stack.plugin_api import ENGINES


def _remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    # Through the environment, so every run of the command (and any child process) uses it;
    # put back when the command ends (commands also run in-process, in tests and fleets).
    if not value:
        return
    before = os.environ.get(ENGINE_ENV)
    os.environ[ENGINE_ENV] = value
    ctx.call_on_close(lambda: os.environ.pop(ENGINE_ENV, None) if before is None
                      else os.environ.__setitem__(ENGINE_ENV, before))


ENGINE_OPTION = click.option(
    "--engine", type=click.Choice(ENGINES), default=None, expose_value=False, callback=_remember,
    help="How Ansible runs the tasks: mitogen (faster: one Python process per host) or ansible "
         "(Ansible's linear strategy). Default: the commune setting anl_engine, else ansible.")
