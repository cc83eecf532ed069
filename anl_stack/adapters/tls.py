"""Network probes from the controller to a host: TCP reachability, TLS handshakes, HTTPS requests.

Used by the security baseline and by the ``https_get`` fixture of the plugin
contract. Certificates are not checked: self-signed is a valid TLS mode,
and these probes are about protocols and headers.
"""

from __future__ import annotations

import socket
import ssl
import warnings


def tcp_reachable(address: str, port: int, timeout: float = 1.5) -> bool:
    """Does a TCP connection from this controller to the host's address succeed?"""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def _context(version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Self-signed certificates are a valid TLS mode: this check is about protocols.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ctx.maximum_version = version
            ctx.set_ciphers("ALL:@SECLEVEL=0")
    return ctx


def tls_version(address: str, domain: str, port: int = 443,
                version: ssl.TLSVersion | None = None, timeout: float = 5.0) -> str | None:
    """The protocol negotiated, or None when the handshake is refused."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as raw:
            with _context(version).wrap_socket(raw, server_hostname=domain) as tls:
                return tls.version()
    except (OSError, ssl.SSLError):
        return None


def legacy_versions() -> list[ssl.TLSVersion]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1]


def https_headers(address: str, domain: str, port: int = 443, path: str = "/",
                  timeout: float = 5.0, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of GET https://domain/path at address."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    with socket.create_connection((address, port), timeout=timeout) as raw:
        with _context().wrap_socket(raw, server_hostname=domain) as tls:
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {domain}\r\nConnection: close\r\n"
                        f"User-Agent: anl-stack-verify\r\n{extra}\r\n".encode())
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body
