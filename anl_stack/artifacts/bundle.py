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
from anl_stack.artifacts.trust import Ref, check_file, hash_file
from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.inventory.model import load_inventory
from anl_stack.plugins.discovery import discover_plugins

BUNDLE_FORMAT = 1
MANIFEST_NAME = "anl-bundle.json"
BLOB_MEMBER = re.compile(r"^blobs/[0-9a-f]{64}$")


def inventory_plugins(inventory_path: str | Path) -> tuple[list[str], dict[str, Any]]:
    """Plugin names used by an inventory's groups, and its commune settings."""
    inventory = load_inventory(inventory_path)
    known = {p.name for p in discover_plugins()}
    return sorted(set(inventory.groups) & known), inventory.settings()


def make_bundle(inventory_path: str | Path, output: Path, *, cache: Cache | None = None,
                progress: ProgressHook | None = None) -> dict[str, Any]:
    """Fetch what is missing, then write every artifact the inventory needs into ``output``."""
    cache = cache or Cache()
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
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.with_name(output.name + ".part")
    with tarfile.open(staging, "w", format=tarfile.PAX_FORMAT) as tar:
        data = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size, info.mode, info.mtime = len(data), 0o644, int(dt.datetime.now().timestamp())
        tar.addfile(info, io.BytesIO(data))
        for sha in blobs:
            tar.add(cache.blob(sha), arcname=f"blobs/{sha}", recursive=False)
    staging.replace(output)
    return document


def _read_members(tar: tarfile.TarFile, file: str) -> dict[str, tarfile.TarInfo]:
    members: dict[str, tarfile.TarInfo] = {}
    for member in tar.getmembers():
        if not member.isfile() or not (member.name == MANIFEST_NAME or BLOB_MEMBER.match(member.name)):
            raise AnlError(f"unexpected entry {member.name!r} in the bundle", file=file,
                           expected=f"only {MANIFEST_NAME} and blobs/<sha256> files")
        members[member.name] = member
    if MANIFEST_NAME not in members:
        raise AnlError(f"not an anl-stack bundle: no {MANIFEST_NAME}", file=file,
                       expected="a file made by `anl-stack artifacts bundle`")
    return members


def _local_ref(item: dict[str, Any]) -> Ref:
    for ref in plugin_refs(item["plugin"]):
        if ref.name == item["name"] and ref.version == item["version"]:
            return ref
    raise AnlError(f"plugin {item['plugin']} installed here does not list artifact {item['name']} "
                   f"version {item['version']}", key=f"{item['plugin']}: deployment.artifacts",
                   expected="the same plugin version on both controllers")


#: One artifact of a bundle that passed every check: what the cache stores.
Checked = tuple[Ref, Path, Any, "Path | None", "Path | None"]


def import_bundle(bundle: Path, settings: dict[str, Any] | None = None, *,
                  cache: Cache | None = None) -> list[dict[str, Any]]:
    """Check every artifact of ``bundle`` and load them all into the cache, or none."""
    cache = cache or Cache()
    if not bundle.is_file():
        raise AnlError("bundle not found", file=str(bundle), expected="a file made by `anl-stack artifacts bundle`")
    work = cache.workdir("import-" + hash_file(bundle).sha256[:16])
    try:
        items, extracted = _unpack(bundle, work)
        checked: list[Checked] = []
        records: list[ErrorRecord] = []
        for item in items:
            try:
                checked.append(_check_item(item, extracted, work, settings, str(bundle)))
            except AnlError as error:
                records.extend(error.records)
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
        tar = tarfile.open(bundle, "r:")
    except tarfile.TarError as error:
        raise AnlError(f"not a readable bundle: {error}", file=file, expected="an uncompressed tar") from None
    with tar:
        members = _read_members(tar, file)
        try:
            document = json.loads(tar.extractfile(members[MANIFEST_NAME]).read())
            items = list(document["artifacts"])
        except (ValueError, KeyError, TypeError) as error:
            raise AnlError(f"{MANIFEST_NAME} is unreadable: {error}", file=file) from None
        if document.get("format") != BUNDLE_FORMAT:
            raise AnlError(f"bundle format {document.get('format')!r} is not supported", file=file,
                           expected=str(BUNDLE_FORMAT))
        extracted: dict[str, Path] = {}
        for name, member in members.items():
            if name == MANIFEST_NAME:
                continue
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)
            extracted[name.split("/", 1)[1]] = target
    return items, extracted


def _check_item(item: dict[str, Any], extracted: dict[str, Path], work: Path, settings: dict[str, Any] | None,
                file: str) -> Checked:
    """One listed artifact: present, unaltered, and trusted by the local plugin's manifest (exit 2 otherwise)."""
    label = f"artifact {item.get('name')} {item.get('version')} (plugin {item.get('plugin')})"
    blob = extracted.get(item["sha256"])
    if blob is None:
        raise AnlError(f"{label}: file missing from the bundle", file=file, expected=f"blobs/{item['sha256']}")
    actual = hash_file(blob).sha256
    if actual != item["sha256"]:
        raise AnlError(f"{label}: sha256 check failed (bundle altered); actual: sha256:{actual}",
                       file=file, expected=f"sha256:{item['sha256']}")
    ref = _local_ref(item)
    named = work / "named" / item["sha256"] / Path(item["filename"]).name
    named.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(blob, named)
    signature = extracted.get(item.get("signature_sha256") or "")
    key = extracted.get(item.get("key_sha256") or "")
    sig = ref.spec.signature
    if sig is not None and sig.key_file:
        key = ref.plugin_dir / sig.key_file  # the key shipped with the local plugin wins
    evidence = check_file(ref, named, settings, signature=signature, key=key)
    return ref, named, evidence, signature, key
