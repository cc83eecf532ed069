"""``anl-stack artifacts export``: the verified releases a collection playbook needs, in one folder.

AWX runs the collection's playbooks without anl-stack, so without its cache: the folder
written here (each file under its name, and ``artifacts.yml`` listing name, file, version
and SHA-256) is what the collection's first play reads through ``anl_artifacts_dir``. The
files come from the verified cache (resolve_for_deploy re-hashes each one); the folder is
written next to its place and renamed into it at the end, so a refusal leaves nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from anl_stack.artifacts.service import resolve_for_deploy
from anl_stack.core.errors import AnlError
from anl_stack.core.i18n import _

#: The list the collection's gate role reads (roles/gate/tasks/artifacts.yml).
INDEX = "artifacts.yml"


def export(plugins: list[str], output: Path, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Copy the artifacts of PLUGINS into OUTPUT (a new or empty folder); the index written."""
    output = output.expanduser().absolute()
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise AnlError(_("{path} exists and is not an empty folder").format(path=output), key="--output",
                       expected=_("a new or empty folder"))
    resolved = resolve_for_deploy(plugins, settings or {})
    index = {"artifacts": {name: {k: entry[k] for k in ("filename", "version", "sha256", "plugin")}
                           for name, entry in sorted(resolved.items())}}
    output.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    try:
        for entry in resolved.values():
            shutil.copyfile(entry["path"], work / entry["filename"])
            os.chmod(work / entry["filename"], 0o644)
        (work / INDEX).write_text("---\n# Written by anl-stack artifacts export, from its verified cache.\n"
                                  + yaml.safe_dump(index, sort_keys=False), encoding="utf-8")
        os.chmod(work, 0o755)
        if output.exists():
            output.rmdir()
        os.replace(work, output)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return index
