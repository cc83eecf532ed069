"""Network namespaces standing in for the controller, lab hosts and the outside.

No lab container is started: a lab host is a namespace whose ``host0`` is the
peer of ``ve-NAME`` in the controller's namespace, with the addresses the lab
would give it, and the outside (mirrors, resolvers) is a third namespace
behind the controller's uplink. The lab's nftables table is loaded with the
real ``nft`` into the controller's namespace only, never into this machine's.

Probes are small Python programs run inside a namespace (``ip netns exec``):
a listener that writes one line per connection or datagram (``ADDRESS PORT``
of the peer), and a client that tries several connections at once and
prints which ones were made.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import in_ci

#: Every namespace made here starts with this, so that a leftover is easy to recognise.
PREFIX = "sec8-"
#: How long a connection that the rules drop is tried (a made one takes a millisecond).
DROPPED_AFTER = 1.5

LISTENER = r"""
import socket, sys
proto, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = socket.AF_INET6 if ":" in address else socket.AF_INET
sock = socket.socket(family, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if family == socket.AF_INET6:
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # IPv4 too, on "::"
sock.bind((address, port))
if proto == "tcp":
    sock.listen(16)
print("ready", flush=True)
while True:
    if proto == "tcp":
        conn, peer = sock.accept()
        conn.close()
    else:
        _data, peer = sock.recvfrom(512)
    print(peer[0].removeprefix("::ffff:").split("%")[0], peer[1], flush=True)
"""

CLIENT = r"""
import json, socket, sys, threading
timeout = float(sys.argv[1])
tries = json.loads(sys.argv[2])
made = [None] * len(tries)

def sockaddr(family, kind, address, port):
    # Through getaddrinfo: a link-local address's "%interface" becomes its scope.
    return socket.getaddrinfo(address, port, family, kind)[0][4]

def attempt(i, proto, address, port, source, sport):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(family, kind)
    sock.settimeout(timeout)
    try:
        if source or sport:
            sock.bind(sockaddr(family, kind, source or None, sport) if source else ("", sport))
        if proto == "tcp":
            sock.connect(sockaddr(family, kind, address, port))
        else:
            sock.sendto(b"probe", sockaddr(family, kind, address, port))
        made[i] = True
    except socket.timeout:
        made[i] = False  # no answer: dropped on the way
    except OSError as error:
        made[i] = str(error)
    finally:
        sock.close()

threads = [threading.Thread(target=attempt, args=(i, *t)) for i, t in enumerate(tries)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(made))
"""


def require_netns() -> None:
    """Root, ``ip`` and ``nft``: fails in CI, skips with the reason on a developer machine."""
    missing = [tool for tool in ("ip", "nft") if shutil.which(tool) is None]
    reason = ("network namespaces need root" if os.geteuid() != 0
              else f"missing {', '.join(missing)} (apt-get install iproute2 nftables)" if missing else None)
    if reason is None:
        return
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def sh(*cmd: str, input: str | None = None) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


@dataclass(frozen=True)
class Try:
    """One connection (tcp) or datagram (udp) a client attempts."""

    proto: str
    address: str
    port: int
    source: str = ""
    sport: int = 0


@dataclass
class Listener:
    proc: subprocess.Popen[bytes]
    log: Path

    def peers(self) -> list[str]:
        """``ADDRESS PORT`` of every peer seen so far."""
        return [line for line in self.log.read_text().splitlines() if line != "ready"]

    def sources(self) -> set[str]:
        return {peer.split()[0] for peer in self.peers()}

    def wait_for(self, address: str, port: int | None = None, timeout: float = 10) -> None:
        """Until a peer ADDRESS (from PORT) has been seen; used after a forbidden probe as its marker."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.split()[0] == address and (port is None or p.split()[1] == str(port)) for p in self.peers()):
                return
            time.sleep(0.02)
        raise AssertionError(f"{address} {port or ''} never reached the listener: {self.peers()}")


@dataclass
class Namespace:
    name: str

    def ip(self, *args: str) -> str:
        return sh("ip", "-n", self.name, *args)

    def run(self, *cmd: str, input: str | None = None) -> str:
        return sh("ip", "netns", "exec", self.name, *cmd, input=input)

    def sysctl(self, key: str, value: str) -> None:
        self.run("sysctl", "-q", "-w", f"{key}={value}")

    def mac(self, interface: str) -> str:
        return json.loads(self.ip("-j", "link", "show", "dev", interface))[0]["address"]

    def attempt(self, *tries: Try) -> list[bool]:
        """Which of the tries were made (TCP connected, UDP sent), tried at the same time.

        A try that is not made must have gone unanswered (a rule dropped it): any other
        failure (refused, unreachable, a bad address) fails the test rather than pass for a drop.
        """
        spec = json.dumps([[t.proto, t.address, t.port, t.source, t.sport] for t in tries])
        made = json.loads(self.run(sys.executable, "-c", CLIENT, str(DROPPED_AFTER), spec))
        errors = {str(t): m for t, m in zip(tries, made) if not isinstance(m, bool)}
        assert not errors, f"from {self.name}: {errors}"
        return made


@dataclass
class Topology:
    """The namespaces of one test, removed (with their listeners) by ``close``."""

    tmp: Path
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    listeners: list[Listener] = field(default_factory=list)

    def namespace(self, role: str) -> Namespace:
        ns = Namespace(f"{PREFIX}{role}-{os.getpid()}")
        sh("ip", "netns", "add", ns.name)
        self.namespaces[role] = ns
        ns.ip("link", "set", "lo", "up")
        # Fresh defaults, whatever this machine sets: the nft rules alone decide here.
        for key, value in (("net.ipv4.conf.all.rp_filter", "0"), ("net.ipv4.conf.default.rp_filter", "0"),
                           ("net.ipv6.conf.default.accept_dad", "0")):
            ns.sysctl(key, value)
        return ns

    def listen(self, ns: Namespace, proto: str, address: str, port: int) -> Listener:
        log = self.tmp / f"{ns.name}-{proto}-{address.replace(':', '_')}-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, "-c", LISTENER,
                                     proto, address, str(port)], stdout=out, stderr=subprocess.STDOUT)
        listener = Listener(proc, log)
        self.listeners.append(listener)
        deadline = time.monotonic() + 10
        while "ready" not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"listener {proto} {address}:{port} in {ns.name}: {log.read_text()}")
            time.sleep(0.02)
        return listener

    def close(self) -> None:
        for listener in self.listeners:
            listener.proc.terminate()
            try:
                listener.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                listener.proc.kill()
                listener.proc.wait(timeout=5)
        for ns in self.namespaces.values():
            subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, timeout=30)


def counter(ns: Namespace, table: str, comment: str) -> int:
    """Packets counted by the rule of ``table`` whose comment is ``comment``."""
    for line in ns.run("nft", "list", "table", "inet", table).splitlines():
        if f'comment "{comment}"' in line and "counter packets" in line:
            return int(line.split("counter packets")[1].split()[0])
    raise AssertionError(f"no counter {comment!r} in {table}")
