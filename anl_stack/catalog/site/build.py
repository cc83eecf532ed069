"""Write the whole site into a folder, all or nothing.

Everything is written into a new hidden folder next to the target, then
renamed into place: a failure (or Ctrl-C) leaves the target as it was, never
half a site. The target may be new, empty, or a site built before (it holds
:data:`MARKER`); any other folder is refused, so a typo never replaces a
folder of documents.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from anl_stack.catalog.site.collective import CollectiveView, read_collectives
from anl_stack.catalog.site.export import catalog_data, publiccode_path, publiccode_text
from anl_stack.catalog.site.pages import site_pages
from anl_stack.catalog.site.render import render_page
from anl_stack.catalog.site.routes import ASSETS
from anl_stack.core.errors import AnlError
from anl_stack.core.i18n import LANGS, Lang, _
from anl_stack.plugins.discovery import Plugin, discover_plugins

#: A file in every site this command builds: its presence lets a later build replace the folder.
MARKER = ".anl-stack-catalog"
ASSET_FILES = ("style.css", "cost-model.js", "calculator.js")


def check_target(out: Path) -> Path:
    """The absolute target folder, or a refusal (exit 2) that names it and says what was expected."""
    target = Path(os.path.abspath(out))
    expected = _("a new folder, an empty one, or a catalog built before by anl-stack catalog build")
    if target.is_symlink():
        raise AnlError(_("is a symbolic link"), file=str(target), key="--out", expected=_("a real folder, not a link"))
    if target.exists() and not target.is_dir():
        raise AnlError(_("exists and is not a folder"), file=str(target), key="--out", expected=expected)
    if target.is_dir() and any(target.iterdir()) and not (target / MARKER).is_file():
        raise AnlError(_("is a folder that anl-stack did not build (it has no {marker})").format(marker=MARKER),
                       file=str(target), key="--out", expected=expected)
    parent = target.parent
    if not parent.is_dir():
        raise AnlError(_("its parent folder does not exist"), file=str(target), key="--out",
                       expected=_("a folder inside an existing one"))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise AnlError(_("cannot write in this folder"), file=str(parent), key="--out",
                       expected=_("a folder you may write in"))
    return target


def site_files(plugins: list[Plugin], root_lang: Lang, today: dt.date | None = None,
               view: CollectiveView | None = None) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Every file of the site by its path from the root, and the summary of what was built."""
    loaded = [p for p in plugins if p.loaded]
    skipped = [{"name": p.name, "error": str(p.error)} for p in plugins if not p.loaded]
    pages = site_pages(loaded, root_lang, today, skipped, view)
    paths = {(page.kind, page.name, page.lang): page.path for page in pages}
    files = {page.path: render_page(page, root_lang, paths).encode() for page in pages}
    folder = resources.files("anl_stack.catalog.site") / "assets"
    files.update({f"{ASSETS}/{name}": (folder / name).read_bytes() for name in ASSET_FILES})
    catalog = catalog_data(loaded, root_lang, skipped, view)
    files["catalog.json"] = (json.dumps(catalog, ensure_ascii=False, indent=2) + "\n").encode()
    files.update({publiccode_path(p.name): publiccode_text(p).encode() for p in loaded})
    files[MARKER] = b"Built by anl-stack catalog build: a later build may replace this folder.\n"
    summary = {"pages": [page.path for page in pages], "plugins": [p.name for p in loaded], "skipped": skipped,
               "root_language": root_lang, "languages": list(LANGS), "files": len(files),
               "collectives": view.collectives if view else []}
    return files, summary


def _write_tree(folder: Path, files: dict[str, bytes]) -> None:
    for relative, data in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _publish(tmp: Path, target: Path) -> None:
    """Put ``tmp`` in the place of ``target``; an older site goes only once the new one is there."""
    if not target.exists():
        os.rename(tmp, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.rename(target, old / "site")
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(old / "site", target)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def build_site(out: Path, root_lang: Lang = "fr", *, plugins: list[Plugin] | None = None,
               today: dt.date | None = None, collectives: Sequence[Path] = ()) -> dict[str, Any]:
    """Build the site into ``out``; returns the summary ``catalog build --json`` prints.

    ``collectives``: folders whose members' verified files say who runs each tool (checked before anything
    is written, so a folder that is not a collective leaves the target as it was).
    """
    target = check_target(out)
    view = read_collectives(collectives) if collectives else None
    files, summary = site_files(discover_plugins() if plugins is None else plugins, root_lang, today, view)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as error:
        raise AnlError(_("cannot write in this folder: {reason}").format(reason=error.strerror or error),
                       file=str(target.parent), key="--out", expected=_("a folder you may write in")) from None
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a published site is read by the web server
        _write_tree(tmp, files)
        _publish(tmp, target)
    except OSError as error:
        raise AnlError(_("could not write the site: {reason}").format(reason=error.strerror or error),
                       file=str(getattr(error, "filename", None) or target), key="--out",
                       expected=_("a folder you may write in, with free space")) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return {"out": str(target), **summary}
