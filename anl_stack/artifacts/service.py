"""Fetch, add, verify and resolve artifacts: the operations behind the CLI and deploy."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anl_stack.adapters.gpg import GpgError, verify_detached
from anl_stack.adapters.http import ProgressHook
from anl_stack.artifacts.cache import Cache
from anl_stack.artifacts.sources import download_url, expected_filename, npm_pack, url_filename, work_name
from anl_stack.artifacts.trust import (
    VERSIONS_SETTING,
    Evidence,
    Ref,
    check_file,
    entry_matches,
    hash_file,
    plugin_key_file,
    require_trust,
)
from anl_stack.core.errors import AnlError, ErrorRecord, ExitCode
from anl_stack.core.i18n import N_, Joined, Text, _
from anl_stack.plugins.discovery import get_plugin, require_loaded

# --- which artifacts a plugin needs -------------------------------------------

def _plugin(plugin: Any) -> tuple[str, Path, Any]:
    """(name, folder, manifest) from a plugin name or a discovered Plugin."""
    if isinstance(plugin, str):
        plugin = get_plugin(plugin)
    return plugin.name, Path(plugin.path), require_loaded(plugin)


def plugin_refs(plugin: Any) -> list[Ref]:
    """Every artifact entry of a plugin's manifest, every version listed."""
    name, folder, manifest = _plugin(plugin)
    return [Ref(name, folder, spec) for spec in manifest.deployment.artifacts]


def select(plugin: Any, settings: dict[str, Any] | None = None, version: str | None = None) -> list[Ref]:
    """The artifact entries a deploy uses, one per artifact name.

    A manifest may list one artifact name at several versions. The version
    used is, in order: ``version`` (``fetch --version``); the commune's
    ``anl_artifact_versions: {name: version}``; the commune's
    ``<plugin>_version`` or the manifest's ``app.version`` when an entry has
    that version; else the first entry listed.
    """
    name, folder, manifest = _plugin(plugin)
    settings = settings or {}
    by_name: dict[str, list[Any]] = {}
    for spec in manifest.deployment.artifacts:
        by_name.setdefault(spec.name, []).append(spec)
    chosen: list[Ref] = []
    for artifact, specs in by_name.items():
        versions = [s.version for s in specs]
        if version is not None:
            wanted = [s for s in specs if s.version == version]
            if not wanted:
                raise AnlError(_("plugin {name} has no artifact {artifact} at version {version}")
                               .format(name=name, artifact=artifact, version=version),
                               key="--version", expected=_("one of: {versions}").format(versions=", ".join(versions)))
            chosen.append(Ref(name, folder, wanted[0]))
            continue
        pinned = (settings.get(VERSIONS_SETTING) or {}).get(artifact)
        if pinned is not None:
            wanted = [s for s in specs if s.version == str(pinned)]
            if not wanted:
                raise AnlError(_("{versions_setting}.{artifact} asks for version {pinned}, which plugin {name} "
                                 "does not list")
                               .format(versions_setting=VERSIONS_SETTING, artifact=artifact, pinned=pinned,
                                       name=name), key=f"{VERSIONS_SETTING}.{artifact}",
                               expected=_("one of: {versions}").format(versions=", ".join(versions)))
            chosen.append(Ref(name, folder, wanted[0]))
            continue
        preferred = [str(v) for v in (settings.get(f"{name}_version"), manifest.app.version) if v]
        spec = next((s for p in preferred for s in specs if s.version == p), specs[0])
        chosen.append(Ref(name, folder, spec))
    return chosen


# --- getting a verified file into the cache --------------------------------------

@dataclass
class Result:
    ref: Ref
    entry: dict[str, Any]
    cached: bool  # True: already there, nothing downloaded

    def to_dict(self) -> dict[str, Any]:
        return {"plugin": self.ref.plugin, "name": self.ref.name, "version": self.ref.version,
                "cache_hit": self.cached, **self.entry}


def _store(cache: Cache, ref: Ref, path: Path, evidence: Evidence, *, origin: str,
           signature: Path | None, key: Path | None, move: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "plugin": ref.plugin, "name": ref.name, "version": ref.version, "filename": path.name,
        "sha256": evidence.digests.sha256, "sha512": evidence.digests.sha512, "size": evidence.digests.size,
        "checks": evidence.checks, "fingerprint": evidence.fingerprint, "origin": origin,
    }
    if signature is not None and evidence.fingerprint:
        entry["signature_sha256"] = hash_file(signature).sha256
        cache.put_blob(signature, entry["signature_sha256"])
        entry["key_sha256"] = hash_file(key).sha256
        cache.put_blob(key, entry["key_sha256"])
    cache.put_blob(path, evidence.digests.sha256, move=move)
    return cache.record(ref.key, entry)


def _signing_material(ref: Ref, workdir: Path, *, signature: Path | None = None,
                      key: Path | None = None) -> tuple[Path | None, Path | None]:
    """The detached signature and the key file, fetched when not given (small files: no progress shown)."""
    sig = ref.spec.signature
    if sig is None:
        return None, None
    if signature is None:
        signature = download_url(sig.url, workdir / expected_filename_sig(sig.url))
    if key is None:
        if sig.key_file:
            key = plugin_key_file(ref)
        else:
            key = download_url(sig.key_url, workdir / "signing-key")
    return signature, key


def expected_filename_sig(url: str) -> str:
    return url_filename(url, "signature")


def cached(ref: Ref, settings: dict[str, Any] | None, cache: Cache | None = None) -> dict[str, Any] | None:
    """The cache entry for ``ref`` if present and matching today's pins; a mismatch is an error."""
    cache = cache or Cache()
    entry = cache.get(ref.key)
    if entry is None:
        return None
    entry_matches(ref, entry, settings)
    return entry


def fetch(ref: Ref, settings: dict[str, Any] | None = None, *, cache: Cache | None = None,
          progress: ProgressHook | None = None) -> Result:
    """Download, check and cache one artifact; a cache hit downloads nothing."""
    cache = cache or Cache()
    require_trust(ref, settings)
    entry = cache.get(ref.key)  # a damaged index is an error, not a miss
    try:
        if entry is not None:
            entry_matches(ref, entry, settings)
    except AnlError:
        entry = None  # cached under other pins (a pin changed): fetch again, the new file must pass
    if entry is not None:
        # A hit is re-hashed: the index says what was checked then, not what the file holds now.
        blob = cache.blob(entry["sha256"])
        actual = hash_file(blob).sha256
        if actual != entry["sha256"]:
            raise AnlError(_("artifact {artifact}: cached file changed since it was checked; sha256 check failed; "
                             "actual: {actual}").format(artifact=ref.label, actual=actual), file=str(blob), key=ref.where,
                           expected=_("sha256:{sha256} (remove {blob} and fetch again)")
                                    .format(sha256=entry['sha256'], blob=blob))
        return Result(ref, entry, cached=True)
    workdir = cache.workdir(work_name(ref))
    # A failed download keeps its .part file in workdir, so the next try resumes.
    if ref.spec.url:
        path = download_url(ref.spec.url, workdir / expected_filename(ref), progress=progress)
    else:
        path = npm_pack(ref, workdir)
    try:
        signature, key = _signing_material(ref, workdir)
        evidence = check_file(ref, path, settings, signature=signature, key=key)
        entry = _store(cache, ref, path, evidence, origin=ref.spec.url or f"npm:{ref.spec.npm}",
                       signature=signature, key=key, move=True)
    finally:
        # A file that failed its checks is never kept; a good one was moved into blobs/.
        shutil.rmtree(workdir, ignore_errors=True)
    return Result(ref, entry, cached=False)


def add(ref: Ref, file: Path, settings: dict[str, Any] | None = None, *, signature: Path | None = None,
        key: Path | None = None, cache: Cache | None = None) -> Result:
    """Admit a file obtained elsewhere, only if it passes the same checks as a download."""
    cache = cache or Cache()
    if not file.is_file():
        raise AnlError(_("file not found"), file=str(file), expected=_("the release file to add"))
    workdir = cache.workdir(work_name(ref) + "-add")
    try:
        if ref.spec.signature is not None and signature is None:
            raise AnlError(_("artifact {artifact}: signature check failed; actual: no signature given")
                           .format(artifact=ref.label),
                           key=ref.where, expected=_("--signature FILE (the detached signature, {url})")
                                                   .format(url=ref.spec.signature.url))
        signature, key = _signing_material(ref, workdir, signature=signature, key=key)
        evidence = check_file(ref, file, settings, signature=signature, key=key)
        entry = _store(cache, ref, file, evidence, origin=f"added from {file.name}",
                       signature=signature, key=key, move=False)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return Result(ref, entry, cached=False)


def find_ref(plugin: Any, name: str | None = None, version: str | None = None,
             settings: dict[str, Any] | None = None) -> Ref:
    """One artifact of a plugin: by name (when it has several) and version."""
    refs = select(plugin, settings, version)
    if name is not None:
        refs = [r for r in refs if r.name == name]
    if len(refs) == 1:
        return refs[0]
    plugin_name = plugin if isinstance(plugin, str) else plugin.name
    if not refs:
        raise AnlError(_("plugin {plugin_name} declares no such artifact").format(plugin_name=plugin_name), key="artifact",
                       expected=_("an artifact listed in the plugin's deployment.artifacts"))
    raise AnlError(_("plugin {plugin_name} has several artifacts").format(plugin_name=plugin_name), key="--name",
                   expected=_("one of: {names}").format(names=", ".join(r.name for r in refs)))


# --- checking the cache ------------------------------------------------------------

@dataclass
class Finding:
    key: str
    ok: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"artifact": self.key, "ok": self.ok, "message": str(self.message)}  # the English text


def verify_cache(plugin: str | None = None, settings: dict[str, Any] | None = None,
                 cache: Cache | None = None) -> list[Finding]:
    """Re-hash every cached file (and re-run signature checks) of one plugin or all."""
    cache = cache or Cache()
    findings: list[Finding] = []
    refs: dict[str, Ref] = {}
    seen: set[str] = set()
    for key, entry in cache.entries().items():
        if plugin is not None and entry["plugin"] != plugin:
            continue
        blob = cache.blob(entry["sha256"])
        if not blob.is_file():
            findings.append(Finding(key, False, Text(N_("cached file is missing"))))
            continue
        actual = hash_file(blob)
        if actual.sha256 != entry["sha256"] or actual.sha512 != entry.get("sha512", actual.sha512):
            findings.append(Finding(key, False, Text(N_("sha256 check failed: expected {expected}, actual {actual}"),
                                                     expected=entry["sha256"], actual=actual.sha256)))
            continue
        notes = [Text(N_("hash ok"))]
        try:
            if entry["plugin"] not in seen:
                seen.add(entry["plugin"])
                try:
                    refs.update({r.key: r for r in plugin_refs(entry["plugin"])})
                except AnlError:
                    pass  # plugin not installed here: the hash and signature checks still apply
            ref = refs.get(key)
            if ref is None:
                notes.append(Text(N_("not listed by an installed plugin manifest")))
            else:
                entry_matches(ref, entry, settings)
                notes.append(Text(N_("matches the manifest's pins")))
        except AnlError as error:
            findings.append(Finding(key, False, str(error)))
            continue
        if entry.get("signature_sha256") and entry.get("key_sha256"):
            try:
                verify_detached(blob, cache.blob(entry["signature_sha256"]), cache.blob(entry["key_sha256"]),
                                entry["fingerprint"])
                notes.append(Text(N_("signature by {fingerprint} ok"), fingerprint=entry["fingerprint"]))
            except GpgError as error:
                findings.append(Finding(key, False, Text(N_("{check} check failed: {message}; expected {expected}, "
                                                            "actual {actual}"), check=error.check,
                                                         message=error.message, expected=error.expected,
                                                         actual=error.actual)))
                continue
        findings.append(Finding(key, True, Joined(N_("; "), notes)))
    return findings


# --- the deploy engine's entry point ------------------------------------------------

def resolve_for_deploy(plugins: Iterable[Any], inventory_settings: dict[str, Any] | None = None,
                       *, cache: Cache | None = None) -> dict[str, dict[str, Any]]:
    """The cached, verified artifacts a deploy of ``plugins`` needs, before any host is touched.

    ``plugins``: plugin names or discovered ``Plugin`` objects.
    ``inventory_settings``: the commune's ``all`` variables (``anl_artifact_pins``,
    ``anl_artifact_versions``, ``<plugin>_version``).

    Returns, per artifact name, ``{"path": str (file on the controller),
    "sha256": str, "filename": str, "version": str, "plugin": str}``. The deploy
    engine passes this dict to Ansible as the variable ``anl_artifacts``; the
    shared role ``artifact`` pushes ``anl_artifacts[artifact_name].path`` to the
    host and re-checks its sha256 there before anything extracts it.

    Raises AnlError (exit 2) listing every missing or mismatching artifact
    and the commands that provide it. Every cached file is re-hashed here.
    """
    cache = cache or Cache()
    result: dict[str, dict[str, Any]] = {}
    records: list[ErrorRecord] = []
    for plugin in plugins:
        for ref in select(plugin, inventory_settings):
            try:
                entry = cached(ref, inventory_settings, cache)
            except AnlError as error:
                records.extend(error.records)
                continue
            if entry is None:
                records.append(ErrorRecord(
                    _("artifact {artifact} is not in the artifact cache ({root})")
                    .format(artifact=ref.label, root=cache.root),
                    key=ref.where,
                    expected=_("`anl-stack artifacts fetch {plugin} --version {ref_version}` on a connected "
                               "machine, `anl-stack artifacts add {plugin} FILE` for a file obtained elsewhere, or "
                               "`anl-stack artifacts import BUNDLE`")
                             .format(plugin=ref.plugin, ref_version=ref.version)))
                continue
            blob = cache.blob(entry["sha256"])
            actual = hash_file(blob).sha256
            if actual != entry["sha256"]:
                records.append(ErrorRecord(
                    _("artifact {artifact}: cached file {blob} changed; sha256 check failed; actual: {actual}")
                    .format(artifact=ref.label, blob=blob, actual=actual),
                    file=str(blob), key=ref.where,
                    expected=_("sha256:{sha256} (run `anl-stack artifacts verify`)").format(sha256=entry['sha256'])))
                continue
            previous = result.get(ref.name)
            if previous is not None and previous["sha256"] != entry["sha256"]:
                records.append(ErrorRecord(
                    _("artifact name {artifact} is used by plugins {plugin} and {plugin2} for different files")
                    .format(artifact=ref.name, plugin=previous['plugin'], plugin2=ref.plugin), key=ref.where, expected=_("one file per artifact name")))
                continue
            result[ref.name] = {"path": str(blob), "sha256": entry["sha256"], "filename": entry["filename"],
                                "version": ref.version, "plugin": ref.plugin}
    if records:
        raise AnlError(records, exit_code=ExitCode.REFUSED)
    return result
