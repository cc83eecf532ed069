"""Artifacts against a loopback HTTP server, with OpenPGP keys generated for the test."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from anl_stack.artifacts import Cache, add, fetch, resolve_for_deploy, select
from anl_stack.artifacts.bundle import import_bundle, make_bundle
from anl_stack.cli import cli
from anl_stack.core.errors import AnlError, ExitCode
from anl_stack.inventory.model import create_inventory
from tests.fixtures.artifacts import ArtifactServer, GpgKey, make_archive, write_plugin

pytestmark = pytest.mark.skipif(shutil.which("gpgv") is None or shutil.which("gpg") is None,
                                reason="gnupg (gpg, gpgv) is not installed")

ARCHIVE = make_archive({"atest-1.0.0/README": b"hello from the test release\n" * 2000,
                        "atest-1.0.0/bin/run": b"#!/bin/sh\necho ok\n"})
SHA256 = hashlib.sha256(ARCHIVE).hexdigest()


def flipped(data: bytes, at: int | None = None) -> bytes:
    at = len(data) // 2 if at is None else at
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, GpgKey]]:
    root = tmp_path_factory.mktemp("gpg")
    made = {"good": GpgKey(root / "good", "Release Signer <release@test.invalid>"),
            "other": GpgKey(root / "other", "Someone Else <else@test.invalid>")}
    yield made
    for key in made.values():
        key.close()


@pytest.fixture
def server():
    srv = ArtifactServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    paths = {"cache": tmp_path / "cache", "plugins": tmp_path / "plugins", "root": tmp_path}
    paths["plugins"].mkdir()
    monkeypatch.setenv("ANL_STACK_CACHE_DIR", str(paths["cache"]))
    monkeypatch.setenv("ANL_STACK_PLUGINS_PATH", str(paths["plugins"]))
    return paths


def checksum_plugin(env: dict[str, Path], server: ArtifactServer, **extra: str) -> None:
    server.files["/rel/atest-1.0.0.tar.gz"] = ARCHIVE
    write_plugin(env["plugins"], "atest", [dict({"name": "atest", "version": "1.0.0",
                                                 "url": server.url("/rel/atest-1.0.0.tar.gz"),
                                                 "sha256": SHA256}, **extra)])


def signed_plugin(env: dict[str, Path], server: ArtifactServer, keys: dict[str, GpgKey], *,
                  signer: str = "good", data: bytes = ARCHIVE, key_source: str = "file",
                  served_key: str = "good") -> None:
    """A plugin trusting ``keys['good']`` by fingerprint; the file is signed by ``signer``."""
    server.files["/rel/asig-2.0.0.tar.gz"] = data
    server.files["/rel/asig-2.0.0.tar.gz.asc"] = keys[signer].sign(ARCHIVE)
    server.files["/keys/signer.asc"] = keys[served_key].public_key.read_bytes()
    signature = {"url": server.url("/rel/asig-2.0.0.tar.gz.asc"), "fingerprint": keys["good"].fingerprint}
    files = {}
    if key_source == "file":
        signature["key_file"] = "keys/signer.asc"
        files["keys/signer.asc"] = keys[served_key].public_key.read_bytes()
    else:
        signature["key_url"] = server.url("/keys/signer.asc")
    write_plugin(env["plugins"], "asig", [{"name": "asig", "version": "2.0.0",
                                           "url": server.url("/rel/asig-2.0.0.tar.gz"),
                                           "signature": signature}], files=files)


def only(plugin: str, settings: dict | None = None):
    (ref,) = select(plugin, settings)
    return ref


def assert_nothing_cached(env: dict[str, Path]) -> None:
    cache = Cache()
    assert cache.root == env["cache"] / "artifacts"  # the cache looked at is the test's
    assert cache.entries() == {}
    # No file anywhere in the cache: no blob (nor a staged one), no index, no download left over.
    assert sorted(p.relative_to(cache.root).as_posix() for p in cache.root.rglob("*") if p.is_file()) == []


# --- checksums ---------------------------------------------------------------------

def test_pinned_checksum_accepted_and_second_fetch_is_a_cache_hit(env, server):
    checksum_plugin(env, server)
    first = fetch(only("atest"))
    assert not first.cached
    blob = Cache().blob(SHA256)
    assert blob.read_bytes() == ARCHIVE
    assert first.entry["filename"] == "atest-1.0.0.tar.gz"
    assert server.count("/rel/atest-1.0.0.tar.gz") == 1
    second = fetch(only("atest"))
    assert second.cached
    assert server.count("/rel/atest-1.0.0.tar.gz") == 1  # nothing downloaded again


def test_one_flipped_byte_is_refused_and_not_cached(env, server):
    checksum_plugin(env, server)
    server.files["/rel/atest-1.0.0.tar.gz"] = flipped(ARCHIVE)
    with pytest.raises(AnlError) as caught:
        fetch(only("atest"))
    text = str(caught.value)
    assert "atest" in text and "sha256" in text
    assert f"sha256:{SHA256}" in text  # expected
    assert f"sha256:{hashlib.sha256(flipped(ARCHIVE)).hexdigest()}" in text  # actual
    assert_nothing_cached(env)
    assert not any(Cache().tmp.rglob("*.tar.gz"))


def test_unpinned_artifact_is_refused_until_the_commune_pins_it(env, server):
    server.files["/rel/atest-1.0.0.tar.gz"] = ARCHIVE
    write_plugin(env["plugins"], "atest", [{"name": "atest", "version": "1.0.0",
                                            "url": server.url("/rel/atest-1.0.0.tar.gz")}])
    with pytest.raises(AnlError) as caught:
        fetch(only("atest"))
    assert "anl_artifact_pins" in str(caught.value)
    assert server.requests == []  # refused before downloading anything
    wrong = {"anl_artifact_pins": {"atest": "sha256:" + "0" * 64}}
    with pytest.raises(AnlError, match="commune setting anl_artifact_pins"):
        fetch(only("atest", wrong), wrong)
    assert_nothing_cached(env)
    pinned = {"anl_artifact_pins": {"atest@1.0.0": f"sha256:{SHA256}"}}
    result = fetch(only("atest", pinned), pinned)
    assert "sha256 pinned in commune setting anl_artifact_pins" in result.entry["checks"]


def test_sha512_in_npm_integrity_form_is_accepted(env, server):
    import base64

    sri = "sha512-" + base64.b64encode(hashlib.sha512(ARCHIVE).digest()).decode()
    server.files["/rel/atest-1.0.0.tar.gz"] = ARCHIVE
    write_plugin(env["plugins"], "atest", [{"name": "atest", "version": "1.0.0",
                                            "url": server.url("/rel/atest-1.0.0.tar.gz"), "sha512": sri}])
    assert fetch(only("atest")).entry["sha512"] == hashlib.sha512(ARCHIVE).hexdigest()
    server.files["/rel/atest-1.0.0.tar.gz"] = flipped(ARCHIVE)
    shutil.rmtree(env["cache"])
    with pytest.raises(AnlError, match="sha512"):
        fetch(only("atest"))


def test_interrupted_download_resumes_with_range(env, server):
    checksum_plugin(env, server)
    half = len(ARCHIVE) // 2
    server.drop_after["/rel/atest-1.0.0.tar.gz"] = half
    result = fetch(only("atest"))
    assert Cache().blob(result.entry["sha256"]).read_bytes() == ARCHIVE
    asked = [r.range for r in server.requests if r.path == "/rel/atest-1.0.0.tar.gz"]
    assert asked == [None, f"bytes={half}-"]


def test_npm_reference_must_name_an_exact_version(env):
    write_plugin(env["plugins"], "anpm", [{"name": "hlsjs", "version": "1.6.13", "npm": "hls.js@^1.6.0",
                                           "sha512": "0" * 128}])
    with pytest.raises(AnlError, match="exact version"):
        fetch(only("anpm"))


# --- signatures -------------------------------------------------------------------

def test_good_signature_accepted(env, server, keys):
    signed_plugin(env, server, keys)
    result = fetch(only("asig"))
    assert result.entry["fingerprint"] == keys["good"].fingerprint
    assert f"OpenPGP signature by {keys['good'].fingerprint}" in result.entry["checks"]


def test_signature_over_a_flipped_byte_refused(env, server, keys):
    signed_plugin(env, server, keys, data=flipped(ARCHIVE))
    with pytest.raises(AnlError) as caught:
        fetch(only("asig"))
    assert "signature check failed" in str(caught.value)
    assert "bad signature" in str(caught.value)
    assert_nothing_cached(env)


def test_signature_by_another_key_refused(env, server, keys):
    signed_plugin(env, server, keys, signer="other")
    with pytest.raises(AnlError) as caught:
        fetch(only("asig"))
    assert "signature check failed" in str(caught.value)
    assert keys["good"].fingerprint in str(caught.value)
    assert_nothing_cached(env)


@pytest.mark.parametrize("key_source", ["file", "url"])
def test_key_whose_fingerprint_differs_from_the_pin_refused(env, server, keys, key_source):
    # The served key signed the file, but it is not the pinned one.
    signed_plugin(env, server, keys, signer="other", served_key="other", key_source=key_source)
    with pytest.raises(AnlError) as caught:
        fetch(only("asig"))
    text = str(caught.value)
    assert "key fingerprint check failed" in text
    assert keys["good"].fingerprint in text and keys["other"].fingerprint in text
    assert_nothing_cached(env)


def test_key_fetched_from_its_url_accepted_when_fingerprint_matches(env, server, keys):
    signed_plugin(env, server, keys, key_source="url")
    assert fetch(only("asig")).entry["fingerprint"] == keys["good"].fingerprint
    assert server.count("/keys/signer.asc") == 1


def test_missing_signature_refused_when_required(env, server, keys):
    signed_plugin(env, server, keys)
    del server.files["/rel/asig-2.0.0.tar.gz.asc"]
    with pytest.raises(AnlError, match="HTTP 404"):
        fetch(only("asig"))
    assert_nothing_cached(env)


# --- artifacts add ----------------------------------------------------------------

def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_add_accepts_the_good_file_and_refuses_bad_ones(env, server, keys, tmp_path):
    signed_plugin(env, server, keys)
    good = tmp_path / "usb" / "asig-2.0.0.tar.gz"
    good.parent.mkdir()
    good.write_bytes(ARCHIVE)
    sig = tmp_path / "usb" / "asig-2.0.0.tar.gz.asc"
    sig.write_bytes(keys["good"].sign(ARCHIVE))
    bad = tmp_path / "usb" / "bad" / "asig-2.0.0.tar.gz"
    bad.parent.mkdir()
    bad.write_bytes(flipped(ARCHIVE))
    wrong_sig = tmp_path / "usb" / "other.asc"
    wrong_sig.write_bytes(keys["other"].sign(ARCHIVE))

    no_sig = run("artifacts", "add", "asig", str(good))
    assert no_sig.exit_code == ExitCode.REFUSED
    assert "no signature given" in no_sig.output
    flipped_file = run("artifacts", "add", "asig", str(bad), "--signature", str(sig))
    assert flipped_file.exit_code == ExitCode.REFUSED
    assert "bad signature" in flipped_file.output
    other = run("artifacts", "add", "asig", str(good), "--signature", str(wrong_sig))
    assert other.exit_code == ExitCode.REFUSED
    assert Cache().entries() == {}

    ok = run("artifacts", "add", "asig", str(good), "--signature", str(sig), "--json")
    assert ok.exit_code == 0, ok.output
    entry = json.loads(ok.output)
    assert entry["sha256"] == SHA256 and entry["fingerprint"] == keys["good"].fingerprint
    assert server.count("/rel/asig-2.0.0.tar.gz") == 0  # the file came from the USB key
    listed = json.loads(run("artifacts", "list", "--json").output)
    assert [a["name"] for a in listed["artifacts"]] == ["asig"]


def test_add_checksum_artifact_refuses_a_flipped_byte(env, server, tmp_path):
    checksum_plugin(env, server)
    bad = tmp_path / "atest-1.0.0.tar.gz"
    bad.write_bytes(flipped(ARCHIVE, 10))
    result = run("artifacts", "add", "atest", str(bad))
    assert result.exit_code == ExitCode.REFUSED
    assert f"expected: sha256:{SHA256}" in result.output
    bad.write_bytes(ARCHIVE)
    assert run("artifacts", "add", "atest", str(bad)).exit_code == 0
    assert Cache().blob(SHA256).read_bytes() == ARCHIVE


# --- the deploy engine's view ----------------------------------------------------------

def test_resolve_for_deploy_refuses_a_missing_artifact_naming_the_commands(env, server):
    checksum_plugin(env, server)
    with pytest.raises(AnlError) as caught:
        resolve_for_deploy(["atest"], {})
    assert caught.value.exit_code == ExitCode.REFUSED
    text = str(caught.value)
    for command in ("anl-stack artifacts fetch atest", "anl-stack artifacts add atest FILE",
                    "anl-stack artifacts import BUNDLE"):
        assert command in text
    assert server.requests == []  # resolving never downloads

    fetch(only("atest"))
    resolved = resolve_for_deploy(["atest"], {})
    assert resolved["atest"]["sha256"] == SHA256
    assert resolved["atest"]["filename"] == "atest-1.0.0.tar.gz"
    assert Path(resolved["atest"]["path"]).read_bytes() == ARCHIVE


def test_resolve_for_deploy_refuses_a_cached_file_that_changed(env, server):
    checksum_plugin(env, server)
    fetch(only("atest"))
    blob = Cache().blob(SHA256)
    blob.chmod(0o644)
    blob.write_bytes(flipped(ARCHIVE))
    with pytest.raises(AnlError, match="sha256 check failed"):
        resolve_for_deploy(["atest"], {})
    result = run("artifacts", "verify", "atest")
    assert result.exit_code == ExitCode.FAILED
    assert "FAIL" in result.output


def test_version_selection_prefers_the_commune_setting(env, server):
    server.files["/a-1.tgz"], server.files["/a-2.tgz"] = b"one", b"two"
    write_plugin(env["plugins"], "atest", [
        {"name": "a", "version": "2.0.0", "url": server.url("/a-2.tgz"), "sha256": hashlib.sha256(b"two").hexdigest()},
        {"name": "a", "version": "1.0.0", "url": server.url("/a-1.tgz"), "sha256": hashlib.sha256(b"one").hexdigest()},
    ])
    assert only("atest").version == "1.0.0"  # equals app.version
    assert only("atest", {"atest_version": "2.0.0"}).version == "2.0.0"
    assert only("atest", {"anl_artifact_versions": {"a": "2.0.0"}}).version == "2.0.0"
    assert run("artifacts", "fetch", "atest", "--version", "3.0.0").exit_code == ExitCode.REFUSED


# --- bundles --------------------------------------------------------------------------

def make_inventory(root: Path, plugins: list[str]) -> Path:
    paths = create_inventory(root, commune="testville", domain="testville.test", email="admin@testville.test",
                             hosts={"children": {p: {"hosts": {"h1": {}}} for p in plugins}},
                             vault_password_file=root.parent / "vault-pass")
    return paths.root


def test_bundle_made_in_one_cache_imports_into_another_and_tampering_is_refused(env, server, keys, tmp_path,
                                                                                monkeypatch):
    checksum_plugin(env, server)
    signed_plugin(env, server, keys)
    inventory = make_inventory(tmp_path / "inv", ["atest", "asig"])
    out = tmp_path / "commune.anlbundle"
    made = run("artifacts", "bundle", "-i", str(inventory), "-o", str(out))
    assert made.exit_code == 0, made.output
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
    assert {"anl-bundle.json", f"blobs/{SHA256}"} <= names

    # The offline controller: same plugins, an empty cache, no server.
    offline = tmp_path / "offline-cache"
    monkeypatch.setenv("ANL_STACK_CACHE_DIR", str(offline))
    server.files.clear()
    before = len(server.requests)
    imported = run("artifacts", "import", str(out))
    assert imported.exit_code == 0, imported.output
    resolved = resolve_for_deploy(["atest", "asig"], {})
    assert Path(resolved["atest"]["path"]).read_bytes() == ARCHIVE
    assert Path(resolved["asig"]["path"]).read_bytes() == ARCHIVE
    assert len(server.requests) == before
    assert run("artifacts", "verify").exit_code == 0

    # A bundle whose file was altered (its listing unchanged) is refused, and nothing is imported.
    tampered = tmp_path / "tampered.anlbundle"
    with tarfile.open(out) as src, tarfile.open(tampered, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == f"blobs/{SHA256}":
                data = flipped(data)
            import io

            dst.addfile(member, io.BytesIO(data))
    monkeypatch.setenv("ANL_STACK_CACHE_DIR", str(tmp_path / "third-cache"))
    refused = run("artifacts", "import", str(tampered))
    assert refused.exit_code == ExitCode.REFUSED
    assert "bundle altered" in refused.output and SHA256 in refused.output
    assert Cache().entries() == {}


def test_bundle_with_a_consistent_forgery_is_refused_by_the_local_manifest(env, server, tmp_path, monkeypatch):
    """Replacing the file AND its listed hash inside the bundle still fails the plugin's pin."""
    checksum_plugin(env, server)
    inventory = make_inventory(tmp_path / "inv", ["atest"])
    out = tmp_path / "b.anlbundle"
    make_bundle(inventory, out)
    forged_data = flipped(ARCHIVE)
    forged_sha = hashlib.sha256(forged_data).hexdigest()
    forged = tmp_path / "forged.anlbundle"
    import io

    with tarfile.open(out) as src, tarfile.open(forged, "w") as dst:
        doc = json.loads(src.extractfile("anl-bundle.json").read())
        doc["artifacts"][0]["sha256"] = forged_sha
        for name, data in (("anl-bundle.json", json.dumps(doc).encode()), (f"blobs/{forged_sha}", forged_data)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    monkeypatch.setenv("ANL_STACK_CACHE_DIR", str(tmp_path / "other"))
    with pytest.raises(AnlError) as caught:
        import_bundle(forged)
    assert f"sha256:{SHA256}" in str(caught.value)
    assert Cache().entries() == {}


def test_add_refuses_with_no_pin(env, server, tmp_path):
    write_plugin(env["plugins"], "atest", [{"name": "atest", "version": "1.0.0",
                                            "url": server.url("/rel/atest-1.0.0.tar.gz")}])
    file = tmp_path / "atest-1.0.0.tar.gz"
    file.write_bytes(ARCHIVE)
    with pytest.raises(AnlError, match="no pinned checksum"):
        add(only("atest"), file)


# --- the HTTP adapter ----------------------------------------------------------------

def test_download_retries_a_server_error_but_not_a_missing_file(server, tmp_path):
    from anl_stack.adapters.http import DownloadError, download

    server.files["/f"] = b"payload"
    server.fail_with["/f"] = [503, 500]
    assert download(server.url("/f"), tmp_path / "f", backoff=0).read_bytes() == b"payload"
    assert server.count("/f") == 3
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(server.url("/absent"), tmp_path / "absent", backoff=0)
    assert server.count("/absent") == 1
    server.fail_with["/f"] = [503] * 3
    with pytest.raises(DownloadError, match="after 3 attempts"):
        download(server.url("/f"), tmp_path / "g", retries=3, backoff=0)


def test_fetch_replaces_a_cached_file_when_the_pin_changed(env, server):
    server.files["/rel/atest-1.0.0.tar.gz"] = ARCHIVE
    write_plugin(env["plugins"], "atest", [{"name": "atest", "version": "1.0.0",
                                            "url": server.url("/rel/atest-1.0.0.tar.gz")}])
    fetch(only("atest"), {"anl_artifact_pins": {"atest": SHA256}})
    fixed = ARCHIVE + b"\0"  # upstream re-published; the commune pins the new file
    server.files["/rel/atest-1.0.0.tar.gz"] = fixed
    settings = {"anl_artifact_pins": {"atest": hashlib.sha256(fixed).hexdigest()}}
    with pytest.raises(AnlError, match="anl_artifact_pins"):
        resolve_for_deploy(["atest"], settings)  # the cached file no longer matches the pin
    result = fetch(only("atest", settings), settings)
    assert not result.cached
    assert Path(resolve_for_deploy(["atest"], settings)["atest"]["path"]).read_bytes() == fixed


# --- the checks in French: made now, or read back from the cache's index --------------------

def test_checks_and_findings_are_shown_in_french(env, server, monkeypatch):
    for var in ("ANL_STACK_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    checksum_plugin(env, server)
    runner = CliRunner()
    fetched = runner.invoke(cli, ["--lang", "fr", "artifacts", "fetch", "atest"], prog_name="anl-stack")
    assert fetched.exit_code == 0, fetched.output
    assert "ok: sha256 épinglé dans le manifeste" in fetched.output, fetched.output
    # The second fetch reads the checks back from the index, where they are kept in English.
    assert [entry["checks"] for entry in Cache().entries().values()] == [["sha256 pinned in manifest"]]
    again = runner.invoke(cli, ["--lang", "fr", "artifacts", "fetch", "atest"], prog_name="anl-stack")
    assert "déjà en cache" in again.output and "ok: sha256 épinglé dans le manifeste" in again.output, again.output
    english = runner.invoke(cli, ["--lang", "en", "artifacts", "fetch", "atest"], prog_name="anl-stack")
    assert "ok: sha256 pinned in manifest" in english.output, english.output
    verified = runner.invoke(cli, ["--lang", "fr", "artifacts", "verify"], prog_name="anl-stack")
    assert verified.exit_code == 0, verified.output
    assert "empreinte correcte ; conforme aux épinglages du manifeste" in verified.output, verified.output
    assert "hash ok" not in verified.output
    Cache().blob(SHA256).write_bytes(flipped(ARCHIVE))
    broken = runner.invoke(cli, ["--lang", "fr", "artifacts", "verify"], prog_name="anl-stack")
    assert broken.exit_code == int(ExitCode.FAILED), broken.output
    assert f"échec de la vérification sha256 : attendu {SHA256}, obtenu " in broken.output, broken.output
    as_json = runner.invoke(cli, ["--lang", "fr", "artifacts", "verify", "--json"], prog_name="anl-stack")
    assert f"sha256 check failed: expected {SHA256}" in json.loads(as_json.output)[0]["message"]  # JSON: English
