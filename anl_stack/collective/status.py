"""``collective status``: who runs what, at which level, and who is behind the current recipe.

Built from the trusted commune files only (:mod:`.verify`). An instance is
"current" when its digest is the content digest of the recipe this
anl-stack has, "behind" when it differs, "unknown recipe" when this
anl-stack has no plugin of that name. Each recipe's level is computed here
with the collective's members (only their signed reviews count).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anl_stack.collective.verify import Verified, verify
from anl_stack.core.i18n import N_
from anl_stack.plugins.digest import content_digest
from anl_stack.records.quality import compute

CURRENT = N_("current")
BEHIND = N_("behind")
UNKNOWN_RECIPE = N_("unknown recipe")


@dataclass
class Status:
    verified: Verified
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: plugin -> {"digest": current digest, "level": level with the collective}
    recipes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"collective": self.verified.to_dict(), "instances": self.rows, "recipes": self.recipes}


def status(folder: Path, plugins: list[Any] | None = None) -> Status:
    from anl_stack.plugins import discover_plugins

    verified = verify(folder)
    known = {p.name: p for p in (plugins if plugins is not None else discover_plugins())
             if getattr(p, "manifest", None) is not None}
    result = Status(verified)
    signers = verified.chain.signers()
    for commune in verified.communes:
        for instance in commune.data.get("instances", []):
            name = instance["plugin"]
            plugin = known.get(name)
            if plugin is not None and name not in result.recipes:
                result.recipes[name] = {"digest": content_digest(Path(plugin.path)),
                                        "level": compute(Path(plugin.path), name, signers).level}
            state = UNKNOWN_RECIPE if plugin is None else (
                CURRENT if instance["digest"] == result.recipes[name]["digest"] else BEHIND)
            result.rows.append({"commune": commune.data["commune"], "insee": commune.insee, "plugin": name,
                                "address": instance.get("address"), "recipe_version": instance["recipe_version"],
                                "digest": instance["digest"], "quality_level": instance.get("quality_level"),
                                "since": instance["since"], "state": state})
    result.rows.sort(key=lambda r: (r["plugin"], r["commune"]))
    return result
