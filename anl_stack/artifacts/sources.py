"""Where an artifact's bytes come from: an URL, or an npm package through ``npm pack``.

npm is used as the ordinary client: it reads the user's own npm settings for
the registry, so no registry host name is written here.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

from anl_stack.adapters.http import DownloadError, ProgressHook, download
from anl_stack.artifacts.trust import Ref
from anl_stack.core.errors import AnlError, ExitCode
from anl_stack.core.i18n import _

EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def url_filename(url: str, fallback: str) -> str:
    name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
    return name or fallback


def npm_spec(ref: Ref) -> tuple[str, str]:
    """(package, exact version) from ``npm: "name@1.2.3"``; ranges are refused."""
    text = ref.spec.npm.strip()
    at = text.rfind("@")
    if at > 0:  # "@scope/pkg@1.2.3" keeps its leading @
        package, version = text[:at], text[at + 1:]
    else:
        package, version = text, ref.version
    if not EXACT_VERSION.match(version):
        raise AnlError(_("npm package {text!r} does not name an exact version").format(text=text), key=f"{ref.where}.npm",
                       expected=_("name@X.Y.Z (an exact version, no range)"))
    if version != ref.version:
        raise AnlError(_("npm version {version} differs from the artifact version {ref_version}")
                       .format(version=version, ref_version=ref.version),
                       key=f"{ref.where}.npm", expected=f"{package}@{ref.version}")
    return package, version


def expected_filename(ref: Ref) -> str:
    if ref.spec.url:
        return url_filename(ref.spec.url, f"{ref.name}-{ref.version}")
    package, version = npm_spec(ref)
    # npm pack names scoped packages scope-name-version.tgz
    return f"{package.lstrip('@').replace('/', '-')}-{version}.tgz"


def work_name(ref: Ref) -> str:
    """A stable folder name for one artifact's download in progress."""
    origin = ref.spec.url or ref.spec.npm
    return hashlib.sha256(f"{ref.key}\0{origin}".encode()).hexdigest()[:24]


def download_url(url: str, dest: Path, *, progress: ProgressHook | None = None) -> Path:
    try:
        return download(url, dest, progress=progress)
    except DownloadError as error:
        raise AnlError(_("download failed: {reason}").format(reason=error.reason), key=url,
                       expected=_("a reachable URL (or `anl-stack artifacts add` with a file obtained elsewhere)"),
                       exit_code=ExitCode.FAILED) from None


def npm_pack(ref: Ref, workdir: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise AnlError(_("npm is not installed"), key=f"{ref.where}.npm",
                       expected=_("npm on the controller (Debian package npm)"))
    package, version = npm_spec(ref)
    proc = subprocess.run(
        [npm, "pack", f"{package}@{version}", "--pack-destination", str(workdir), "--json", "--ignore-scripts"],
        cwd=workdir, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["npm pack failed"])[-1]
        raise AnlError(_("npm pack {package}@{version} failed: {tail}")
                       .format(package=package, version=version, tail=tail), key=f"{ref.where}.npm",
                       expected=_("a package npm can fetch from this machine"), exit_code=ExitCode.FAILED)
    try:
        filename = json.loads(proc.stdout)[0]["filename"]
    except (ValueError, LookupError, TypeError):
        filename = expected_filename(ref)
    path = workdir / Path(filename).name
    if not path.is_file():
        raise AnlError(_("npm pack did not produce {path}").format(path=path.name), key=f"{ref.where}.npm", exit_code=ExitCode.FAILED)
    return path

