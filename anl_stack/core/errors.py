"""The one error shape and the one set of exit codes shared by every command.

Every user-facing problem becomes an :class:`ErrorRecord` (file, line, key,
message, expected). Commands raise :class:`AnlError` carrying one or more
records and an exit code; the CLI prints them as one readable line each, or
as JSON objects with ``--json``. A user mistake never shows a traceback.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from anl_stack.core.i18n import _


class ExitCode(enum.IntEnum):
    """Exit codes, the same for every command."""

    OK = 0
    #: The work ran and something failed (hosts, checks, findings, changes on
    #: an idempotence run).
    FAILED = 1
    #: Refused before touching any host (invalid input, recipe unavailable,
    #: unsupported release, missing artifact, unreviewed recipe...).
    REFUSED = 2
    INTERRUPTED = 130


@dataclass(frozen=True)
class ErrorRecord:
    """One problem, located as precisely as we know."""

    message: str
    file: str | None = None
    line: int | None = None
    key: str | None = None
    expected: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format(self) -> str:
        """One readable line: ``file:line: key: message (expected: ...)``."""
        where = ""
        if self.file:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
        text = self.message
        for place in reversed([p for p in (where, self.key) if p]):
            text = _("{place}: {message}").format(place=place, message=text)
        if self.expected:
            text += " (" + _("expected: {expected}").format(expected=self.expected) + ")"
        return text


@dataclass
class AnlError(Exception):
    """An error meant for the user, with its exit code."""

    records: list[ErrorRecord] = field(default_factory=list)
    exit_code: ExitCode = ExitCode.REFUSED

    def __init__(
        self,
        message_or_records: str | ErrorRecord | list[ErrorRecord],
        *,
        exit_code: ExitCode = ExitCode.REFUSED,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
        expected: str | None = None,
    ) -> None:
        if isinstance(message_or_records, str):
            records = [ErrorRecord(message_or_records, file, line, key, expected)]
        elif isinstance(message_or_records, ErrorRecord):
            records = [message_or_records]
        else:
            records = list(message_or_records)
        self.records = records
        self.exit_code = exit_code
        super().__init__("; ".join(r.format() for r in records))

    def __str__(self) -> str:
        return "; ".join(r.format() for r in self.records)


class WorkFailedError(AnlError):
    """The work ran and failed (exit 1)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("exit_code", ExitCode.FAILED)
        super().__init__(*args, **kwargs)
