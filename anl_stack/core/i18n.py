"""Language of human-facing output: French for fr_* locales, else English.

Only two languages exist (the fiches are written in both); messages for
developers and errors stay in English.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

Lang = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")


def detect_language(environ: Mapping[str, str] | None = None) -> Lang:
    """The language the locale asks for, with POSIX precedence.

    LC_ALL overrides LC_MESSAGES, which overrides LANG; the first one set
    decides. "fr", "fr_FR.UTF-8", "fr_BE@euro"... give French.
    """
    env = os.environ if environ is None else environ
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            return "fr" if value.split(".")[0].split("@")[0].split("_")[0].lower() == "fr" else "en"
    return "en"


# Labels of the catalog (fiches, lists, comparisons), by language.
LABELS: dict[str, dict[Lang, str]] = {
    "name": {"fr": "nom", "en": "name"},
    "recipe_version": {"fr": "version recette", "en": "recipe version"},
    "recipe_status": {"fr": "état recette", "en": "recipe status"},
    "app_version": {"fr": "application", "en": "app"},
    "platforms": {"fr": "plateformes", "en": "platforms"},
    "recipe": {"fr": "recette", "en": "recipe"},
    "source": {"fr": "origine", "en": "source"},
    "available": {"fr": "disponible", "en": "available"},
    "not_yet_available": {"fr": "pas encore disponible", "en": "not yet available"},
    "broken": {"fr": "erreur", "en": "error"},
    "shadowed": {"fr": "masqué par", "en": "shadowed by"},
    "overview": {"fr": "Présentation", "en": "Overview"},
    "category": {"fr": "Catégorie", "en": "Category"},
    "licence": {"fr": "Licence", "en": "Licence"},
    "homepage": {"fr": "Site", "en": "Home page"},
    "code": {"fr": "Code source", "en": "Source code"},
    "default_version": {"fr": "Version installée", "en": "Installed version"},
    "web_address": {"fr": "Adresse web par défaut", "en": "Default web address"},
    "who_uses_it": {"fr": "Qui l'utilise", "en": "Who uses it"},
    "nobody_recorded": {"fr": "aucun utilisateur public recensé avec une source",
                        "en": "no public user recorded with a source"},
    "requirements": {"fr": "Prérequis", "en": "Requirements"},
    "cpu_cores": {"fr": "Processeur (cœurs)", "en": "CPU cores"},
    "ram_mb": {"fr": "Mémoire (Mo)", "en": "Memory (MB)"},
    "disk_gb": {"fr": "Disque (Go)", "en": "Disk (GB)"},
    "notes": {"fr": "Remarques", "en": "Notes"},
    "sizing": {"fr": "Dimensionnement", "en": "Sizing"},
    "no_sizing": {"fr": "aucun dimensionnement publié", "en": "no published sizing"},
    "cost": {"fr": "Coûts (estimation)", "en": "Costs (estimate)"},
    "hosting_eur_per_month": {"fr": "Hébergement (€/mois)", "en": "Hosting (EUR/month)"},
    "setup_days": {"fr": "Mise en place (jours)", "en": "Set-up (days)"},
    "admin_days_per_month": {"fr": "Administration (jours/mois)", "en": "Administration (days/month)"},
    "providers": {"fr": "Prestataires", "en": "Providers"},
    "no_providers": {"fr": "aucun prestataire recensé avec une source", "en": "no provider recorded with a source"},
    "references": {"fr": "Références", "en": "References"},
    "sill_id": {"fr": "SILL", "en": "SILL"},
    "comptoir_du_libre_id": {"fr": "Comptoir du Libre", "en": "Comptoir du Libre"},
    "wikidata": {"fr": "Wikidata", "en": "Wikidata"},
    "upstream_health": {"fr": "Santé du projet amont", "en": "Upstream health"},
    "active": {"fr": "actif", "en": "active"},
    "maintained": {"fr": "maintenu (correctifs seulement)", "en": "maintained (fixes only)"},
    "unmaintained": {"fr": "plus maintenu", "en": "unmaintained"},
    "since": {"fr": "depuis", "en": "since"},
    "alternatives": {"fr": "Alternatives", "en": "Alternatives"},
    "deployment": {"fr": "Déploiement", "en": "Deployment"},
    "ports": {"fr": "Ports ouverts", "en": "Open ports"},
    "depends_on": {"fr": "Dépend de", "en": "Depends on"},
    "artifacts": {"fr": "Téléchargements vérifiés", "en": "Verified downloads"},
    "supported": {"fr": "oui", "en": "yes"},
    "unsupported": {"fr": "non", "en": "no"},
    "unknown": {"fr": "inconnu", "en": "unknown"},
    "unverified": {"fr": "non vérifié", "en": "unverified"},
    "checked": {"fr": "vérifié le", "en": "checked"},
    "sources": {"fr": "Sources", "en": "Sources"},
    "unverified_legend": {"fr": "* fait sans source : non vérifié", "en": "* fact without a source: unverified"},
    "fiche": {"fr": "Fiche complète", "en": "Full fiche"},
    "users_count": {"fr": "Utilisateurs publics recensés", "en": "Public users recorded"},
    "providers_count": {"fr": "Prestataires recensés", "en": "Providers recorded"},
    "no_plugins": {"fr": "Aucun plugin trouvé.", "en": "No plugin found."},
    "level": {"fr": "niveau", "en": "level"},
    "next": {"fr": "suivant", "en": "next"},
}


def label(key: str, lang: Lang) -> str:
    """A catalog label; the key itself when it has no translation."""
    return LABELS.get(key, {}).get(lang, key)
