"""``anl-stack collection build``: stage the tree, pack it with ansible-galaxy, move it into place.

Everything happens in a temporary folder next to the output; only a complete archive is
moved into the output folder (one rename), so a refusal or a failure leaves nothing half
written.
"""

from __future__ import annotations

import importlib.metadata
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anl_stack import __version__
from anl_stack.adapters import galaxy
from anl_stack.collection.stage import Staged, check_name, stage
from anl_stack.core.errors import AnlError, ExitCode
from anl_stack.core.i18n import _
from anl_stack.plugins import discover_plugins

#: The ansible-core range anl-stack runs with (pyproject.toml), when its metadata cannot be read.
DEFAULT_ANSIBLE_CORE = ">=2.19,<2.20"


@dataclass
class Built:
    archive: Path
    namespace: str
    name: str
    version: str
    requires_ansible: str
    staged: Staged

    def to_dict(self) -> dict[str, Any]:
        return {"archive": str(self.archive), "namespace": self.namespace, "name": self.name,
                "version": self.version, "requires_ansible": self.requires_ansible,
                "plugins": self.staged.plugins, "roles": self.staged.roles, "playbooks": self.staged.playbooks}


def requires_ansible() -> str:
    """The ansible-core specifier anl-stack's own package requires (meta/runtime.yml's requires_ansible)."""
    try:
        requirements = importlib.metadata.requires("anl-stack") or []
    except importlib.metadata.PackageNotFoundError:
        return DEFAULT_ANSIBLE_CORE
    for requirement in requirements:
        head = requirement.split(";")[0].replace(" ", "")
        if head.startswith("ansible-core"):
            parts = [s for s in head.removeprefix("ansible-core").split(",") if s]
            # Lower bound first, as Ansible's own collections write it.
            return ",".join(sorted(parts, key=lambda s: not s.startswith(">"))) or DEFAULT_ANSIBLE_CORE
    return DEFAULT_ANSIBLE_CORE


def collection_plugins() -> list[Any]:
    """Every plugin with a recipe; a broken plugin is refused (its playbooks could not be trusted)."""
    plugins = discover_plugins()
    broken = [p for p in plugins if not p.loaded and p.error is not None]
    if broken:
        raise AnlError([r for p in broken for r in p.error.records])
    return [p for p in plugins if p.recipe_available]


def archive_name(namespace: str, name: str, version: str) -> str:
    return f"{namespace}-{name}-{version}.tar.gz"


def _check_output(output: Path, target: Path, force: bool) -> None:
    if output.exists() and not output.is_dir():
        raise AnlError(_("{path} is not a folder").format(path=output), key="--output",
                       expected=_("a folder (created when missing)"))
    if target.exists() and not force:
        raise AnlError(_("{path} already exists").format(path=target), key="--output",
                       expected=_("another --output folder, or --force to replace it"))
    probe = output if output.exists() else next((p for p in output.parents if p.exists()), Path("."))
    if not os.access(probe, os.W_OK):
        raise AnlError(_("cannot write in {path}").format(path=probe), key="--output",
                       expected=_("a folder you can write in"))


def build(*, namespace: str = "anl", name: str = "communes", output: Path = Path("."),
          force: bool = False) -> Built:
    """Build the collection archive into OUTPUT; AnlError (exit 2) on a refusal, exit 1 if ansible-galaxy fails."""
    check_name(namespace, "--namespace")
    check_name(name, "--name")
    version = __version__
    output = output.expanduser().absolute()
    target = output / archive_name(namespace, name, version)
    _check_output(output, target, force)
    plugins = collection_plugins()
    ansible_range = requires_ansible()
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".anl-collection-", dir=output) as work:
        tree = Path(work) / "tree"
        tree.mkdir()
        staged = stage(tree, plugins, namespace=namespace, name=name, version=version,
                       requires_ansible=ansible_range)
        packed = Path(work) / "out"
        packed.mkdir()
        run = galaxy.build_collection(tree, packed)
        made = packed / target.name
        if run.returncode != 0 or not made.is_file():
            raise AnlError(_("ansible-galaxy collection build failed: {output}").format(output=run.output[-2000:]),
                           exit_code=ExitCode.FAILED, key="ansible-galaxy")
        os.replace(made, target)
    staged.root = target
    return Built(target, namespace, name, version, ansible_range, staged)
