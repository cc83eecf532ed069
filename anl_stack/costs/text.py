"""How cost figures are named and written for people: the labels of the computed lines, numbers in each language.

Shared by the terminal (``plugins cost``) and the catalog site, whose
calculator writes numbers the same way in JavaScript (assets/cost-model.js).
"""

from __future__ import annotations

from anl_stack.core.i18n import N_, Lang, Text, parse_text, translate

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
#: The units of figures and assumptions (as the model and the cost files write them), in English.
UNITS: dict[str, str] = {
    "GB": N_("GB"), "MB": N_("MB"), "GB/month": N_("GB/month"), "GB/account": N_("GB/account"),
    "GB/account/month": N_("GB/account/month"), "EUR": N_("EUR"), "EUR/month": N_("EUR/month"),
    "EUR/h": N_("EUR/h"), "EUR/GB": N_("EUR/GB"), "h": N_("h"), "h/month": N_("h/month"), "min": N_("min"),
    "months": N_("months"), "accounts": N_("accounts"), "viewers": N_("viewers"), "copies": N_("copies"),
    "Mbit/s": N_("Mbit/s"), "kbit/s": N_("kbit/s"),
}

#: The formulas with words in them, in English, as the model (and assets/cost-model.js) writes them; a
#: ``{name}`` stands for any text, itself translated when it is one of these. Formulas that are only
#: arithmetic on the assumptions' keys are shown as they are.
FORMULA_TEXTS: tuple[str, ...] = (
    N_("not modelled"),
    N_("not modelled (PeerTube spreads viewers over P2P)"),
    N_("bitrate_kbps × hours_per_month × 3600 / 8 / 10^6 (one recording per sitting)"),
    N_("accounts × quota_gb (every quota filled)"),
    N_("cheapest offer with ram_mb, disk_gb and peak_mbps covered"),
    N_("cheapest offer with ram_mb, disk_gb and peak_mbps covered (not checked: {unchecked})"),
    N_("{keys}, disk_gb beyond {size} GB"),
    N_("disk_gb beyond {size} GB"),
    N_("hosting + traffic + administration"),
    N_("an offer large enough"),
)


def formula(text: str, lang: Lang) -> str:
    """A formula (or a missing need) as shown: its words in ``lang``, the keys and numbers as they are."""
    found = _parse(text)
    return translate(found, lang) if isinstance(found, Text) else found  # a key is never looked up


def _parse(text: str) -> str:
    found = parse_text(text, FORMULA_TEXTS)
    if isinstance(found, Text) and found.values:
        return Text(found.message, **{k: _parse(v) for k, v in found.values.items()})
    return found


def unit(text: str, lang: Lang) -> str:
    """A unit in ``lang`` ("GB/month" is "Go/mois" in French); one not listed in :data:`UNITS` as it is."""
    return translate(UNITS[text], lang) if text in UNITS else text


def number(value: float, lang: Lang) -> str:
    """``1,234.5`` in English, ``1 234,5`` in French; at most 2 decimals, none when whole."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    if lang == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text
