"""Cached Debian root file systems, one per release, built once with debootstrap
and brought up to date with the release's updates and security suites.

A lab host is an overlay on top of its release's image, so a new host costs
seconds. The image is built into a temporary folder and renamed into place
under a file lock: concurrent ``up`` calls build it once, and a failed build
never leaves half an image.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from anl_stack.adapters import nspawn
from anl_stack.core.i18n import _
from anl_stack.core.paths import cache_dir
from anl_stack.lab.aptsources import DebianMirrors, debian_mirrors
from anl_stack.lab.locks import file_lock
from anl_stack.lab.names import codename

PACKAGES = [
    "systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "python3-apt",
    "iproute2", "ca-certificates", "procps", "curl", "gnupg",
]
#: Marker written last: an image folder without it is not trusted.
READY = ".anl-stack-image"


def images_dir() -> Path:
    return cache_dir() / "lab" / "images"


def image_path(release: str) -> Path:
    return images_dir() / codename(release)


def is_ready(release: str) -> bool:
    return (image_path(release) / READY).is_file()


def ensure_image(release: str, log=print) -> Path:
    """Return the release's image, building it first if needed."""
    target = image_path(release)
    if (target / READY).is_file():
        return target
    with file_lock(images_dir() / f".{target.name}.lock"):
        if (target / READY).is_file():  # built by another process meanwhile
            return target
        build_image(release, log=log)
    return target


def build_image(release: str, log=print) -> Path:
    """debootstrap + prepare into a temporary folder, then rename (call under the lock)."""
    name = codename(release)
    mirrors = debian_mirrors()
    target = image_path(release)
    tmp = images_dir() / f".{name}.tmp-{os.getpid()}"
    _remove_tree(tmp)
    tmp.mkdir(parents=True)
    started = time.monotonic()
    log(_("Building the Debian {release} ({name}) lab image from {archive} (a minute or two, once)...").format(
        release=release, name=name, archive=mirrors.archive))
    try:
        nspawn.debootstrap(name, tmp, mirrors.archive, PACKAGES, images_dir() / f"{name}.debootstrap.log")
        prepare(tmp, name, mirrors)
        (tmp / READY).write_text(f"release={release}\ncodename={name}\nmirror={mirrors.archive}\n")
        if target.exists():
            _remove_tree(target)
        tmp.rename(target)
    except BaseException:
        _remove_tree(tmp)
        raise
    log(_("Image ready in {seconds}s: {target}").format(seconds=f"{time.monotonic() - started:.0f}", target=target))
    return target


def prepare(root: Path, name: str, mirrors: DebianMirrors) -> None:
    """Make a debootstrapped tree a clean template for many hosts (see docs/lab.md)."""
    _write_sources(root, name, mirrors)
    # Up to date with the updates and security suites, as a provider's fresh image is:
    # debootstrap takes the release's main suite only, and every new host would otherwise
    # begin by installing the same security updates.
    nspawn.run_in(root, "sh", "-c", "apt-get update -q && apt-get -y -q -o Dpkg::Options::=--force-confold "
                                    "dist-upgrade")
    # Without etc/hostname systemd takes the --machine name.
    (root / "etc/hostname").unlink(missing_ok=True)
    systemd_dir = root / "etc/systemd/system"
    systemd_dir.mkdir(parents=True, exist_ok=True)
    for timer in ("apt-daily.timer", "apt-daily-upgrade.timer"):
        link = systemd_dir / timer
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    # Keep downloaded packages: the shared archive folder is filled from them.
    (root / "etc/apt/apt.conf.d/90anl-lab").write_text(
        'APT::Keep-Downloaded-Packages "true";\n'
        'Binary::apt::APT::Keep-Downloaded-Packages "true";\n'
    )
    # Lab hosts are disposable: dpkg skips its per-file fsync, as Debian's own
    # container images do. Packages, scripts and services are the real ones.
    dpkg_conf = root / "etc/dpkg/dpkg.cfg.d"
    dpkg_conf.mkdir(parents=True, exist_ok=True)
    (dpkg_conf / "90anl-lab-unsafe-io").write_text("force-unsafe-io\n")
    # Each host gets its own machine-id at boot and its own SSH host keys.
    (root / "etc/machine-id").write_text("")
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    nspawn.chroot(root, "apt-get", "clean")
    lists = root / "var/lib/apt/lists"
    for entry in lists.iterdir():
        if entry.is_file():
            entry.unlink()
        elif entry.is_dir() and entry.name != "partial":
            shutil.rmtree(entry)
    # An old mtime makes Ansible's apt module refresh the (empty) lists.
    os.utime(lists, (0, 0))
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)


def _write_sources(root: Path, name: str, mirrors: DebianMirrors) -> None:
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    text = (
        f"Types: deb\nURIs: {mirrors.archive}\nSuites: {name} {name}-updates\n"
        f"Components: main\nSigned-By: {keyring}\n\n"
        f"Types: deb\nURIs: {mirrors.security_or_default()}\nSuites: {name}-security\n"
        f"Components: main\nSigned-By: {keyring}\n"
    )
    folder = root / "etc/apt/sources.list.d"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "debian.sources").write_text(text)


def _remove_tree(path: Path) -> None:
    if path.exists() or path.is_symlink():
        shutil.rmtree(path, ignore_errors=False)
