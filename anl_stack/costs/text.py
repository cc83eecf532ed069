"""How cost figures are named and written for people: the labels of the computed lines, numbers in each language.

Shared by the terminal (``plugins cost``) and the catalog site, whose
calculator writes numbers the same way in JavaScript (assets/cost-model.js).
"""

from __future__ import annotations

from anl_stack.core.i18n import N_, Lang

#: What each computed line is, in English (translated where shown).
LINE_LABELS: dict[str, str] = {
    "peak_mbps": N_("Peak outgoing bandwidth"),
    "egress_gb_per_month": N_("Outgoing traffic"),
    "storage_gb_per_month": N_("Storage growth"),
    "storage_gb_full": N_("Storage when every quota is full"),
    "disk_gb": N_("Disk needed at the end of the period"),
    "hosting_eur_per_month": N_("Hosting"),
    "traffic_eur_per_month": N_("Traffic beyond the offer"),
    "setup_hours": N_("Set-up time"),
    "setup_eur": N_("Set-up cost (people)"),
    "admin_eur_per_month": N_("Administration cost (people)"),
    "total_eur_per_month": N_("Total per month"),
}
PERIODS = {"month": N_("per month"), "year": N_("per year"), "once": N_("once")}


def number(value: float, lang: Lang) -> str:
    """``1,234.5`` in English, ``1 234,5`` in French; at most 2 decimals, none when whole."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    if lang == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text
