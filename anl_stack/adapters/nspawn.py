"""systemd-nspawn, debootstrap, overlayfs and network namespaces, for lab hosts.

Everything here needs root. Processes are only ever signalled by the PIDs the
lab recorded, after checking that /proc still shows our own nspawn process.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

from anl_stack.core.errors import WorkFailedError
from anl_stack.core.i18n import _, child_locale_env

#: Debian package that provides each command the lab needs.
TOOLS: dict[str, str] = {
    "debootstrap": "debootstrap",
    "systemd-nspawn": "systemd-container",
    "nft": "nftables",
    "nsenter": "util-linux",
    "ip": "iproute2",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
}


def run(cmd: list[str], *, check: bool = True, timeout: float | None = 120,
        input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise WorkFailedError with its output."""
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input,
                                env=child_locale_env())
    except subprocess.TimeoutExpired as exc:
        raise WorkFailedError(_("timed out after {timeout}s: {cmd}").format(timeout=timeout, cmd=shlex.join(cmd))) from exc
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise WorkFailedError(_("`{cmd}` failed ({returncode}): {detail}")
                              .format(cmd=shlex.join(cmd), returncode=result.returncode,
                                      detail=" | ".join(detail)))
    return result


# --- root file systems -------------------------------------------------------

def debootstrap(codename: str, target: Path, mirror: str, include: list[str], log: Path) -> None:
    """Install a minimal Debian into target (about a minute)."""
    cmd = ["debootstrap", "--variant=minbase", "--include=" + ",".join(include),
           codename, str(target), mirror]
    with log.open("w") as handle:
        proc = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, timeout=1800, env=child_locale_env())
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise WorkFailedError(_("debootstrap {codename} failed: {tail}")
                              .format(codename=codename, tail=" | ".join(tail)), file=str(log))


def chroot(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env_cmd = ["chroot", str(root), "env", "DEBIAN_FRONTEND=noninteractive", *args]
    return run(env_cmd, timeout=600)


def run_in(root: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run a command in root as a container, without booting it: its own /proc, /sys and /dev,
    the controller's network and resolver (dpkg's scripts expect them; a plain chroot has none)."""
    return run(["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "-D", str(root),
                "env", "DEBIAN_FRONTEND=noninteractive", *args], timeout=timeout)


# --- mounts -----------------------------------------------------------------

def mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mountinfo") as handle:
        return any(line.split()[4] == target for line in handle)


def mount_overlay(lower: Path, upper: Path, work: Path, merged: Path) -> None:
    for folder in (upper, work, merged):
        folder.mkdir(parents=True, exist_ok=True)
    run(["mount", "-t", "overlay", "overlay", "-o",
         f"lowerdir={lower},upperdir={upper},workdir={work}", str(merged)])


def unmount(path: Path) -> None:
    """Unmount, retrying while the last container processes exit."""
    for _attempt in range(20):
        if not mounted(path):
            return
        if run(["umount", str(path)], check=False).returncode == 0:
            return
        time.sleep(0.25)
    run(["umount", "--lazy", str(path)])


# --- processes ----------------------------------------------------------------

def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def alive(pid: int | None) -> bool:
    """True if pid runs and is not a zombie."""
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def start_time(pid: int | None) -> int | None:
    """Kernel start time of pid (clock ticks since boot): with the PID, a unique identity."""
    if not pid:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _same_process(pid: int | None, started: int | None) -> bool:
    return alive(pid) and (started is None or start_time(pid) == started)


def is_our_nspawn(pid: int | None, machine: str, started: int | None = None) -> bool:
    """The recorded PID still is the nspawn process of this lab machine."""
    if not _same_process(pid, started):
        return False
    args = cmdline(pid)  # type: ignore[arg-type]
    return bool(args) and args[0].endswith("systemd-nspawn") and f"--machine={machine}" in args


def is_our_leader(pid: int | None, started: int | None) -> bool:
    """The recorded container PID 1 still runs, in a PID namespace other than ours."""
    if started is None or not _same_process(pid, started):
        return False
    try:
        return os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    except OSError:
        return False


def start_container(root: Path, machine: str, log: Path, extra: list[str]) -> int:
    """Boot root with systemd-nspawn, detached in its own session; return its PID.

    ``--register=no --keep-unit``: the controller may have no systemd as PID 1
    and no system bus. The shell's ``$!`` is nspawn itself (setsid does not
    fork when it is not a group leader), and the shell exits at once, so the
    container does not die with the calling process.
    """
    nspawn = ["systemd-nspawn", "-D", str(root), "--boot", "--network-veth",
              "--register=no", "--keep-unit", f"--machine={machine}", *extra]
    script = f"setsid {shlex.join(nspawn)} </dev/null >{shlex.quote(str(log))} 2>&1 & echo $!"
    out = run(["sh", "-c", script], timeout=30).stdout.strip()
    return int(out)


def find_leader(nspawn_pid: int, timeout: float = 30) -> int:
    """The container's PID 1 seen from the controller: nspawn's child in a new PID namespace."""
    own_ns = os.readlink("/proc/self/ns/pid")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(nspawn_pid):
            raise WorkFailedError(_("systemd-nspawn exited during start"))
        for pid in _children(nspawn_pid):
            try:
                if os.readlink(f"/proc/{pid}/ns/pid") != own_ns:
                    return pid
            except OSError:
                continue
        time.sleep(0.1)
    raise WorkFailedError(_("no container leader under nspawn PID {nspawn_pid} after {timeout}s")
                          .format(nspawn_pid=nspawn_pid, timeout=timeout))


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            kids += [int(x) for x in text.split()]
    except OSError:
        pass
    return kids


def nsenter_net(leader: int, *args: str) -> subprocess.CompletedProcess[str]:
    return run(["nsenter", "-t", str(leader), "-n", *args])


def stop_container(nspawn_pid: int | None, leader: int | None, machine: str, grace: float = 15,
                   nspawn_started: int | None = None, leader_started: int | None = None) -> None:
    """Power off cleanly (SIGRTMIN+4 to the leader), then TERM, then KILL nspawn.

    A container whose nspawn died (crash, kill -9) keeps running under its
    own PID 1: that leader is then stopped the same way, by its recorded
    PID and start time only.
    """
    if is_our_nspawn(nspawn_pid, machine, nspawn_started):
        if is_our_leader(leader, leader_started) or (
                leader_started is None and leader in _children(nspawn_pid)):  # type: ignore[arg-type]
            _signal(leader, signal.SIGRTMIN + 4)  # type: ignore[arg-type]
            if _wait_gone(nspawn_pid, grace):  # type: ignore[arg-type]
                nspawn_pid = None
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not nspawn_pid or not is_our_nspawn(nspawn_pid, machine, nspawn_started):
                break
            _signal(nspawn_pid, sig)
            _wait_gone(nspawn_pid, 5.0)
        if nspawn_pid and is_our_nspawn(nspawn_pid, machine, nspawn_started):
            raise WorkFailedError(_("systemd-nspawn PID {nspawn_pid} ({machine}) did not stop")
                                  .format(nspawn_pid=nspawn_pid, machine=machine))
    if is_our_leader(leader, leader_started):
        _signal(leader, signal.SIGRTMIN + 4)  # type: ignore[arg-type]
        if not _wait_gone(leader, grace):  # type: ignore[arg-type]
            # SIGKILL to a PID namespace's init ends every process in it.
            _signal(leader, signal.SIGKILL)  # type: ignore[arg-type]
            if not _wait_gone(leader, 5.0):  # type: ignore[arg-type]
                raise WorkFailedError(_("container PID 1 {leader} ({machine}) did not stop")
                                      .format(leader=leader, machine=machine))


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


def _reap(pid: int) -> None:
    # The container is normally not our child; if it is, do not leave a zombie.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


# --- links --------------------------------------------------------------------

def host_interface(machine: str) -> str:
    """The controller's end of the machine's ``--network-veth`` link, as systemd-nspawn names it."""
    return f"ve-{machine}"


def link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def wait_link(name: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if link_exists(name):
            return
        time.sleep(0.1)
    raise WorkFailedError(_("interface {name} did not appear").format(name=name))


def delete_link(name: str) -> None:
    if link_exists(name):
        run(["ip", "link", "delete", name], check=False)


def addresses_in_use() -> set[str]:
    """Every IPv4 address configured on the controller's interfaces."""
    out = run(["ip", "-4", "-o", "addr", "show"], check=False).stdout
    found = set()
    for line in out.splitlines():
        parts = line.split()
        if "inet" in parts:
            found.add(parts[parts.index("inet") + 1].split("/")[0])
    return found
