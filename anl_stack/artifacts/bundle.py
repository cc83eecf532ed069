"""Offline bundles: every artifact an inventory needs, in one archive, checked again on import.

A bundle is an uncompressed tar (the releases are compressed already)::

    anl-bundle.json     format, date, and per artifact: plugin, name, version,
                        filename, sha256, sha512, size, and for signed
                        artifacts the signature and key blobs and fingerprint
    blobs/<sha256>      the files, named by their SHA-256

Import trusts nothing in the bundle: each blob must hash to its name, and
each artifact must pass the checks of the plugin manifest installed on the
importing controller (pinned checksums, commune pins, OpenPGP signature with
the pinned key). If any check fails, nothing is imported.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any

from anl_stack.adapters.http import ProgressHook
from anl_stack.artifacts.cache import Cache
from anl_stack.artifacts.service import Result, _store, fetch, plugin_refs, select
from anl_stack.artifacts.trust import Ref, check_file, hash_file, plugin_key_file
from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.files import check_writable, streamed_file
from anl_stack.core.i18n import N_, _
from anl_stack.inventory.model import load_inventory
from anl_stack.plugins.discovery import discover_plugins

BUNDLE_FORMAT = 1
MANIFEST_NAME = "anl-bundle.json"
BLOB_MEMBER = re.compile(r"^blobs/[0-9a-f]{64}$")
#: Bounds on what a bundle may hold (far above what an inventory needs).
MAX_MEMBERS = 10_000
MAX_MANIFEST = 16 * 1024 * 1024


def inventory_plugins(inventory_path: str | Path) -> tuple[list[str], dict[str, Any]]:
    """Plugin names used by an inventory's groups, and its commune settings."""
    inventory = load_inventory(inventory_path)
    known = {p.name for p in discover_plugins()}
    return sorted(set(inventory.groups) & known), inventory.settings()


def make_bundle(inventory_path: str | Path, output: Path, *, cache: Cache | None = None,
                progress: ProgressHook | None = None) -> dict[str, Any]:
    """Fetch what is missing, then write every artifact the inventory needs into ``output``.

    ``output`` is checked first (a folder, a link or an unwritable place is refused before
    anything is fetched); the bundle appears whole or not at all.
    """
    cache = cache or Cache()
    check_writable(output, key="--output")
    plugins, settings = inventory_plugins(inventory_path)
    results: list[Result] = []
    for plugin in plugins:
        for ref in select(plugin, settings):
            results.append(fetch(ref, settings, cache=cache, progress=progress))
    fields = ("plugin", "name", "version", "filename", "sha256", "sha512", "size",
              "fingerprint", "signature_sha256", "key_sha256")
    listing = [{k: r.entry.get(k) for k in fields} for r in results]
    document = {"format": BUNDLE_FORMAT, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "commune": settings.get("anl_commune"), "plugins": plugins, "artifacts": listing}
    blobs = sorted({h for item in listing for h in (item["sha256"], item["signature_sha256"], item["key_sha256"]) if h})
    try:
        with streamed_file(output) as handle, tarfile.open(fileobj=handle, mode="w",
                                                            format=tarfile.PAX_FORMAT) as tar:
            data = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
            info = tarfile.TarInfo(MANIFEST_NAME)
            info.size, info.mode, info.mtime = len(data), 0o644, int(dt.datetime.now().timestamp())
            tar.addfile(info, io.BytesIO(data))
            for sha in blobs:
                tar.add(cache.blob(sha), arcname=f"blobs/{sha}", recursive=False)
    except OSError as error:
        # Nothing is left behind: the writer removes its temporary file.
        raise AnlError(_("cannot write the bundle: {strerror}").format(strerror=error.strerror or error), file=str(output), key="--output",
                       expected=_("a folder with room for every artifact")) from None
    return document


def _read_members(tar: tarfile.TarFile, file: str) -> dict[str, tarfile.TarInfo]:
    """The bundle's entries: regular files only, each named once, in bounded number and size."""
    members: dict[str, tarfile.TarInfo] = {}
    expected = _("only {manifest_name} and blobs/<sha256> regular files").format(manifest_name=MANIFEST_NAME)
    for member in tar:  # one at a time: a bundle of a million entries is refused at the limit
        if len(members) >= MAX_MEMBERS:
            raise AnlError(_("more than {max_members} entries in the bundle").format(max_members=MAX_MEMBERS), file=file, key=member.name,
                           expected=_("a file made by `anl-stack artifacts bundle`"))
        name = member.name
        if not (name == MANIFEST_NAME or BLOB_MEMBER.match(name)):
            raise AnlError(_("unexpected entry {name!r} in the bundle").format(name=name), file=file, key=name, expected=expected)
        # Sparse members (GNU or PAX) are "regular" for tarfile, but would expand holes on extraction.
        if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE) or member.sparse is not None:
            raise AnlError(_("entry {name!r} is not a plain regular file").format(name=name), file=file, key=name, expected=expected)
        if name in members:
            raise AnlError(_("entry {name!r} appears twice in the bundle").format(name=name), file=file, key=name,
                           expected=_("each entry once"))
        if name == MANIFEST_NAME and member.size > MAX_MANIFEST:
            raise AnlError(_("{manifest_name} is {size} bytes").format(manifest_name=MANIFEST_NAME, size=member.size), file=file, key=MANIFEST_NAME,
                           expected=_("at most {max_manifest} bytes").format(max_manifest=MAX_MANIFEST))
        members[name] = member
    if MANIFEST_NAME not in members:
        raise AnlError(_("not an anl-stack bundle: no {manifest_name}").format(manifest_name=MANIFEST_NAME), file=file, key=MANIFEST_NAME,
                       expected=_("a file made by `anl-stack artifacts bundle`"))
    return members


_HEX = {64: re.compile(r"^[0-9a-f]{64}$"), 128: re.compile(r"^[0-9a-f]{128}$")}
#: Fields of one listed artifact: (required, check, what is expected).
_TEXT = (lambda v: isinstance(v, str) and bool(v.strip()) and "\0" not in v, N_("non-empty text"))
_ITEM_FIELDS: dict[str, tuple[bool, Any, str]] = {
    "plugin": (True, *_TEXT),
    "name": (True, *_TEXT),
    "version": (True, *_TEXT),
    "filename": (True, lambda v: isinstance(v, str) and _plain_name(v), N_("a plain file name (no '/', no '..')")),
    "sha256": (True, lambda v: isinstance(v, str) and bool(_HEX[64].match(v)), N_("64 lower-case hex digits")),
    "sha512": (False, lambda v: isinstance(v, str) and bool(_HEX[128].match(v)), N_("128 lower-case hex digits")),
    "size": (False, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, N_("a number of bytes")),
    "fingerprint": (False, _TEXT[0], N_("a key fingerprint")),
    "signature_sha256": (False, lambda v: isinstance(v, str) and bool(_HEX[64].match(v)),
                         N_("64 lower-case hex digits")),
    "key_sha256": (False, lambda v: isinstance(v, str) and bool(_HEX[64].match(v)), N_("64 lower-case hex digits")),
}


def _plain_name(value: str) -> bool:
    # Refused, not renamed: a name that would leave its folder says the bundle was made by hand.
    return (value not in ("", ".", "..") and "/" not in value and "\\" not in value and "\0" not in value
            and len(value.encode("utf-8", "replace")) <= 255)


def _item_problems(index: int, item: Any, file: str) -> list[ErrorRecord]:
    """Every field of one listed artifact that is missing or not what a bundle holds."""
    where = f"artifacts[{index}]"
    if not isinstance(item, dict):
        return [ErrorRecord(_("{manifest_name}: an artifact entry is {kind}, not a mapping")
                            .format(manifest_name=MANIFEST_NAME, kind=type(item).__name__), file,
                            None, where, _("plugin, name, version, filename, sha256... keys"))]
    records = []
    for key, (required, check, expected) in _ITEM_FIELDS.items():
        value = item.get(key)
        if value is None:
            if required:
                records.append(ErrorRecord(_("{manifest_name}: required key is missing")
                                           .format(manifest_name=MANIFEST_NAME), file, None,
                                           f"{where}.{key}", _(expected)))
        elif not check(value):
            records.append(ErrorRecord(_("{manifest_name}: {value!r} is not usable")
                                       .format(manifest_name=MANIFEST_NAME, value=str(value)[:80]), file, None,
                                       f"{where}.{key}", _(expected)))
    return records


def _local_ref(item: dict[str, Any]) -> Ref:
    for ref in plugin_refs(item["plugin"]):
        if ref.name == item["name"] and ref.version == item["version"]:
            return ref
    raise AnlError(_("plugin {plugin} installed here does not list artifact {name} version {version}")
                   .format(plugin=item['plugin'], name=item['name'], version=item['version']), key=f"{item['plugin']}: deployment.artifacts",
                   expected=_("the same plugin version on both controllers"))


#: One artifact of a bundle that passed every check: what the cache stores.
Checked = tuple[Ref, Path, Any, "Path | None", "Path | None"]


def import_bundle(bundle: Path, settings: dict[str, Any] | None = None, *,
                  cache: Cache | None = None) -> list[dict[str, Any]]:
    """Check every artifact of ``bundle`` and load them all into the cache, or none."""
    cache = cache or Cache()
    if not bundle.is_file():
        raise AnlError(_("bundle not found"), file=str(bundle), key="FILE",
                       expected=_("a file made by `anl-stack artifacts bundle`"))
    work = cache.workdir("import-" + hash_file(bundle).sha256[:16])
    try:
        items, extracted = _unpack(bundle, work)
        checked: list[Checked] = []
        records: list[ErrorRecord] = []
        for index, item in enumerate(items):
            try:
                checked.append(_check_item(index, item, extracted, work, settings, str(bundle)))
            except AnlError as error:
                # Checks of the local plugin name no file: the bundle is the one at fault.
                records.extend(dataclasses.replace(r, file=r.file or str(bundle),
                                                   key=r.key or f"artifacts[{index}]") for r in error.records)
        if records:
            raise AnlError(records)  # nothing was stored: all or none
        return [_store(cache, ref, named, evidence, origin=f"bundle {bundle.name}",
                       signature=signature if evidence.fingerprint else None, key=key, move=True)
                for ref, named, evidence, signature, key in checked]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _unpack(bundle: Path, work: Path) -> tuple[list[dict[str, Any]], dict[str, Path]]:
    """The bundle's list of artifacts, and its blobs extracted into ``work`` (by sha256)."""
    file = str(bundle)
    try:
        with tarfile.open(bundle, "r:") as tar:
            members = _read_members(tar, file)
            items = _listing(tar.extractfile(members[MANIFEST_NAME]).read(), file)  # type: ignore[union-attr]
            extracted: dict[str, Path] = {}
            for name, member in members.items():
                if name == MANIFEST_NAME:
                    continue
                target = work / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src, target.open("wb") as out:  # type: ignore[union-attr]
                    shutil.copyfileobj(src, out)
                extracted[name.split("/", 1)[1]] = target
    except (tarfile.TarError, EOFError) as error:
        raise AnlError(_("not a readable bundle (truncated or damaged?): {error}").format(error=error), file=file, key="FILE",
                       expected=_("an uncompressed tar made by `anl-stack artifacts bundle`")) from None
    return items, extracted


def _listing(raw: bytes, file: str) -> list[dict[str, Any]]:
    """The artifacts listed by anl-bundle.json, each checked for shape (exit 2 naming every bad field)."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as error:
        raise AnlError(_("{manifest_name} is not JSON: {error}")
                       .format(manifest_name=MANIFEST_NAME, error=str(error)[:200]), file=file, key=MANIFEST_NAME,
                       expected=_("the JSON document `anl-stack artifacts bundle` writes")) from None
    if not isinstance(document, dict):
        raise AnlError(_("{manifest_name} is not a JSON object").format(manifest_name=MANIFEST_NAME), file=file, key=MANIFEST_NAME,
                       expected=_("the JSON document `anl-stack artifacts bundle` writes"))
    if document.get("format") != BUNDLE_FORMAT:
        raise AnlError(_("bundle format {format!r} is not supported").format(format=str(document.get('format'))[:40]), file=file,
                       key="format", expected=str(BUNDLE_FORMAT))
    items = document.get("artifacts")
    if not isinstance(items, list):
        raise AnlError(_("{manifest_name}: the artifacts are not a list").format(manifest_name=MANIFEST_NAME), file=file, key="artifacts",
                       expected=_("a list of artifact entries"))
    records = [r for index, item in enumerate(items) for r in _item_problems(index, item, file)]
    if records:
        raise AnlError(records)
    return items


def _check_item(index: int, item: dict[str, Any], extracted: dict[str, Path], work: Path,
                settings: dict[str, Any] | None, file: str) -> Checked:
    """One listed artifact: present, unaltered, and trusted by the local plugin's manifest (exit 2 otherwise)."""
    label = f"artifact {item.get('name')} {item.get('version')} (plugin {item.get('plugin')})"
    where = f"artifacts[{index}]"
    blob = extracted.get(item["sha256"])
    if blob is None:
        raise AnlError(_("{label}: file missing from the bundle").format(label=label), file=file, key=f"{where}.sha256",
                       expected=f"blobs/{item['sha256']}")
    actual = hash_file(blob).sha256
    if actual != item["sha256"]:
        raise AnlError(_("{label}: sha256 check failed (bundle altered); actual: sha256:{actual}")
                       .format(label=label, actual=actual),
                       file=file, key=f"{where}.sha256", expected=f"sha256:{item['sha256']}")
    try:
        ref = _local_ref(item)
    except AnlError as error:
        # An unknown plugin, or one that lists no such artifact here: named as the bundle's fields.
        keys = {"plugin": f"{where}.plugin", f"{item['plugin']}: deployment.artifacts": f"{where}.name"}
        raise AnlError([dataclasses.replace(r, file=r.file or file, key=keys.get(r.key or "", r.key))
                        for r in error.records]) from None
    named = work / "named" / item["sha256"] / item["filename"]  # a plain name (_item_problems)
    named.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(blob, named)
    signature = extracted.get(item.get("signature_sha256") or "")
    key = extracted.get(item.get("key_sha256") or "")
    sig = ref.spec.signature
    if sig is not None and sig.key_file:
        key = plugin_key_file(ref)  # the key shipped with the local plugin wins (and stays inside it)
    evidence = check_file(ref, named, settings, signature=signature, key=key)
    return ref, named, evidence, signature, key
