"""``collective publish``: a commune's file from its inventory and its latest verify report, never a secret.

What is written is chosen field by field, never copied from the settings:
the commune and its key (from the members file), and per plugin the
inventory runs and the report verified, its public address (``https://``
and ``<plugin>_domain`` or ``<subdomain>.<anl_domain>``), the recipe and
application versions and content digest the report recorded, the result,
the quality level of that digest, and since when the commune runs it; its
signed review records; its experience notes. Before anything is written,
the text is searched for every vault value and every value of a setting
whose name says it is secret (``*_password``, ``*_secret``, ``*_token``,
``*_key``...): if one is found the file is not written (exit 2), and the
message names the setting, never the value.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from anl_stack.collective import signatures
from anl_stack.collective.members import current_members
from anl_stack.collective.model import (
    COMMUNE_TAG,
    COMMUNES_DIR,
    RECORD_TAG,
    SCHEMA,
    check_commune,
    collective_root,
    dump,
    read_notes,
)
from anl_stack.collective.verify import CommuneFile, commune_file
from anl_stack.core import masking
from anl_stack.core.errors import AnlError
from anl_stack.core.files import write_file
from anl_stack.core.i18n import _
from anl_stack.inventory.model import InventoryPaths, load_inventory, vault_password_file
from anl_stack.plugin_api import SECRET_NAME
from anl_stack.plugins.digest import content_digest
from anl_stack.records.evidence import read_report, report_facts
from anl_stack.records.quality import compute
from anl_stack.records.reviews import load_reviews

HEADER = ("# A commune's file, written by `anl-stack collective publish` and signed by the commune; "
          "edit nothing (the signature covers it).\n")
#: Secret values shorter than this are not searched for (they would match ordinary words).
MIN_SECRET = 4


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [str(value)]
    return []


def secret_values(paths: InventoryPaths, inventory: Any, vault_password: str | None) -> dict[str, list[str]]:
    """Setting or vault name -> the secret values it holds (what a commune file must never contain)."""
    found: dict[str, list[str]] = {}
    sources = [source.values for source in inventory.var_sources] + list(inventory.host_vars.values())
    for values in sources:
        for key, value in values.items():
            if isinstance(key, str) and SECRET_NAME.search(key):
                found.setdefault(key, []).extend(_strings(value))
    if paths.vault.is_file():
        from anl_stack.inventory.vault import read_secrets  # Ansible is imported only when a vault exists

        for key, value in read_secrets(paths, vault_password_file(paths, vault_password)).items():
            found.setdefault(f"vault: {key}", []).extend(_strings(value))
    return {k: [v for v in vs if len(v) >= MIN_SECRET] for k, vs in found.items()}


def refuse_secrets(text: str, secrets: dict[str, list[str]], file: Path) -> None:
    """Exit 2, naming the setting (never its value), when a secret value is in ``text``."""
    leaked = sorted(key for key, values in secrets.items() if any(v in text for v in values))
    if leaked:
        raise AnlError(_("the commune file would contain the value of a secret: nothing was written"),
                       file=str(file), key=", ".join(leaked),
                       expected=_("no secret in what is published (check the addresses and the notes)"))


def latest_report(paths: InventoryPaths) -> Path:
    """The newest verify report in JSON form under the inventory's runs folder."""
    candidates = sorted((p for p in paths.runs.glob("*/*.json") if p.name not in ("results.json", "context.json",
                                                                               "summary.json")),
                        key=lambda p: p.stat().st_mtime) if paths.runs.is_dir() else []
    for candidate in reversed(candidates):
        try:
            read_report(candidate)
        except AnlError:
            continue
        return candidate
    raise AnlError(_("no verify report found"), file=str(paths.runs), key="--report",
                   expected=_("a report of `anl-stack verify -i INVENTORY --report FILE.json`, given with --report"))


def _address(plugin: Any, settings: dict[str, Any]) -> str | None:
    deployment = plugin.manifest.deployment
    if not deployment.web:
        return None
    value = settings.get(f"{plugin.name}_domain")
    domain = value if isinstance(value, str) and "{{" not in value else None
    if domain is None and isinstance(settings.get("anl_domain"), str):
        domain = f"{deployment.subdomain}.{settings['anl_domain']}"
    return f"https://{domain}" if domain else None


def _previous(root: Path, chain: Any, insee: str) -> dict[str, Any] | None:
    """The commune's own file as the collective trusts it now (its dates and notes carry over)."""
    file = root / COMMUNES_DIR / f"{insee}.yml"
    if not file.is_file():
        return None
    trusted = commune_file(root, file, chain)
    return trusted.data if isinstance(trusted, CommuneFile) else None


def build(folder: Path, inventory: Path, *, key: str, report: Path | None = None, notes: Path | None = None,
          vault_password: str | None = None, plugins: list[Any] | None = None) -> tuple[Path, dict[str, Any], str]:
    """(target file, data, text) of the commune file, checked for secrets; nothing written."""
    from anl_stack.plugins import discover_plugins

    root = collective_root(folder)
    chain = current_members(root)
    fingerprint = signatures.own_fingerprint(key)
    member = chain.current.by_fingerprint().get(fingerprint) if chain.current else None
    if member is None:
        raise AnlError(_("the signing key is not a current member's"), key="--key",
                       expected=_("the key the members file gives your commune"))
    inv = load_inventory(inventory)
    paths = inv.paths
    report_file = report or latest_report(paths)
    data = read_report(report_file)
    known = {p.name: p for p in (plugins if plugins is not None else discover_plugins())
             if getattr(p, "manifest", None) is not None}
    previous = _previous(root, chain, member.insee) or {}
    since = {(i.get("plugin"), i.get("digest")): i.get("since") for i in previous.get("instances", [])}
    settings = inv.settings()
    instances = []
    signers = chain.signers()
    for name in sorted(g for g, hosts in inv.groups.items() if hosts and g in known):
        facts = report_facts(data, name)
        if facts["digest"] is None:
            continue  # run but not verified: nothing is published that the report does not show
        plugin = known[name]
        verified = str(facts["date"] or dt.date.today().isoformat())[:10]
        level = None
        if content_digest(Path(plugin.path)) == facts["digest"]:
            level = compute(Path(plugin.path), name, signers).level
        instances.append({
            "plugin": name, "address": _address(plugin, settings),
            "recipe_version": str(facts["recipe_version"]), "app_version": str(facts["app_version"]),
            "digest": facts["digest"], "result": facts["result"], "quality_level": level,
            "since": since.get((name, facts["digest"])) or verified, "verified": verified})
    reviews = []
    for plugin in known.values():
        for review in load_reviews(Path(plugin.path), plugin.name):
            if review.signature == "signed" and review.signer == fingerprint and review.digest:
                reviews.append({"plugin": plugin.name, "digest": review.digest, "date": review.date[:10],
                                "file": review.file.name})
    record: dict[str, Any] = {
        RECORD_TAG: COMMUNE_TAG, "schema": SCHEMA, "commune": member.commune, "insee": member.insee,
        "fingerprint": fingerprint, "published": dt.date.today().isoformat(), "instances": instances,
        "reviews": reviews, "notes": read_notes(notes) if notes else previous.get("notes", []),
    }
    target = root / COMMUNES_DIR / f"{member.insee}.yml"
    check_commune(target, record)
    text = dump(record, HEADER)
    secrets = secret_values(paths, inv, vault_password)
    masking.remember(v for values in secrets.values() for v in values)
    refuse_secrets(text, secrets, target)
    return target, record, text


def publish(folder: Path, inventory: Path, *, key: str, report: Path | None = None, notes: Path | None = None,
            vault_password: str | None = None, plugins: list[Any] | None = None) -> tuple[Path, dict[str, Any]]:
    """Write and sign ``communes/<INSEE>.yml``; return it and its data."""
    target, record, text = build(folder, inventory, key=key, report=report, notes=notes,
                                 vault_password=vault_password, plugins=plugins)
    root = collective_root(folder)
    payload = text.encode("utf-8")
    signature, public_key = signatures.sign_bytes(payload, record["fingerprint"])
    signatures.store_key(root, record["fingerprint"], public_key)
    write_file(target, payload, root=root)
    write_file(target.with_name(target.name + ".asc"), signature, root=root)
    return target, record
