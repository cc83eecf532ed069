"""The TLS reference every web site is held to, and the pure comparison with what a host serves.

Source: Mozilla's Server Side TLS guidelines, "Intermediate" configuration,
version 5.7 (the same values as Mozilla's SSL configuration generator's
intermediate profile). The web role's defaults (`web_tls_protocols`,
`web_tls_ciphers`) and its argument_specs choices must stay within these
lists; tests/unit/test_tls_profile.py fails when they drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MOZILLA_PROFILE = "Mozilla Server Side TLS, intermediate, version 5.7"

PROTOCOLS = ("TLSv1.2", "TLSv1.3")
#: protocols a client may still offer and a site must refuse
LEGACY_PROTOCOLS = ("TLSv1", "TLSv1.1")
TLS12_SUITES = (
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305",
)
TLS13_SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
#: TLS 1.3 suites OpenSSL knows but the profile leaves out; offered one at a time
TLS13_OTHERS = ("TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256")

#: s_client's flag per protocol name
S_CLIENT_FLAG = {"TLSv1": "-tls1", "TLSv1.1": "-tls1_1", "TLSv1.2": "-tls1_2", "TLSv1.3": "-tls1_3"}

_CIPHER = re.compile(r"^\s*Cipher\s*:\s*(\S+)\s*$", re.MULTILINE)
_NEW = re.compile(r"^New, (\S+), Cipher is (\S+)", re.MULTILINE)
_CLIENT_CANNOT = ("no protocols available", "no ciphers available", "unsupported protocol",
                  "no cipher match", "Error with command")


@dataclass(frozen=True)
class Handshake:
    """What one `openssl s_client` run tells: the suite agreed, or why not."""

    suite: str | None
    #: the client itself could not offer what was asked (its OpenSSL build or security level)
    client_cannot: bool = False


def parse_s_client(output: str) -> Handshake:
    """Reads s_client's stdout+stderr: a handshake agreed on a suite, failed, or never started."""
    new = _NEW.search(output)
    if new and new.group(2) != "(NONE)":
        return Handshake(new.group(2))
    cipher = _CIPHER.search(output)
    if cipher and cipher.group(1) not in ("0000", "(NONE)"):
        return Handshake(cipher.group(1))
    return Handshake(None, client_cannot=any(text in output for text in _CLIENT_CANNOT))


@dataclass
class Served:
    """What a site was seen to accept."""

    protocols: set[str] = field(default_factory=set)
    tls12: set[str] = field(default_factory=set)
    tls13: set[str] = field(default_factory=set)


def problems(domain: str, served: Served) -> list[str]:
    """Each way the served protocols and suites leave the profile, or serve none of it."""
    found = [f"{domain}: serves {p}, outside the profile" for p in sorted(served.protocols - set(PROTOCOLS))]
    found += [f"{domain}: refuses {p}" for p in PROTOCOLS if p not in served.protocols]
    found += [f"{domain}: serves TLS 1.2 suite {s}, outside the profile" for s in sorted(served.tls12 - set(TLS12_SUITES))]
    found += [f"{domain}: serves TLS 1.3 suite {s}, outside the profile" for s in sorted(served.tls13 - set(TLS13_SUITES))]
    if "TLSv1.2" in served.protocols and not served.tls12 & set(TLS12_SUITES):
        found.append(f"{domain}: serves none of the profile's TLS 1.2 suites")
    if "TLSv1.3" in served.protocols and not served.tls13 & set(TLS13_SUITES):
        found.append(f"{domain}: serves none of the profile's TLS 1.3 suites")
    return found


def tls12_offer(excluded: set[str]) -> str:
    """A cipher string offering every TLS 1.2 suite OpenSSL has, minus those already seen.

    Security level 0 lets the client offer the weak suites too, so a served weak suite shows.
    """
    return ":".join(["ALL", "COMPLEMENTOFALL", *(f"!{s}" for s in sorted(excluded)), "@SECLEVEL=0"])
