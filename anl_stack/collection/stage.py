"""The collection's tree, staged in a folder before ``ansible-galaxy collection build`` packs it.

    galaxy.yml            namespace, name, version (anl-stack's), licence, no Galaxy dependency
    meta/runtime.yml      requires_ansible: the ansible-core range anl-stack pins
    README.md             the playbooks, the preparation steps, what differs from anl-stack deploy
    roles/                the shared roles, each plugin's roles, and gate (the first play)
    roles/gate/vars/main.yml   the manifests' facts the gate reads (releases, ports, artifact pins)
    playbooks/            each plugin's lifecycle playbooks (anl.communes.streaming, ..._backup...)
    plugins/filter/       the firewall_ports filter (the engine's rule, without anl-stack)

Only what Ansible runs is copied: no plugin's verify/, reviews/, evidence/ or docs, no
inventory, no vault, no compiled Python.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from anl_stack.collection.playbooks import GATE_ROLE, collection_playbook, playbook_name
from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.i18n import _
from anl_stack.core.paths import shared_roles, shared_roles_dir
from anl_stack.plugin_api import LIFECYCLE, ROLES_DIR
from anl_stack.plugins.digest import content_digest

CONTENT = Path(__file__).resolve().parent / "content"
#: Galaxy's rule for namespaces, collection names and role names.
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*", "*.retry")
#: Collections the roles call modules from: what an execution environment must provide
#: (the `ansible` package ships them). Not declared as Galaxy dependencies, so an offline
#: install (`ansible-galaxy collection install FILE`) never reaches for a server.
USES_COLLECTIONS = ("community.crypto", "community.general", "community.mysql", "community.postgresql")


@dataclass
class Staged:
    """What was staged, for the command's report."""

    root: Path
    roles: list[str] = field(default_factory=list)
    playbooks: list[str] = field(default_factory=list)
    plugins: list[str] = field(default_factory=list)


def check_name(value: str, option: str) -> None:
    if not NAME_RE.match(value):
        raise AnlError(_("invalid {option} {value!r}").format(option=option, value=value), key=option,
                       expected=_("lowercase letters, digits and underscores, starting with a letter"))


def role_sources(plugins: list[Any]) -> dict[str, Path]:
    """Every role the collection holds, by name; two roles with one name are refused (exit 2)."""
    sources: dict[str, Path] = {GATE_ROLE: CONTENT / GATE_ROLE}
    owners: dict[str, str] = {GATE_ROLE: _("the collection itself")}
    records: list[ErrorRecord] = []
    for role in shared_roles():
        sources[role], owners[role] = shared_roles_dir() / role, _("the shared roles (playbooks/roles)")
    for plugin in plugins:
        roles_dir = plugin.path / ROLES_DIR
        for folder in sorted(roles_dir.iterdir()) if roles_dir.is_dir() else []:
            if not (folder / "tasks").is_dir():
                continue
            if folder.name in sources:
                records.append(ErrorRecord(
                    _("role {role!r} of plugin {plugin!r} has the name of a role of {owner}")
                    .format(role=folder.name, plugin=plugin.name, owner=owners[folder.name]),
                    file=str(folder), key="roles",
                    expected=_("role names unique across the collection (rename the plugin's role)")))
                continue
            if not NAME_RE.match(folder.name):
                records.append(ErrorRecord(_("role {role!r} of plugin {plugin!r} is not a valid collection role name")
                                           .format(role=folder.name, plugin=plugin.name), file=str(folder), key="roles",
                                           expected=_("lowercase letters, digits and underscores")))
                continue
            sources[folder.name], owners[folder.name] = folder, _("plugin {plugin!r}").format(plugin=plugin.name)
    if records:
        raise AnlError(records)
    return sources


def gate_facts(plugins: list[Any]) -> dict[str, Any]:
    """The manifests' facts the gate role reads: releases, ports, artifact pins, the recipe's identity."""
    facts: dict[str, Any] = {}
    for plugin in plugins:
        m = plugin.manifest
        ports = [{"port": p.port, "protocol": p.protocol,
                  **({"allow_from_setting": p.allow_from_setting} if p.allow_from_setting else {}),
                  **({"open_when_setting": p.open_when_setting} if p.open_when_setting else {})}
                 for p in m.deployment.ports]
        artifacts: dict[str, dict[str, dict[str, str]]] = {}
        for a in m.deployment.artifacts:
            pins = {k: v for k, v in (("sha256", a.sha256), ("sha512", a.sha512)) if v}
            artifacts.setdefault(a.name, {})[a.version] = pins
        facts[plugin.name] = {
            "releases": [key.removeprefix("debian-") for key, platform in m.platforms.items() if platform.supported],
            "ports": ports,
            "artifacts": artifacts,
            "recipe": {"version": str(m.version), "digest": content_digest(plugin.path),
                       "app_version": str(m.app.version)},
        }
    return facts


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _yaml(data: Any) -> str:
    return "---\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def stage(root: Path, plugins: list[Any], *, namespace: str, name: str, version: str,
          requires_ansible: str) -> Staged:
    """Write the collection's tree into ROOT (an empty folder)."""
    fqcn = f"{namespace}.{name}"
    sources = role_sources(plugins)
    staged = Staged(root, roles=sorted(sources), plugins=[p.name for p in plugins])
    for role, source in sources.items():
        shutil.copytree(source, root / "roles" / role, ignore=_IGNORED)
    _write(root / "roles" / GATE_ROLE / "vars" / "main.yml",
           "# The plugins' manifest facts, embedded when the collection was built.\n"
           + _yaml({"gate_plugins": gate_facts(plugins)}))
    shutil.copy2(CONTENT / "filter" / "anl_firewall.py", _mkdir(root / "plugins" / "filter") / "anl_firewall.py")
    for plugin in plugins:
        for step in LIFECYCLE:
            source = plugin.path / step.playbook
            if not source.is_file():
                continue
            target = playbook_name(plugin.name, step.name)
            _write(root / "playbooks" / f"{target}.yml",
                   collection_playbook(source.read_text(encoding="utf-8"), plugin.name, step.name, set(sources), fqcn))
            staged.playbooks.append(f"{fqcn}.{target}")
    _write(root / "galaxy.yml", _yaml({
        "namespace": namespace, "name": name, "version": version, "readme": "README.md",
        "authors": ["Alpes Numérique Libre contributors"],
        "description": "anl-stack's recipes for communes: Debian baseline, shared roles and each plugin's "
                       "lifecycle playbooks, for AWX and Ansible Automation Platform.",
        "license": ["AGPL-3.0-or-later"], "tags": ["debian", "communes", "selfhosted"],
        "dependencies": {}, "build_ignore": ["*.pyc", "__pycache__", ".*"],
    }))
    _write(root / "meta" / "runtime.yml", _yaml({"requires_ansible": requires_ansible}))
    _write(root / "README.md", readme(fqcn, version, staged))
    return staged


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def readme(fqcn: str, version: str, staged: Staged) -> str:
    """The collection's README (English, as Galaxy shows it; docs/awx.fr.md has the French)."""
    playbooks = "\n".join(f"- `{p}`" for p in staged.playbooks)
    roles = ", ".join(f"`{r}`" for r in staged.roles)
    needs = ", ".join(f"`{c}`" for c in USES_COLLECTIONS)
    return f"""# {fqcn} {version}

anl-stack's recipes as an Ansible collection, for AWX and Ansible Automation
Platform: built by `anl-stack collection build` from anl-stack {version}.
Guide: anl-stack's `docs/awx.md` (French: `docs/awx.fr.md`).

## Playbooks

{playbooks}

Each runs on the hosts of the plugin's group (`hosts: PLUGIN`) of a commune
inventory made by `anl-stack init` (`hosts.yml`, `group_vars/all/anl.yml`,
`group_vars/all/vault.yml` encrypted with ansible-vault: give its password as
a vault credential). Its first play (role `gate`) refuses a Debian release the
recipe does not support, before any change, computes the firewall ports of
every plugin the host runs from the manifests embedded at build time, and,
for the deploy and upgrade steps, hands the releases in `anl_artifacts_dir`
to the recipe.

## Preparation

- Releases Debian does not package: `anl-stack artifacts export PLUGIN
  --output DIR -i INVENTORY` on a machine with anl-stack; put DIR where the
  playbook runs and set `anl_artifacts_dir` to its absolute path. Each file is hashed on the
  controller against the export and the manifest's pins, then on the host.
- The execution environment needs ansible-core matching `meta/runtime.yml`
  and the collections the roles use: {needs} (the `ansible` package ships
  them).

## Not done here (anl-stack deploy does it)

No idempotence re-run, no plan, no run folder or evidence, no check of the
commune's application versions against each release, no secret generation
(the vault must already hold them
(a first `anl-stack plan PLUGIN -i INVENTORY` writes them), no managed
backup partner servers.

## Roles

{roles}
"""
