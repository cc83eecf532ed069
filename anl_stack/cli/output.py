"""Rendering shared by every command: errors, JSON, tables."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from anl_stack.core.errors import AnlError


def echo_json(data: Any) -> None:
    """One JSON document on stdout."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def fail(error: AnlError, *, json_output: bool = False) -> NoReturn:
    """Print an AnlError in the one error shape and exit with its code."""
    if json_output:
        click.echo(
            json.dumps(
                {"error": True, "exit_code": int(error.exit_code),
                 "errors": [r.to_dict() for r in error.records]},
                ensure_ascii=False,
            )
        )
    else:
        for record in error.records:
            click.echo(f"error: {record.format()}", err=True)
    sys.exit(int(error.exit_code))
