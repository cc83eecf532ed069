"""Artifacts: application releases Debian does not package, verified and cached.

A plugin's manifest lists its artifacts (``deployment.artifacts``): an URL or
an npm package at an exact version, trusted through a pinned checksum or an
upstream OpenPGP signature whose key fingerprint is pinned. The controller
keeps verified files in a content-addressed cache (:mod:`.cache`); deploys
push them to hosts, which re-check the hash before extracting
(``playbooks/roles/artifact``). Bundles (:mod:`.bundle`) carry them to
controllers without internet.

Entry point for the deploy engine: :func:`resolve_for_deploy`.
"""

from anl_stack.artifacts.cache import Cache
from anl_stack.artifacts.service import add, fetch, find_ref, resolve_for_deploy, select, verify_cache
from anl_stack.artifacts.trust import PINS_SETTING, VERSIONS_SETTING, Ref

__all__ = ["PINS_SETTING", "VERSIONS_SETTING", "Cache", "Ref", "add", "fetch", "find_ref",
           "resolve_for_deploy", "select", "verify_cache"]
