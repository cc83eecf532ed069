"""Lab hosts: bring up, list, reach and destroy disposable Debian servers.

A host is an overlay on the cached image of its release, booted by
systemd-nspawn with its own veth link, /30 subnet, nft table, /etc/hosts
block, SSH key and commune-style inventory. ``down`` removes every one of
those; a failed ``up`` rolls back the same way.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anl_stack.adapters import netfilter, nspawn, ssh
from anl_stack.core.errors import AnlError, WorkFailedError
from anl_stack.core.files import ensure_folder, write_file
from anl_stack.core.i18n import N_, _
from anl_stack.core.paths import cache_dir
from anl_stack.inventory.model import create_inventory, write_password_file
from anl_stack.lab import hostsfile, image, network, owner, reservations, state
from anl_stack.lab.aptsources import debian_mirrors
from anl_stack.lab.locks import file_lock
from anl_stack.lab.names import codename, domain_for, validate_name, validate_release

Log = Callable[[str], None]
READY_TIMEOUT = 180.0
CLEANUP_TOOLS = ("nft", "ip")


@dataclass
class LabHost:
    """One lab host as recorded in the lab state."""

    name: str
    release: str
    address: str
    gateway: str
    ssh_key: Path
    inventory: Path
    vault_password_file: Path
    status: str = "running"
    system_state: str | None = None
    names: list[str] = field(default_factory=list)
    failed_units: list[str] = field(default_factory=list)
    #: The user who created the host (None: made before anl-stack recorded it).
    creator: str | None = None

    @property
    def domain(self) -> str:
        return domain_for(self.name)

    @property
    def codename(self) -> str:
        return codename(self.release)

    def ssh_command(self, command: str | list[str] | None = None) -> list[str]:
        return ssh.command_line(self.ssh_key, self.address, command)

    def ssh(self, command: str | list[str], *, timeout: float | None = 600,
            input: str | None = None, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run command on the host as root; text output captured."""
        return ssh.run(self.ssh_command(command), timeout=timeout, input=input, check=check)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "release": self.release, "codename": self.codename,
            "address": self.address, "domain": self.domain, "names": self.names,
            "status": self.status, "system_state": self.system_state,
            "failed_units": self.failed_units, "creator": self.creator,
            "ssh_key": str(self.ssh_key), "inventory": str(self.inventory),
            "vault_password_file": str(self.vault_password_file),
            "ssh": shlex.join(self.ssh_command()),
        }


# --- preflight ------------------------------------------------------------------

def preflight(tools: tuple[str, ...] | None = None) -> None:
    """Refuse (exit 2) before creating anything when the lab cannot work here.

    ``tools`` limits the check (cleaning up needs no debootstrap).
    """
    if os.geteuid() != 0:
        raise AnlError(
            _("lab hosts need root (systemd-nspawn, overlay mounts, veth links, nftables)"),
            expected=_("run it as root, e.g. `sudo {program} lab ...`").format(program=shlex.quote(_program())),
        )
    wanted = tools if tools is not None else tuple(nspawn.TOOLS)
    missing = {cmd: nspawn.TOOLS[cmd] for cmd in wanted if shutil.which(cmd) is None}
    if missing:
        packages = " ".join(sorted(set(missing.values())))
        raise AnlError(
            _("missing command(s) {missing}").format(missing=', '.join(sorted(missing))),
            expected=_("the Debian packages: apt-get install {packages}").format(packages=packages),
        )


def _program() -> str:
    # The full path, so that sudo finds a virtualenv's anl-stack.
    return shutil.which("anl-stack") or "anl-stack"


# --- reading state ----------------------------------------------------------------

def _paths(name: str) -> dict[str, Path]:
    folder = state.host_dir(name)
    return {
        "dir": folder, "key": folder / "id_ed25519", "vault": folder / "vault-password",
        "inventory": folder / "inventory", "upper": folder / "root" / "upper",
        "work": folder / "root" / "work", "merged": folder / "root" / "merged",
        "apt_upper": folder / "apt-upper", "log": folder / "console.log",
    }


#: A lab host's status (kept in English in its state file and --json), shown in the chosen language.
STATUS_LABELS = {"starting": N_("starting"), "running": N_("running"), "stopped": N_("stopped"), "stale": N_("stale")}


def status_label(status: str) -> str:
    """``status`` in the current language (an unknown one as it is)."""
    return _(STATUS_LABELS[status]) if status in STATUS_LABELS else status


def _status(data: dict[str, Any]) -> str:
    name = data["name"]
    if data.get("status") == "starting" and nspawn.alive(data.get("creator_pid")):
        return "starting"
    if nspawn.is_our_nspawn(data.get("nspawn_pid"), name, data.get("nspawn_started")):
        return "starting" if data.get("status") == "starting" else "running"
    if nspawn.mounted(_paths(name)["merged"]) or nspawn.is_our_leader(
            data.get("leader_pid"), data.get("leader_started")):
        return "stopped"
    return "stale"


def _host(data: dict[str, Any]) -> LabHost:
    p = _paths(data["name"])
    return LabHost(
        name=data["name"], release=data["release"], address=data["address"],
        gateway=data["gateway"], ssh_key=p["key"], inventory=p["inventory"],
        vault_password_file=p["vault"], status=_status(data),
        system_state=data.get("system_state"), names=list(data.get("names", [])),
        failed_units=list(data.get("failed_units", [])),
        creator=_creator_name(data),
    )


def _creator_name(data: dict[str, Any]) -> str | None:
    creator = owner.from_record(data)
    return creator.user if creator else None


def get(name: str) -> LabHost | None:
    """The host if the lab knows it (any status), else None."""
    data = state.read(validate_name(name))
    return _host(data) if data else None


def list_hosts() -> list[LabHost]:
    return [_host(d) for d in (state.read(n) for n in state.names()) if d]


def shared_archives() -> Path:
    return cache_dir() / "lab" / "apt-archives"


# --- up -------------------------------------------------------------------------

def up(name: str, release: str = "13", *, log: Log | None = None) -> LabHost:
    """A running host NAME on Debian release; created if needed (idempotent)."""
    say = log or (lambda _m: None)
    validate_name(name)
    release = validate_release(release)
    preflight()
    with file_lock(state.host_lock(name)):
        existing = state.read(name)
        if existing:
            status = _status(existing)
            if status in ("running", "starting"):
                if existing["release"] != release:
                    raise AnlError(
                        _("lab host {name} already exists with Debian {release}")
                        .format(name=name, release=existing['release']),
                        key="name",
                        expected=_("another name, or `anl-stack lab down {name}` first").format(name=name),
                    )
                host = _host(existing)
                say(_("{name} is already up ({address}, Debian {release}); nothing changed.").format(
                    name=name, address=host.address, release=release))
                return host
            say(_("{name} was {status}: cleaning it before a fresh start.").format(name=name, status=status_label(status)))
            _teardown(name, existing)
        elif state.host_dir(name).exists():
            _teardown(name, {"name": name})
        image.ensure_image(release, log=say)
        # Everything outside the host is decided before anything is created.
        mirrors = debian_mirrors()
        resolvers = network.controller_resolvers()
        mirror_addresses = network.resolve_ipv4(mirrors.hosts)
        with file_lock(state.global_lock()), file_lock(reservations.lock_path()):
            taken = state.used_subnet_indexes() | reservations.reserved()
            subnet = network.allocate(taken, nspawn.addresses_in_use())
            data: dict[str, Any] = {
                "name": name, "release": release, "codename": codename(release),
                "subnet_index": subnet.index, "subnet": subnet.cidr,
                "gateway": subnet.gateway, "address": subnet.address,
                "resolvers": resolvers, "mirror_hosts": mirrors.hosts,
                "mirror_addresses": mirror_addresses, "names": [domain_for(name)],
                "status": "starting", "created": time.time(), "creator_pid": os.getpid(),
                "creator": owner.current().to_dict(),
            }
            state.write(name, data)
            reservations.reserve(subnet.index, state.state_file(name).resolve())
        try:
            _create(data, say)
        except BaseException:
            say(_("{name}: start failed, removing what was created.").format(name=name))
            try:
                _teardown(name, state.read(name) or data)
            except AnlError as cleanup_error:
                say(_("cleanup: {error}").format(error=cleanup_error))
            raise
        return _host(data)


def _create(data: dict[str, Any], say: Log) -> None:
    name = data["name"]
    p = _paths(name)
    started = time.monotonic()
    nspawn.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"anl-stack-lab-{name}",
                "-f", str(p["key"])])
    p["key"].chmod(0o600)
    nspawn.mount_overlay(image.image_path(data["release"]), p["upper"], p["work"], p["merged"])
    _prepare_root(p["merged"], data)
    archives = _prepare_archives(p["merged"], p["apt_upper"])
    # The filter is in place before the host can send its first packet.
    netfilter.enable_forwarding()
    netfilter.add_host_table(name, data["subnet"], data["resolvers"], data["mirror_addresses"])
    pid = nspawn.start_container(p["merged"], name, p["log"],
                                 [f"--overlay={archives}:{p['apt_upper']}:/var/cache/apt/archives"])
    data["nspawn_pid"], data["nspawn_started"] = pid, nspawn.start_time(pid)
    state.write(name, data)
    leader = nspawn.find_leader(pid)
    data["leader_pid"], data["leader_started"] = leader, nspawn.start_time(leader)
    state.write(name, data)
    _configure_network(data, leader)
    with file_lock(hostsfile.lock_path()):
        hostsfile.set_block(name, data["address"], data["names"])
    _create_inventory(data, p)
    say(_("{name}: booting Debian {release} at {address}...").format(
        name=name, release=data["release"], address=data["address"]))
    data["system_state"], data["failed_units"] = _wait_ready(_host(data), p["log"])
    data["status"] = "running"
    data["ready_seconds"] = round(time.monotonic() - started, 2)
    state.write(name, data)
    say(_("{name}: ready in {seconds}s (systemd: {state}).").format(
        name=name, seconds=data["ready_seconds"], state=data["system_state"]))


def _prepare_root(root: Path, data: dict[str, Any]) -> None:
    """Per-host files written into the overlay before the first boot."""
    name = data["name"]
    nspawn.run(["ssh-keygen", "-A", "-f", str(root)])
    # The host's file system is the lab host's: never follow a link in it.
    ssh_dir = root / "root/.ssh"
    ensure_folder(ssh_dir, root=root, mode=0o700)
    write_file(ssh_dir / "authorized_keys", _paths(name)["key"].with_suffix(".pub").read_text(), mode=0o600, root=root)
    resolv = root / "etc/resolv.conf"
    if resolv.is_symlink():  # Debian's image links it to systemd-resolved's file
        resolv.unlink()
    write_file(resolv, "".join(f"nameserver {r}\n" for r in data["resolvers"]), root=root)
    _write_guest_hosts(root, data)


def _write_guest_hosts(root: Path, data: dict[str, Any]) -> None:
    # The mirror must resolve inside as on the controller: copy its entries.
    controller = hostsfile.hosts_file().read_text() if hostsfile.hosts_file().exists() else ""
    mirror_lines = network.hosts_entries(controller, data["mirror_hosts"])
    text = (
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        f"127.0.1.1\t{data['name']}\n"
        f"{data['address']}\t{' '.join(data['names'])}\n"
        + "".join(line + "\n" for line in mirror_lines)
    )
    write_file(root / "etc/hosts", text, root=root)


def _prepare_archives(root: Path, upper: Path) -> Path:
    """Shared package folder (read-only lower) + this host's downloads (upper)."""
    shared = shared_archives()
    (shared / "partial").mkdir(parents=True, exist_ok=True)
    upper.mkdir(parents=True, exist_ok=True)
    partial = upper / "partial"
    partial.mkdir(mode=0o700, exist_ok=True)
    apt_uid = _uid(root, "_apt")
    if apt_uid is not None:
        # apt downloads as _apt when it owns partial/ (no sandbox warning).
        os.chown(partial, apt_uid, 0)
    return shared


def _uid(root: Path, user: str) -> int | None:
    try:
        for line in (root / "etc/passwd").read_text().splitlines():
            parts = line.split(":")
            if parts[0] == user:
                return int(parts[2])
    except OSError:
        pass
    return None


def _configure_network(data: dict[str, Any], leader: int) -> None:
    veth = nspawn.host_interface(data["name"])
    nspawn.wait_link(veth)
    nspawn.run(["ip", "addr", "add", f"{data['gateway']}/{network.PREFIX}", "dev", veth])
    nspawn.run(["ip", "link", "set", veth, "up"])
    for _attempt in range(50):
        if nspawn.run(["nsenter", "-t", str(leader), "-n", "ip", "link", "show", "host0"],
                      check=False).returncode == 0:
            break
        time.sleep(0.1)
    nspawn.nsenter_net(leader, "ip", "addr", "add", f"{data['address']}/{network.PREFIX}", "dev", "host0")
    nspawn.nsenter_net(leader, "ip", "link", "set", "host0", "up")
    nspawn.nsenter_net(leader, "ip", "route", "add", "default", "via", data["gateway"])


def _create_inventory(data: dict[str, Any], p: dict[str, Path]) -> None:
    name = data["name"]
    if not p["vault"].exists():
        write_password_file(p["vault"])
    create_inventory(
        p["inventory"], commune=f"lab-{name}", domain=domain_for(name),
        email=f"admin@{domain_for(name)}", tls_mode="selfsigned",
        hosts={"hosts": {name: {
            "ansible_host": data["address"], "ansible_user": "root",
            "ansible_ssh_private_key_file": str(p["key"]),
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        }}, "children": {}},
        vault_password_file=p["vault"],
    )


def _wait_ready(host: LabHost, console: Path) -> tuple[str, list[str]]:
    """Wait for SSH and the end of boot; return systemd's state and failed units."""
    deadline = time.monotonic() + READY_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        try:
            result = host.ssh("systemctl is-system-running --wait", timeout=60)
        except subprocess.TimeoutExpired:
            continue
        last = (result.stdout or result.stderr).strip()
        if result.stdout.strip() in ("running", "degraded"):
            failed = host.ssh("systemctl --failed --plain --no-legend", timeout=30).stdout
            return result.stdout.strip(), [line.split()[0] for line in failed.splitlines() if line.split()]
        time.sleep(0.3)
    raise WorkFailedError(_("{host} not ready after {ready_timeout:.0f}s (last answer: {last!r})")
                          .format(host=host.name, ready_timeout=READY_TIMEOUT, last=last),
                          file=str(console))


# --- names --------------------------------------------------------------------------

def add_names(name: str, names: list[str]) -> LabHost:
    """Make names (e.g. live.NAME.anl.test) resolve to the host, on the controller and inside it."""
    validate_name(name)
    for extra in names:
        if not _valid_dns(extra):
            raise AnlError(_("invalid host name {extra!r}").format(extra=extra), key="names",
                           expected=_("a DNS name such as live.NAME.anl.test"))
    with file_lock(state.host_lock(name)):
        data = state.read(name)
        if not data:
            raise AnlError(_("no lab host named {name}").format(name=name), expected="`anl-stack lab list`")
        data["names"] = list(dict.fromkeys([*data.get("names", []), *names]))
        state.write(name, data)
        with file_lock(hostsfile.lock_path()):
            hostsfile.set_block(name, data["address"], data["names"])
        merged = _paths(name)["merged"]
        if nspawn.mounted(merged):
            _write_guest_hosts(merged, data)
        return _host(data)


def link(source: str, target: str, port: int = 22) -> None:
    """Let lab host ``source`` open TCP ``port`` on lab host ``target`` (e.g. SSH to a backup partner).

    Lab hosts cannot reach each other otherwise. The rule lives in both hosts' tables, so it
    goes when either host is destroyed; linking twice adds nothing.
    """
    hosts = {}
    for name in (source, target):
        data = state.read(validate_name(name))
        if not data or _status(data) != "running":
            raise AnlError(_("no running lab host named {name}").format(name=name), key="host", expected="`anl-stack lab list`")
        hosts[name] = data
    if source == target:
        raise AnlError(_("a host cannot be linked to itself"), key="host", expected=_("two different lab hosts"))
    if not 1 <= port <= 65535:
        raise AnlError(_("{port} is not a port").format(port=port), key="--port", expected=_("an integer from 1 to 65535"))
    with file_lock(state.host_lock(source)):
        data = hosts[source]
        links = data.setdefault("links", [])
        entry = {"to": target, "port": port}
        if entry in links and netfilter.link_present(netfilter.list_table(source), source, data["subnet"],
                                                     target, hosts[target]["subnet"], port):
            return
        netfilter.add_link(source, data["subnet"], target, hosts[target]["subnet"], port)
        if entry not in links:
            links.append(entry)
        state.write(source, data)


def open_controller_port(name: str, port: int) -> None:
    """Let lab host ``name`` open TCP ``port`` on its gateway address, this machine (e.g. a test ACME server).

    Lab hosts reach nothing on this machine otherwise but its resolvers and mirrors. The rule
    lives in the host's table, so it goes when the host is destroyed; opening twice adds nothing.
    """
    validate_name(name)
    if not 1 <= port <= 65535:
        raise AnlError(_("{port} is not a port").format(port=port), key="port", expected=_("an integer from 1 to 65535"))
    with file_lock(state.host_lock(name)):
        data = state.read(name)
        if not data or _status(data) != "running":
            raise AnlError(_("no running lab host named {name}").format(name=name), key="host", expected="`anl-stack lab list`")
        ports = data.setdefault("controller_ports", [])
        if port in ports and netfilter.controller_port_present(netfilter.list_table(name), name,
                                                               data["subnet"], port):
            return
        netfilter.add_controller_port(name, data["subnet"], port)
        if port not in ports:
            ports.append(port)
        state.write(name, data)


def _valid_dns(value: str) -> bool:
    labels = value.split(".")
    return 0 < len(value) <= 253 and all(
        0 < len(lab) <= 63 and lab.replace("-", "").isalnum() and lab.isascii()
        and not lab.startswith("-") and not lab.endswith("-") for lab in labels
    )


# --- down -------------------------------------------------------------------------

def down(name: str, *, log: Log | None = None) -> bool:
    """Destroy host NAME and everything the lab made for it. False if there was none."""
    validate_name(name)
    preflight(CLEANUP_TOOLS)
    try:
        with file_lock(state.host_lock(name)):
            data = state.read(name)
            leftovers = (state.host_dir(name).exists() or netfilter.table_exists(name)
                         or hostsfile.has_block(name))
            if not data and not leftovers:
                return False
            _teardown(name, data or {"name": name})
    finally:
        if not state.host_dir(name).exists():
            state.host_lock(name).unlink(missing_ok=True)
    if log:
        log(_("{name}: removed.").format(name=name))
    return True


def down_all(*, everyone: bool = False, log: Log | None = None) -> list[str]:
    """Destroy the hosts the current user created (every host of this state dir with ``everyone``).

    People who share a machine (and its root state dir) keep each other's hosts; a host whose
    creator is not recorded counts as someone else's. Returns the names removed.
    """
    selection = owner.select_all()
    return down_hosts(selection.mine + (list(selection.others) if everyone else []), log=log)


def down_hosts(names: list[str], *, log: Log | None = None) -> list[str]:
    """Destroy the named hosts; return those that existed."""
    preflight(CLEANUP_TOOLS)
    return [name for name in names if down(name, log=log)]


def _teardown(name: str, data: dict[str, Any]) -> None:
    """Remove every trace of the host, continuing past failures, then report them."""
    p = _paths(name)
    errors: list[str] = []

    def step(what: str, action: Callable[[], None]) -> None:
        try:
            action()
        except (AnlError, OSError, subprocess.SubprocessError) as exc:
            errors.append(f"{what}: {exc}")

    step("stop", lambda: nspawn.stop_container(
        data.get("nspawn_pid"), data.get("leader_pid"), name,
        nspawn_started=data.get("nspawn_started"), leader_started=data.get("leader_started")))
    step("unmount", lambda: nspawn.unmount(p["merged"]))
    step("veth", lambda: nspawn.delete_link(nspawn.host_interface(name)))
    step("nftables", lambda: netfilter.remove_host_table(name))

    def hosts_block() -> None:
        with file_lock(hostsfile.lock_path()):
            hostsfile.remove_block(name)

    step("/etc/hosts", hosts_block)
    step("package cache", lambda: _publish_packages(p["apt_upper"]))
    if nspawn.mounted(p["merged"]):
        errors.append(_("{folder} is still mounted: host folder kept").format(folder=p["merged"]))
    else:
        step("state", lambda: shutil.rmtree(p["dir"]) if p["dir"].exists() else None)
        if isinstance(data.get("subnet_index"), int):
            step("subnet reservation",
                 lambda: reservations.release(data["subnet_index"], state.state_file(name).resolve()))
    if errors:
        raise WorkFailedError(_("{name}: cleanup incomplete: {errors}").format(name=name, errors="; ".join(errors)))


def _publish_packages(upper: Path) -> None:
    """Add the .deb files this host downloaded to the shared folder (hard links)."""
    if not upper.is_dir():
        return
    shared = shared_archives()
    shared.mkdir(parents=True, exist_ok=True)
    for deb in upper.glob("*.deb"):
        target = shared / deb.name
        if not deb.is_file() or deb.is_symlink() or target.exists():
            continue
        tmp = shared / f".{deb.name}.{os.getpid()}"
        try:
            os.link(deb, tmp)  # links a planted symlink itself, never what it points to
        except OSError:
            continue
        os.replace(tmp, target)
