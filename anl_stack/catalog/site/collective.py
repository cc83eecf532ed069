"""What one or more collectives add to the site: who runs each tool, their reviews and experience notes.

Every collective folder is checked by :func:`anl_stack.collective.verify.verify`
first; only the commune files it trusts reach the site, and the files it
ignores are listed (by their path inside the collective, never a local path).
A regional or national catalog is built from several collectives: an entry
that several of them publish (the same commune and tool, a commune being a
member of two collectives) appears once, with every collective it came from.
A collective's folder may include other collectives' signed indexes
(:mod:`anl_stack.collective.index`): their trusted entries come in with
their own collective as origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anl_stack.collective.verify import Verified, verify
from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.i18n import Lang, _


@dataclass
class CollectiveView:
    """The trusted content of the collectives, merged; plain data for the pages and catalog.json."""

    collectives: list[dict[str, Any]] = field(default_factory=list)
    #: plugin -> one row per (commune, plugin), newest verification kept
    instances: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reviews: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    #: fingerprint -> commune, of every collective's current members: whose signed reviews count
    signers: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"collectives": self.collectives, "instances": self.instances, "reviews": self.reviews,
                "notes": self.notes}


def _verified(folder: Path) -> Verified:
    result = verify(folder)
    if result.chain.current is None:
        raise AnlError([ErrorRecord(_("no accepted members version"), str(folder), None, "--collective",
                                    _("a collective whose members file is signed (anl-stack collective verify)"))])
    return result


def _inside(root: Path, file: str | None) -> str:
    """A file's path inside its collective: the site never shows where the folder was on disk."""
    if not file:
        return ""
    try:
        return Path(file).relative_to(root).as_posix()
    except ValueError:
        return Path(file).name


def _merge(rows: dict[tuple[Any, ...], dict[str, Any]], key: tuple[Any, ...], row: dict[str, Any],
           newer: str | None = None) -> None:
    """Keep one row per key with every origin; with ``newer``, the row with the latest value of that field."""
    found = rows.get(key)
    if found is None:
        rows[key] = {**row, "origins": [row["origin"]]}
        return
    origins = sorted({*found["origins"], row["origin"]})
    if newer is not None and str(row.get(newer) or "") > str(found.get(newer) or ""):
        found = {**row}
    rows[key] = {**found, "origins": origins}


def read_collectives(folders: Sequence[Path]) -> CollectiveView:
    """The collectives' trusted files merged; exit 2 for a folder that is not a collective with members."""
    view = CollectiveView()
    instances: dict[tuple[Any, ...], dict[str, Any]] = {}
    reviews: dict[tuple[Any, ...], dict[str, Any]] = {}
    notes: dict[tuple[Any, ...], dict[str, Any]] = {}
    for folder in folders:
        result = _verified(folder)
        current = result.chain.current
        assert current is not None  # _verified refuses a collective without members
        name = current.collective
        view.collectives.append({
            "name": name, "members_version": current.version, "members": len(current.members),
            "trusted": len(result.communes),
            "ignored": [{"file": f"{name}/{_inside(result.root, r.file)}", "why": r.message}
                        for r in result.chain.problems + result.ignored],
        })
        for fingerprint, commune in result.chain.signers().items():
            view.signers.setdefault(fingerprint, commune)
        view.collectives[-1]["included"] = [{"name": i.collective, "date": i.date, "trusted": len(i.communes)}
                                            for i in result.included]
        # The collective's own members, then what the indexes it includes list (each origin is shown).
        sources = [(name, c.data) for c in result.communes] + \
                  [(i.collective, data) for i in result.included for data in i.communes]
        for origin, data in sources:
            who = {"commune": data["commune"], "insee": data["insee"], "origin": origin}
            for entry in data.get("instances", []):
                row = {**who, **{k: entry.get(k) for k in ("plugin", "address", "recipe_version", "app_version",
                                                            "digest", "result", "quality_level", "since",
                                                            "verified")}}
                _merge(instances, (data["insee"], entry["plugin"]), row, newer="verified")
            for entry in data.get("reviews", []):
                row = {**who, **{k: entry.get(k) for k in ("plugin", "digest", "date", "file")}}
                _merge(reviews, (data["insee"], entry["plugin"], entry["digest"], entry["date"]), row)
            for entry in data.get("notes", []):
                row = {**who, "date": entry["date"], "plugin": entry.get("plugin"),
                       **{k: dict(entry[k]) for k in ("context", "worked", "cost")}}
                _merge(notes, (data["insee"], entry["date"], entry.get("plugin"), entry["context"]["fr"]), row)
    for row in sorted(instances.values(), key=lambda r: (r["plugin"], r["commune"])):
        view.instances.setdefault(row["plugin"], []).append(row)
    for row in sorted(reviews.values(), key=lambda r: (r["plugin"], r["date"], r["commune"])):
        view.reviews.setdefault(row["plugin"], []).append(row)
    view.notes = sorted(notes.values(), key=lambda r: (r["date"], r["commune"]), reverse=True)
    return view


def note_text(note: dict[str, Any], key: str, lang: Lang) -> tuple[str, bool]:
    """A note's text in ``lang`` when the commune wrote it, else in French; True when it is the French one
    shown on an English page."""
    texts = note[key]
    if lang in texts:
        return texts[lang], False
    return texts["fr"], lang != "fr"


def notes_for(view: CollectiveView | None, plugin: str | None, lang: Lang) -> list[dict[str, Any]]:
    """The notes about ``plugin`` (None: the notes about no tool in particular), in the page's language."""
    if view is None:
        return []
    out = []
    for note in view.notes:
        if note["plugin"] != plugin:
            continue
        texts = {key: note_text(note, key, lang) for key in ("context", "worked", "cost")}
        out.append({"commune": note["commune"], "date": note["date"], "origins": note["origins"],
                    **{key: text for key, (text, _fr) in texts.items()},
                    "in_french": any(fr for _t, fr in texts.values())})
    return out
