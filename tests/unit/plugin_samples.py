"""Build small, valid plugin folders for tests (independent of the real plugins)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

CHECKED = "2026-11-28"


def _fact(value: Any, source: str | None = "https://example.org/facts") -> dict[str, Any]:
    fact: dict[str, Any] = {"value": value}
    if source:
        fact.update(source=source, checked=CHECKED)
    return fact


def manifest_data(name: str = "demo", **changes: Any) -> dict[str, Any]:
    """A complete, valid manifest as a dict; keyword arguments replace top-level keys."""
    data: dict[str, Any] = {
        "schema_version": 1,
        "name": name,
        "version": "0.1.0",
        "category": "other",
        "title": {"fr": f"Démo {name}", "en": f"Demo {name}"},
        "summary": {"fr": "Un service de démonstration.", "en": "A demonstration service."},
        "app": {"name": "Demo Server", "version": "1.4.2", "licence": "MIT",
                "homepage": "https://example.org", "source": "https://example.org/src"},
        "platforms": {
            "debian-13": {"supported": True, "app_versions": ">=1,<2",
                          "notes": {"fr": "Paquet Debian.", "en": "Debian package."}},
            "debian-12": {"supported": False},
        },
        "facts": {
            "requirements": {"cpu_cores": _fact(1), "ram_mb": _fact(512), "disk_gb": _fact(2, source=None)},
            "sizing": [{"audience": {"fr": "Petite commune", "en": "Small commune"},
                        "cpu_cores": 2, "ram_mb": 2048, "disk_gb": 20,
                        "source": "https://example.org/sizing", "checked": CHECKED}],
            "cost": {"hosting_eur_per_month": _fact("5-10"), "setup_days": _fact(0.5),
                     "admin_days_per_month": _fact("unknown")},
            "upstream_health": {"value": "active", "alternatives": [],
                                "source": "https://example.org/releases", "checked": CHECKED},
            "references": {"sill_id": _fact("unknown"), "comptoir_du_libre_id": _fact(1234),
                           "wikidata": _fact("Q42")},
            "providers": [{"name": "Exemple SARL", "siren": "123456789", "site": "https://example.com",
                           "source": "https://example.com", "checked": CHECKED}],
            "users": [{"name": "Commune d'Exemple", "source": "https://example.net", "checked": CHECKED}],
        },
        "deployment": {
            "subdomain": "demo",
            "ports": [{"port": 443, "protocol": "tcp", "purpose": "HTTPS"}],
            "depends_on": [],
            "secrets": [{"name": f"{name}_admin_password", "kind": "password", "length": 24,
                         "description": "Administrator password"}],
            "artifacts": [],
        },
    }
    data.update(copy.deepcopy(changes))
    return data


def write_plugin(parent: Path, name: str = "demo", *, data: dict[str, Any] | None = None,
                 text: str | None = None, recipe: bool = False, folder: str | None = None) -> Path:
    """Write ``parent/<folder or name>/plugin.yml`` (from data, text, or a valid default)."""
    path = parent / (folder or name)
    path.mkdir(parents=True, exist_ok=True)
    if text is None:
        text = yaml.safe_dump(data if data is not None else manifest_data(name), allow_unicode=True, sort_keys=False)
    (path / "plugin.yml").write_text(text, encoding="utf-8")
    if recipe:
        (path / "playbook.yml").write_text(f"- name: Deploy {name}\n  hosts: {name}\n  tasks: []\n")
    return path
