"""The TLS reference (Mozilla intermediate 5.7) and the logic that compares a site with it."""

from __future__ import annotations

from pathlib import Path

import yaml

from anl_stack.verify.baseline import tls_profile
from anl_stack.verify.baseline.tls_profile import Served

ROLE = Path(__file__).resolve().parents[2] / "playbooks" / "roles" / "web"

ACCEPTED = """CONNECTED(00000003)
---
New, TLSv1.2, Cipher is ECDHE-RSA-AES128-GCM-SHA256
SSL-Session:
    Protocol  : TLSv1.2
    Cipher    : ECDHE-RSA-AES128-GCM-SHA256
"""
REFUSED = """CONNECTED(00000003)
40E7:error:0A000410:SSL routines:ssl3_read_bytes:ssl/tls alert handshake failure:../ssl/record/rec_layer_s3.c:918:
---
New, (NONE), Cipher is (NONE)
SSL-Session:
    Protocol  : TLSv1.2
    Cipher    : 0000
"""
CLIENT_CANNOT = "40F7:error:0A0000BF:SSL routines:tls_setup_handshake:no protocols available:statem_lib.c:104:\n"


def _role_served() -> Served:
    return Served({"TLSv1.2", "TLSv1.3"}, {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
                  set(tls_profile.TLS13_SUITES))


def test_the_roles_configuration_matches() -> None:
    assert tls_profile.problems("a.example.fr", _role_served()) == []


def test_a_legacy_protocol_or_a_weak_suite_is_named() -> None:
    served = _role_served()
    served.protocols |= {"TLSv1", "TLSv1.1"}
    served.tls12 |= {"AES128-SHA"}
    served.tls13 |= {"TLS_AES_128_CCM_SHA256"}
    found = tls_profile.problems("a.example.fr", served)
    assert found == ["a.example.fr: serves TLSv1, outside the profile",
                     "a.example.fr: serves TLSv1.1, outside the profile",
                     "a.example.fr: serves TLS 1.2 suite AES128-SHA, outside the profile",
                     "a.example.fr: serves TLS 1.3 suite TLS_AES_128_CCM_SHA256, outside the profile"]


def test_a_missing_protocol_or_only_foreign_suites_fail() -> None:
    assert tls_profile.problems("a", Served({"TLSv1.2"}, {"ECDHE-RSA-AES128-GCM-SHA256"}, set())) == [
        "a: refuses TLSv1.3"]
    found = tls_profile.problems("a", Served({"TLSv1.2", "TLSv1.3"}, {"AES256-SHA256"}, {"TLS_AES_256_GCM_SHA384"}))
    assert "a: serves none of the profile's TLS 1.2 suites" in found


def test_s_client_output_is_read() -> None:
    assert tls_profile.parse_s_client(ACCEPTED).suite == "ECDHE-RSA-AES128-GCM-SHA256"
    refused = tls_profile.parse_s_client(REFUSED)
    assert refused.suite is None and not refused.client_cannot
    cannot = tls_profile.parse_s_client(CLIENT_CANNOT)
    assert cannot.suite is None and cannot.client_cannot


def test_the_offer_excludes_suites_already_seen() -> None:
    offer = tls_profile.tls12_offer({"B-SUITE", "A-SUITE"})
    assert offer == "ALL:COMPLEMENTOFALL:!A-SUITE:!B-SUITE:@SECLEVEL=0"


def test_the_web_role_stays_within_the_profile() -> None:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(defaults["web_tls_protocols"]) == set(tls_profile.PROTOCOLS)
    assert defaults["web_tls_ciphers"] and set(defaults["web_tls_ciphers"]) <= set(tls_profile.TLS12_SUITES)
    assert specs["web_tls_protocols"]["choices"] == list(tls_profile.PROTOCOLS)
    assert specs["web_tls_ciphers"]["choices"] == list(tls_profile.TLS12_SUITES)
    template = (ROLE / "templates" / "nginx.conf.j2").read_text()
    assert "ssl_protocols {{ web_tls_protocols | join(' ') }};" in template
    assert "ssl_ciphers {{ web_tls_ciphers | join(':') }};" in template
