"""The web role's `acme` TLS mode for real: Pebble on the controller, certbot on a lab host.

Pebble (Debian package `pebble`) listens on the lab gateway address, the
controller end of the host's link, on a port the lab opens to that host
(`lab.open_controller_port`); `pebble-challtestsrv` answers its DNS queries
with the lab host's address, so Pebble validates the HTTP-01 challenge on
the host's port 80 (opened by the base role's firewall). Pebble's own API
certificate comes from a throwaway CA made here; the lab host trusts it only
through `web_acme_ca_bundle` (REQUESTS_CA_BUNDLE for certbot), never in its
system trust store.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.integration.roles_support import DATA, run_playbook

pytestmark = pytest.mark.lab

HOST_CA_BUNDLE = "/usr/local/share/anl-test/pebble-api-ca.pem"


@dataclass
class Pebble:
    directory: str
    api_ca: Path
    management: str

    def root_ca(self, dest: Path) -> Path:
        """Pebble's issuing root (new at every start), for checking served chains."""
        ctx = ssl.create_default_context(cafile=str(self.api_ca))
        with urllib.request.urlopen(f"{self.management}/roots/0", context=ctx, timeout=10) as resp:
            dest.write_bytes(resp.read())
        return dest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening_or_exited(address: str, port: int, proc: subprocess.Popen[bytes], log: Path) -> bool:
    """True once ``proc`` listens on address:port, False if it exits first (within 30 s)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex((address, port)) == 0:
                return True
        time.sleep(0.2)
    raise AssertionError(f"{proc.args[0]} does not listen on {address}:{port}: {log.read_text()[-2000:]}")


def _wait_listening(address: str, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    if not _listening_or_exited(address, port, proc, log):
        raise AssertionError(f"{proc.args[0]} exited: {log.read_text()[-2000:]}")


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _api_certificate(tmp: Path, gateway: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for Pebble's API on the gateway address."""
    ca_key, ca, key, csr, cert = (tmp / n for n in ("ca.key", "ca.pem", "api.key", "api.csr", "api.pem"))
    ext = tmp / "api.ext"
    ext.write_text(f"subjectAltName=IP:{gateway},IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj", "/CN=anl-stack test ACME API CA")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", str(key), "-out", str(csr), "-subj", "/CN=pebble")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
             "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return ca, cert, key


@pytest.fixture(scope="module")
def acme_host() -> Iterator[object]:
    from tests.fixtures.lab import lab_host_for, require_lab

    require_lab()
    for tool in ("pebble", "pebble-challtestsrv", "openssl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: apt-get install pebble openssl", pytrace=False)
    yield from lab_host_for("acme1", "13")


@pytest.fixture(scope="module")
def pebble(acme_host: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    from anl_stack import lab

    tmp = tmp_path_factory.mktemp("pebble")
    gateway = acme_host.gateway  # type: ignore[attr-defined]
    # Lab hosts reach nothing on the controller but what the lab opens.
    lab.open_controller_port(acme_host.name, 14000)  # type: ignore[attr-defined]
    ca, cert, key = _api_certificate(tmp, gateway)
    dns_port, challtest_mgmt, mgmt_port = _free_port(), _free_port(), _free_port()
    config = tmp / "pebble-config.json"
    config.write_text(json.dumps({"pebble": {
        "listenAddress": f"{gateway}:14000",
        "managementListenAddress": f"127.0.0.1:{mgmt_port}",
        "certificate": str(cert), "privateKey": str(key),
        "httpPort": 80, "tlsPort": 443,
        "ocspResponderURL": "", "externalAccountBindingRequired": False,
    }}))
    # Every name resolves to the lab host, for Pebble only.
    dns_log, pebble_log = tmp / "challtestsrv.log", tmp / "pebble.log"

    def challtestsrv(*doh: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            ["pebble-challtestsrv", "-dns01", f"127.0.0.1:{dns_port}", "-http01", "", "-https01", "",
             "-tlsalpn01", "", *doh, "-management", f"127.0.0.1:{challtest_mgmt}",
             "-defaultIPv4", acme_host.address, "-defaultIPv6", ""],  # type: ignore[attr-defined]
            stdout=dns_log.open("wb"), stderr=subprocess.STDOUT)

    # Started once it answers on its management port; one that exits first is an older
    # challtestsrv without the -doh flag.
    dns = challtestsrv("-doh", "")
    if not _listening_or_exited("127.0.0.1", challtest_mgmt, dns, dns_log):
        dns = challtestsrv()
        _wait_listening("127.0.0.1", challtest_mgmt, dns, dns_log)
    env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
    server = subprocess.Popen(["pebble", "-config", str(config), "-dnsserver", f"127.0.0.1:{dns_port}"],
                              stdout=pebble_log.open("wb"), stderr=subprocess.STDOUT, env=env, cwd=tmp)
    try:
        _wait_listening(gateway, 14000, server, pebble_log)
        yield Pebble(f"https://{gateway}:14000/dir", ca, f"https://127.0.0.1:{mgmt_port}")
    finally:
        for proc in (server, dns):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        print(pebble_log.read_text()[-3000:])


@dataclass
class AcmeSite:
    host: object
    domain: str
    runs: list
    root_ca: Path


@pytest.fixture(scope="module")
def acme_site(acme_host: object, pebble: Pebble, tmp_path_factory: pytest.TempPathFactory) -> AcmeSite:
    tmp = tmp_path_factory.mktemp("acme-site")
    put = acme_host.ssh(f"install -D -m 644 /dev/stdin {HOST_CA_BUNDLE}",  # type: ignore[attr-defined]
                        input=pebble.api_ca.read_text())
    assert put.returncode == 0, put.stderr
    domain = acme_host.domain  # type: ignore[attr-defined]
    variables = tmp / "acme.yml"
    variables.write_text(yaml.safe_dump({
        "anl_tls_mode": "acme", "anl_admin_email": f"admin@{domain}",
        "web_acme_directory_url": pebble.directory, "web_acme_ca_bundle": HOST_CA_BUNDLE,
        "roles_test_domain": domain,
        "anl_firewall_ports": [{"port": 80, "protocol": "tcp", "allow_from": []},
                               {"port": 443, "protocol": "tcp", "allow_from": []}],
    }))
    inventory = acme_host.inventory  # type: ignore[attr-defined]
    runs = [run_playbook(inventory, DATA / "base_web.yml", extra_vars=[f"@{variables}"]) for _ in range(2)]
    assert runs[0].rc == 0, runs[0].output[-6000:]
    return AcmeSite(acme_host, domain, runs, pebble.root_ca(tmp / "pebble-root.pem"))


def _served_certificate(site: AcmeSite) -> dict:
    """Handshake with the site, verifying the chain against Pebble's root and the name."""
    ctx = ssl.create_default_context(cafile=str(site.root_ca))
    with socket.create_connection((site.host.address, 443), timeout=10) as raw:  # type: ignore[attr-defined]
        with ctx.wrap_socket(raw, server_hostname=site.domain) as tls:
            return tls.getpeercert()


def test_certbot_obtains_a_certificate_from_pebble(acme_site: AcmeSite) -> None:
    cert = _served_certificate(acme_site)
    names = [value for kind, value in cert["subjectAltName"] if kind == "DNS"]
    assert acme_site.domain in names
    issuer = dict(item[0] for item in cert["issuer"])
    assert "Pebble" in issuer.get("commonName", ""), issuer
    renewal = acme_site.host.ssh(f"cat /etc/letsencrypt/renewal/{acme_site.domain}.conf")  # type: ignore[attr-defined]
    assert "authenticator = webroot" in renewal.stdout, renewal.stdout


def test_second_run_changes_nothing(acme_site: AcmeSite) -> None:
    second = acme_site.runs[1]
    assert second.rc == 0, second.output[-4000:]
    assert second.recap(acme_site.host.name)["changed"] == 0, second.changed_tasks()  # type: ignore[attr-defined]


def test_renewal_timer_and_test_ca_dropin(acme_site: AcmeSite) -> None:
    host = acme_site.host
    assert host.ssh("systemctl is-enabled certbot.timer").stdout.strip() == "enabled"  # type: ignore[attr-defined]
    dropin = host.ssh("systemctl show certbot.service -p Environment")  # type: ignore[attr-defined]
    assert f"REQUESTS_CA_BUNDLE={HOST_CA_BUNDLE}" in dropin.stdout, dropin.stdout
    # The test CA stays out of the host's trust store: without the bundle, Pebble is not trusted.
    directory = host.ssh("grep ^server /etc/letsencrypt/renewal/*.conf").stdout.split("=", 1)[1].strip()  # type: ignore[attr-defined]
    untrusted = host.ssh(  # type: ignore[attr-defined]
        f"python3 -c \"import urllib.request; urllib.request.urlopen('{directory}', timeout=10)\"")
    assert untrusted.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr, untrusted.stderr[-1000:]


def test_forced_renewal_serves_a_new_certificate(acme_site: AcmeSite) -> None:
    before = _served_certificate(acme_site)["serialNumber"]
    renew = acme_site.host.ssh(  # type: ignore[attr-defined]
        f"REQUESTS_CA_BUNDLE={HOST_CA_BUNDLE} certbot renew --force-renewal --no-random-sleep-on-renew",
        timeout=300)
    assert renew.returncode == 0, renew.stdout[-2000:] + renew.stderr[-2000:]
    # The deploy hook reloads nginx: wait (bounded) for the new certificate to be served.
    deadline = time.monotonic() + 30
    after = _served_certificate(acme_site)["serialNumber"]
    while after == before and time.monotonic() < deadline:
        time.sleep(0.5)
        after = _served_certificate(acme_site)["serialNumber"]
    assert after != before, "nginx still serves the old certificate after renewal"
