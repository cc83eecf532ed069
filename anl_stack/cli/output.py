"""Rendering shared by every command: errors, JSON, tables."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.i18n import _
from anl_stack.core.masking import mask, mask_data


def echo_json(data: Any) -> None:
    """One JSON document on stdout, with known secrets masked."""
    click.echo(json.dumps(mask_data(data), ensure_ascii=False, indent=2, default=str))


def fail(error: AnlError, *, json_output: bool = False) -> NoReturn:
    """Print an AnlError in the one error shape (known secrets masked) and exit with its code."""
    records = [ErrorRecord(**mask_data(r.to_dict())) for r in error.records]
    if json_output:
        click.echo(
            json.dumps(
                {"error": True, "exit_code": int(error.exit_code),
                 "errors": [r.to_dict() for r in records]},
                ensure_ascii=False,
            )
        )
    else:
        for record in records:
            click.echo(_("error: {message}").format(message=mask(record.format())), err=True)
    sys.exit(int(error.exit_code))
