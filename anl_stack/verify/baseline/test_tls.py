"""TLS protocols and suites every web site serves, against Mozilla's intermediate profile.

The reference is anl_stack/verify/baseline/tls_profile.py (Mozilla Server Side
TLS, intermediate, version 5.7). Probes run `openssl s_client` on the host
itself, against 127.0.0.1:443 with each site's name (SNI).
"""

from __future__ import annotations

from typing import Any

from anl_stack.verify.baseline import tls_profile

HTTPS_PORT = 443  # the web role's only TLS listener, shared by every web plugin
PROBE_TIMEOUT_SECONDS = "8"
MAX_TLS12_PROBES = 40  # the loop ends at the first refusal; this only bounds a misbehaving server


def _s_client(host: Any, domain: str, *options: str) -> tls_profile.Handshake:
    argv = ["timeout", PROBE_TIMEOUT_SECONDS, "openssl", "s_client", "-connect", f"127.0.0.1:{HTTPS_PORT}",
            "-servername", domain, *options]
    # Each argument is quoted by testinfra: no shell text is built from the domain or the suites.
    result = host.run(" ".join(["%s"] * len(argv)), *argv)
    return tls_profile.parse_s_client(f"{result.stdout}\n{result.stderr}")


def _served(host: Any, domain: str) -> tls_profile.Served:
    served = tls_profile.Served()
    for legacy in tls_profile.LEGACY_PROTOCOLS:
        # Debian's OpenSSL may be unable to offer TLS 1.0/1.1 even at security level 0; the client
        # then reports "no protocols available" and the probe is inconclusive: counted as not served.
        got = _s_client(host, domain, tls_profile.S_CLIENT_FLAG[legacy], "-cipher", "DEFAULT:@SECLEVEL=0")
        if got.suite:
            served.protocols.add(legacy)
    # TLS 1.2: offer every suite not seen yet; the server picks one; repeat until it refuses.
    for _ in range(MAX_TLS12_PROBES):
        got = _s_client(host, domain, "-tls1_2", "-cipher", tls_profile.tls12_offer(served.tls12))
        if not got.suite or got.suite in served.tls12:
            break
        served.tls12.add(got.suite)
    for suite in tls_profile.TLS13_SUITES + tls_profile.TLS13_OTHERS:
        got = _s_client(host, domain, "-tls1_3", "-ciphersuites", suite)
        if got.suite:
            served.tls13.add(got.suite)
    served.protocols |= {p for p, suites in (("TLSv1.2", served.tls12), ("TLSv1.3", served.tls13)) if suites}
    return served


def test_tls_matches_mozilla_intermediate(host: Any, web_domains: list[str]) -> None:
    """Web sites serve exactly Mozilla's intermediate TLS profile (5.7): TLS 1.2/1.3 and its suites only.

    Hint: re-run the deploy; the web role sets `ssl_protocols`/`ssl_ciphers` from `web_tls_protocols` and
    `web_tls_ciphers` (keep them within anl_stack/verify/baseline/tls_profile.py); remove any other nginx
    file that sets `ssl_protocols` or `ssl_ciphers`, then `systemctl reload nginx`.
    """
    problems = []
    for domain in web_domains:
        problems += tls_profile.problems(domain, _served(host, domain))
    assert not problems, f"against {tls_profile.MOZILLA_PROFILE}: " + "; ".join(problems)
