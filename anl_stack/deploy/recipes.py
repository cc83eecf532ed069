"""The recipes a commune's hosts run: kept on the controller after each deploy, for rollbacks.

After a successful deploy, each plugin's recipe (the files its digest covers)
is copied once into the inventory's private folder,
``.anl-stack/recipes/PLUGIN/DIGEST/``, and ``deployed.json`` records which
recipe each host now runs. An upgrade reads it to know what to go back to,
and copies that recipe into its own run folder.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

from anl_stack.core.errors import AnlError
from anl_stack.core.files import write_file
from anl_stack.core.i18n import _
from anl_stack.inventory.model import InventoryPaths
from anl_stack.plugins.digest import content_digest, plugin_files

RECIPES_DIR = "recipes"
RECORD = "deployed.json"


def store(paths: InventoryPaths, plugin: str) -> Path:
    return paths.private / RECIPES_DIR / plugin


def keep(paths: InventoryPaths, plugin: Any, hosts: list[str]) -> Path:
    """Copy the plugin's recipe (once per digest) and record it as the one ``hosts`` run."""
    digest = content_digest(Path(plugin.path))
    folder = store(paths, plugin.name) / digest.removeprefix("sha256:")[:16]
    if not folder.is_dir():
        tmp = folder.with_name(folder.name + ".tmp")
        if tmp.is_symlink():
            tmp.unlink()
        shutil.rmtree(tmp, ignore_errors=True)
        for path in plugin_files(Path(plugin.path)):
            write_file(tmp / path.relative_to(plugin.path), path.read_bytes(),
                       mode=path.stat().st_mode & 0o755, root=paths.root)
        tmp.rename(folder)
    record_file = store(paths, plugin.name) / RECORD
    record = read_record(paths, plugin.name)
    at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    for host in hosts:
        record[host] = {"digest": digest, "version": str(plugin.manifest.version),
                        "app_version": str(plugin.manifest.app.version), "folder": str(folder), "at": at}
    write_file(record_file, json.dumps(record, indent=2, sort_keys=True) + "\n", mode=0o600, root=paths.root)
    return folder


def read_record(paths: InventoryPaths, plugin: str) -> dict[str, dict[str, str]]:
    file = store(paths, plugin) / RECORD
    if not file.is_file():
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as error:
        raise AnlError(_("cannot read the record of deployed recipes: {error}").format(error=error), file=str(file),
                       expected=_("the JSON anl-stack writes after a deploy")) from None
    return data if isinstance(data, dict) else {}


def deployed(paths: InventoryPaths, plugin: str, hosts: list[str]) -> dict[str, str]:
    """The one recipe ``hosts`` run (from the last deploys); exit 2 if unknown or if they differ."""
    record = read_record(paths, plugin)
    missing = [h for h in hosts if h not in record or not Path(record[h]["folder"]).is_dir()]
    if missing:
        raise AnlError(_("no deploy of {plugin} on {missing} recorded in this inventory")
                       .format(plugin=plugin, missing=', '.join(missing)),
                       file=str(store(paths, plugin) / RECORD), key=plugin,
                       expected=_("a deploy first (anl-stack deploy {plugin}), so that an upgrade can go back to it")
                                .format(plugin=plugin))
    digests = {record[h]["digest"] for h in hosts}
    if len(digests) > 1:
        raise AnlError(_("the hosts of {plugin} run different recipes").format(plugin=plugin), file=str(store(paths, plugin) / RECORD),
                       key=plugin, expected=_("the same recipe on every host first (deploy), or --limit one host"))
    return record[hosts[0]]
