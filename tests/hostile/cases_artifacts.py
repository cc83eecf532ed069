"""Offline bundles made by hand, and an artifact cache someone tampered with."""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Callable
from typing import Any

from tests.hostile.model import HOSTS, Case, Where, entry, inventory, link, plugin, tar_bytes, write

BLOB = b"release 1.0.0 of the hostile test application\n"
SHA = hashlib.sha256(BLOB).hexdigest()
KEY = "hostile/app/1.0.0"
BUNDLE = "{case}/bundle.tar"
IMPORT = ["artifacts", "import", BUNDLE]
INDEX = "{home}/cache/artifacts/index.json"


def _plugin(w: Where) -> None:
    """The plugin the bundles and the cache entries belong to: one artifact, pinned by its sha256."""
    def change(data: dict[str, Any]) -> None:
        data["deployment"]["artifacts"] = [{"name": "app", "version": "1.0.0", "sha256": SHA,
                                            "url": "http://127.0.0.1:9/app-1.0.0.tar.gz"}]
    plugin(w, changes=change)


def item(**changes: Any) -> dict[str, Any]:
    base = {"plugin": "hostile", "name": "app", "version": "1.0.0", "filename": "app-1.0.0.tar.gz", "sha256": SHA,
            "sha512": hashlib.sha512(BLOB).hexdigest(), "size": len(BLOB), "fingerprint": None,
            "signature_sha256": None, "key_sha256": None}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()


def document(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"format": 1, "created": "2026-12-01T10:00:00+00:00", "commune": "exemple",
                            "plugins": ["hostile"], "artifacts": [item()]}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not _DROP}


def bundle(manifest: bytes | dict[str, Any] | list[Any] | None = None,
           extra: list[tuple[tarfile.TarInfo, bytes | None]] | None = None, *, blob: bytes | None = BLOB,
           fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """A bundle: the manifest (a document, or raw bytes), the blob, then ``extra`` entries."""
    raw = manifest if isinstance(manifest, bytes) else json.dumps(document() if manifest is None else manifest).encode()
    members = [(entry("anl-bundle.json"), raw)]
    if blob is not None:
        members.append((entry(f"blobs/{SHA}"), blob))
    return tar_bytes(members + (extra or []), fmt=fmt)


def _import_case(name: str, content: Callable[[], bytes], key: str, text: str | None = None) -> Case:
    def build(w: Where) -> None:
        _plugin(w)
        write(w.case / "bundle.tar", content())

    return Case(f"bundle-{name}", "Offline bundles made by hand", build, IMPORT, BUNDLE, key, text=text,
                absent=(INDEX, "{home}/cache/artifacts/blobs/*"))


def _items(**changes: Any) -> Callable[[], bytes]:
    return lambda: bundle(document(artifacts=[item(**changes)]))


BAD_FIELDS: dict[str, tuple[dict[str, Any], str]] = {
    "filename-missing": ({"filename": _DROP}, "artifacts[0].filename"),
    "filename-parent": ({"filename": "../../outside/evil"}, "artifacts[0].filename"),
    "filename-absolute": ({"filename": "/etc/cron.d/evil"}, "artifacts[0].filename"),
    "filename-dot-dot": ({"filename": ".."}, "artifacts[0].filename"),
    "filename-dot": ({"filename": "."}, "artifacts[0].filename"),
    "filename-empty": ({"filename": ""}, "artifacts[0].filename"),
    "filename-backslash": ({"filename": "..\\evil"}, "artifacts[0].filename"),
    "filename-nul": ({"filename": "app\u0000.tar.gz"}, "artifacts[0].filename"),
    "filename-300-chars": ({"filename": "a" * 300}, "artifacts[0].filename"),
    "filename-list": ({"filename": ["app.tar.gz"]}, "artifacts[0].filename"),
    "sha256-list": ({"sha256": [SHA]}, "artifacts[0].sha256"),
    "sha256-number": ({"sha256": 12}, "artifacts[0].sha256"),
    "sha256-missing": ({"sha256": _DROP}, "artifacts[0].sha256"),
    "sha256-upper-case": ({"sha256": SHA.upper()}, "artifacts[0].sha256"),
    "sha256-path": ({"sha256": "../../../outside/shadow"}, "artifacts[0].sha256"),
    "sha256-short": ({"sha256": SHA[:40]}, "artifacts[0].sha256"),
    "sha512-bad": ({"sha512": "zz"}, "artifacts[0].sha512"),
    "signature-sha256-mapping": ({"signature_sha256": {"a": 1}}, "artifacts[0].signature_sha256"),
    "key-sha256-list": ({"key_sha256": [SHA]}, "artifacts[0].key_sha256"),
    "size-negative": ({"size": -1}, "artifacts[0].size"),
    "size-text": ({"size": "big"}, "artifacts[0].size"),
    "plugin-missing": ({"plugin": _DROP}, "artifacts[0].plugin"),
    "plugin-list": ({"plugin": ["hostile"]}, "artifacts[0].plugin"),
    "name-mapping": ({"name": {"x": 1}}, "artifacts[0].name"),
    "version-missing": ({"version": _DROP}, "artifacts[0].version"),
    "fingerprint-number": ({"fingerprint": 7}, "artifacts[0].fingerprint"),
    "plugin-unknown": ({"plugin": "nosuchplugin"}, "artifacts[0].plugin"),
    "artifact-unlisted": ({"name": "other"}, "artifacts[0].name"),
}

BAD_DOCUMENTS: dict[str, tuple[Any, str]] = {
    "item-text": (document(artifacts=["app"]), "artifacts[0]"),
    "item-list": (document(artifacts=[[item()]]), "artifacts[0]"),
    "item-number": (document(artifacts=[3]), "artifacts[0]"),
    "item-null": (document(artifacts=[None]), "artifacts[0]"),
    "second-item-bad": (document(artifacts=[item(), "x"]), "artifacts[1]"),
    "artifacts-missing": (document(artifacts=_DROP), "artifacts"),
    "artifacts-mapping": (document(artifacts={"app": item()}), "artifacts"),
    "artifacts-text": (document(artifacts="app"), "artifacts"),
    "format-missing": (document(format=_DROP), "format"),
    "format-2": (document(format=2), "format"),
    "format-text": (document(format="1"), "format"),
    "document-list": ([item()], "anl-bundle.json"),
}

RAW_MANIFESTS: dict[str, bytes] = {
    "manifest-not-json": b"format: 1\nartifacts: []\n",
    "manifest-deep-json": b"[" * 200_000 + b"]" * 200_000,
    "manifest-latin-1": json.dumps(document()).encode()[:-1] + b', "x": "\xe9t\xe9"}',
    "manifest-empty": b"",
}


def _member_cases() -> dict[str, tuple[Callable[[], bytes], str]]:
    sha_member = f"blobs/{SHA}"
    other = "b" * 64
    return {
        "entry-parent-path": (lambda: bundle(extra=[(entry("../outside/evil"), b"x")]), "../outside/evil"),
        "entry-absolute-path": (lambda: bundle(extra=[(entry("/tmp/evil"), b"x")]), "/tmp/evil"),
        "entry-blob-parent": (lambda: bundle(extra=[(entry("blobs/../../evil"), b"x")]), "blobs/../../evil"),
        "entry-not-a-blob-name": (lambda: bundle(extra=[(entry("blobs/xyz"), b"x")]), "blobs/xyz"),
        "entry-symlink": (lambda: bundle(extra=[(entry(f"blobs/{other}", tarfile.SYMTYPE, linkname="/etc/shadow"),
                                                 None)]), f"blobs/{other}"),
        "entry-hardlink": (lambda: bundle(extra=[(entry(f"blobs/{other}", tarfile.LNKTYPE, linkname=sha_member),
                                                  None)]), f"blobs/{other}"),
        "entry-folder": (lambda: bundle(extra=[(entry(f"blobs/{other}", tarfile.DIRTYPE), None)]), f"blobs/{other}"),
        "entry-fifo": (lambda: bundle(extra=[(entry(f"blobs/{other}", tarfile.FIFOTYPE), None)]), f"blobs/{other}"),
        "entry-device": (lambda: bundle(extra=[(entry(f"blobs/{other}", tarfile.CHRTYPE, devmajor=1, devminor=3),
                                                None)]), f"blobs/{other}"),
        "entry-gnu-sparse": (lambda: bundle(extra=[(entry(f"blobs/{other}", tarfile.GNUTYPE_SPARSE), b"x" * 10)],
                                            fmt=tarfile.GNU_FORMAT), f"blobs/{other}"),
        "entry-pax-sparse": (lambda: bundle(extra=[(entry(f"blobs/{other}", pax_headers={
            "GNU.sparse.size": str(3 << 30), "GNU.sparse.map": "0,10", "GNU.sparse.numblocks": "1"}), b"x" * 10)]),
            f"blobs/{other}"),
        "entry-twice": (lambda: bundle(extra=[(entry(sha_member), BLOB)]), sha_member),
        "manifest-twice": (lambda: bundle(extra=[(entry("anl-bundle.json"), b"{}")]), "anl-bundle.json"),
        "manifest-missing": (lambda: tar_bytes([(entry(sha_member), BLOB)]), "anl-bundle.json"),
        "manifest-17-mib": (lambda: tar_bytes([(entry("anl-bundle.json", size=17 << 20), None)]), "anl-bundle.json"),
        # the manifest, the blob and 10,000 more: the 10,001st entry is the one refused
        "10002-entries": (lambda: bundle(extra=[(entry(f"blobs/{i:064x}"), b"") for i in range(10_000)]),
                          f"blobs/{9_998:064x}"),
        "blob-altered": (lambda: bundle(blob=BLOB.replace(b"1.0.0", b"6.6.6")), "artifacts[0].sha256"),
        "blob-missing": (lambda: bundle(blob=None), "artifacts[0].sha256"),
        "truncated-data": (lambda: bundle()[:700], "FILE"),
        "not-a-tar": (lambda: b"this is not a bundle\n" * 40, "FILE"),
        "gzip-compressed": (lambda: __import__("gzip").compress(bundle()), "FILE"),
        "empty-file": (lambda: b"", "FILE"),
    }


def _cache_case(name: str, index: str | bytes, argv: list[str], key: str, file: str = INDEX) -> Case:
    def build(w: Where) -> None:
        _plugin(w)
        inventory(w, hosts=HOSTS.replace("    hello:\n", "    hostile:\n"))
        write(w.home / "cache" / "artifacts" / "index.json", w.fill(index) if isinstance(index, str) else index)
        write(w.home / "cache" / "artifacts" / "blobs" / SHA, BLOB)
        write(w.case / "bundle.tar", bundle())

    return Case(f"cache-{name}-{argv[1]}", "A damaged or tampered artifact cache", build, argv, file, key)


def _index(entry_value: Any) -> str:
    return json.dumps({"format": 1, "entries": {KEY: entry_value}})


GOOD_ENTRY = dict(item(), checks=["sha256 pinned in manifest"], origin="test", added="2026-12-01T10:00:00+00:00")
LIST = ["artifacts", "list"]
VERIFY = ["artifacts", "verify"]
FETCH = ["artifacts", "fetch", "hostile"]
PLAN = ["plan", "hostile", "-i", "{inv}"]

CACHE: list[tuple[str, str | bytes, list[str], str]] = [
    ("not-json", "{entries: oops", LIST, "index"),
    ("empty", "", VERIFY, "index"),
    ("binary", b"\xff\xfe\x00garbage", FETCH, "index"),
    ("deep-json", "[" * 100_000 + "]" * 100_000, LIST, "index"),
    ("a-list", "[]", VERIFY, "entries"),
    ("entries-list", json.dumps({"format": 1, "entries": []}), FETCH, "entries"),
    ("entry-text", _index("app"), LIST, f"entries.{KEY}"),
    ("entry-without-sha256", _index({k: v for k, v in GOOD_ENTRY.items() if k != "sha256"}), VERIFY,
     f"entries.{KEY}"),
    ("sha256-path", _index(dict(GOOD_ENTRY, sha256="../../../../outside/shadow")), FETCH, f"entries.{KEY}"),
    ("sha256-number", _index(dict(GOOD_ENTRY, sha256=5)), PLAN, f"entries.{KEY}"),
    ("signature-path", _index(dict(GOOD_ENTRY, signature_sha256="../../outside/shadow")), VERIFY, f"entries.{KEY}"),
    ("plugin-number", _index(dict(GOOD_ENTRY, plugin=3)), LIST, f"entries.{KEY}"),
    ("sha256-path-import", _index(dict(GOOD_ENTRY, sha256="../x")), IMPORT, f"entries.{KEY}"),
    ("entries-text", json.dumps({"format": 1, "entries": "x"}), PLAN, "entries"),
]


def _tampered(argv: list[str], how: str) -> Case:
    def build(w: Where) -> None:
        _plugin(w)
        inventory(w, hosts=HOSTS.replace("    hello:\n", "    hostile:\n"))
        write(w.home / "cache" / "artifacts" / "index.json", _index(GOOD_ENTRY))
        blob = w.home / "cache" / "artifacts" / "blobs" / SHA
        if how == "link":
            link(blob, w.outside / "shadow")
        else:
            write(blob, BLOB.replace(b"1.0.0", b"6.6.6"))

    return Case(f"cache-blob-{how}-{argv[0]}-{argv[1]}", "A damaged or tampered artifact cache", build, argv,
                "{home}/cache/artifacts/blobs/" + SHA, "hostile: deployment.artifacts.app", text="sha256 check failed")


CASES: list[Case] = [
    *[_import_case(name, _items(**changes), key) for name, (changes, key) in BAD_FIELDS.items()],
    *[_import_case(name, (lambda d=doc: bundle(d)), key) for name, (doc, key) in BAD_DOCUMENTS.items()],
    *[_import_case(name, (lambda r=raw: bundle(r)), "anl-bundle.json") for name, raw in RAW_MANIFESTS.items()],
    *[_import_case(name, content, key) for name, (content, key) in _member_cases().items()],
    Case("bundle-is-a-folder", "Offline bundles made by hand", lambda w: (w.case / "bundle.tar").mkdir(), IMPORT,
         BUNDLE, "FILE", text="not found"),
    *[_cache_case(name, index, argv, key) for name, index, argv, key in CACHE],
    _tampered(FETCH, "edit"),
    _tampered(PLAN, "edit"),
    _tampered(FETCH, "link"),
]
