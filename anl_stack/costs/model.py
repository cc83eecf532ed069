"""The cost model: pure arithmetic on stated assumptions, with a JSON-serialisable result.

No file, no pydantic, no network: give it plain values (``None`` for an
unknown one) and it says, for each commune size, what each figure is, the
formula that made it and which assumptions it still lacks. The catalog site
can run the same code or reuse its JSON.

Units: bitrates in kbit/s, volumes in GB (10^9 bytes), time in hours,
money in the offers' currency (EUR).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: Commune sizes computed when none is given (inhabitants).
DEFAULT_SIZES: tuple[int, ...] = (2000, 10000, 50000)

#: Assumptions every model reads (shared file), then each model's own drivers.
COMMON = ("horizon_months", "hourly_cost_eur", "preparation_hours", "admin_hours_per_month",
          "egress_eur_per_gb", "ram_mb", "app_disk_gb", "deploy_minutes")
MODELS: dict[str, tuple[str, ...]] = {
    # A council stream: every viewer receives the whole stream; each sitting is recorded and kept.
    "streaming": ("viewers", "hours_per_month", "bitrate_kbps", "retention_months"),
    # Videos uploaded and watched.
    "video": ("video_hours_per_month", "bitrate_kbps", "resolutions", "watched_hours_per_month"),
    # Files: every account may fill its quota.
    "files": ("accounts", "quota_gb"),
    # A social network: media stored grows with the local accounts.
    "social": ("accounts", "media_gb_per_account_per_month"),
    # Polls: no driver beyond the application itself.
    "polls": (),
}
#: Optional: the application's own set-up time when only the stack's deploy is measured here.
OPTIONAL = ("app_setup_hours",)

GB_PER_KBIT = 1 / 8 / 1_000_000  # kbit -> kB -> GB


def required_keys(model: str) -> tuple[str, ...]:
    return COMMON + MODELS[model]


def _line(key: str, value: float | None, unit: str, formula: str, missing: Sequence[str] = ()) -> dict[str, Any]:
    shown = None if value is None else round(value, 3)
    return {"key": key, "value": shown, "unit": unit, "formula": formula, "missing": sorted(set(missing))}


def _product(values: Mapping[str, float | None], keys: Sequence[str], factor: float = 1.0) -> tuple[float | None,
                                                                                                    list[str]]:
    missing = [k for k in keys if values.get(k) is None]
    if missing:
        return None, missing
    return math.prod(float(values[k]) for k in keys) * factor, []  # type: ignore[arg-type]


def _drivers(model: str, v: Mapping[str, float | None]) -> list[dict[str, Any]]:
    """Bandwidth and storage from the tool's own drivers."""
    lines: list[dict[str, Any]] = []
    if model == "streaming":
        peak, miss = _product(v, ("viewers", "bitrate_kbps"), 1 / 1000)
        lines.append(_line("peak_mbps", peak, "Mbit/s", "viewers × bitrate_kbps / 1000", miss))
        egress, miss = _product(v, ("viewers", "bitrate_kbps", "hours_per_month"), 3600 * GB_PER_KBIT)
        lines.append(_line("egress_gb_per_month", egress, "GB/month",
                           "viewers × bitrate_kbps × hours_per_month × 3600 / 8 / 10^6", miss))
        growth, miss = _product(v, ("bitrate_kbps", "hours_per_month"), 3600 * GB_PER_KBIT)
        lines.append(_line("storage_gb_per_month", growth, "GB/month",
                           "bitrate_kbps × hours_per_month × 3600 / 8 / 10^6 (one recording per sitting)", miss))
    elif model == "video":
        lines.append(_line("peak_mbps", None, "Mbit/s", "not modelled (PeerTube spreads viewers over P2P)"))
        egress, miss = _product(v, ("watched_hours_per_month", "bitrate_kbps"), 3600 * GB_PER_KBIT)
        lines.append(_line("egress_gb_per_month", egress, "GB/month",
                           "watched_hours_per_month × bitrate_kbps × 3600 / 8 / 10^6", miss))
        growth, miss = _product(v, ("video_hours_per_month", "bitrate_kbps", "resolutions"), 3600 * GB_PER_KBIT)
        lines.append(_line("storage_gb_per_month", growth, "GB/month",
                           "video_hours_per_month × bitrate_kbps × resolutions × 3600 / 8 / 10^6", miss))
    elif model == "files":
        lines.append(_line("peak_mbps", None, "Mbit/s", "not modelled"))
        lines.append(_line("egress_gb_per_month", None, "GB/month", "not modelled"))
        full, miss = _product(v, ("accounts", "quota_gb"))
        lines.append(_line("storage_gb_full", full, "GB", "accounts × quota_gb (every quota filled)", miss))
    elif model == "social":
        lines.append(_line("peak_mbps", None, "Mbit/s", "not modelled"))
        lines.append(_line("egress_gb_per_month", None, "GB/month", "not modelled"))
        growth, miss = _product(v, ("accounts", "media_gb_per_account_per_month"))
        lines.append(_line("storage_gb_per_month", growth, "GB/month",
                           "accounts × media_gb_per_account_per_month", miss))
    else:
        lines.append(_line("peak_mbps", None, "Mbit/s", "not modelled"))
        lines.append(_line("egress_gb_per_month", None, "GB/month", "not modelled"))
    return lines


def _stored(model: str, v: Mapping[str, float | None], by_key: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Disk the server needs at the end of the horizon: the application plus the data kept by then."""
    app = v.get("app_disk_gb")
    if model == "files":
        data, miss = by_key["storage_gb_full"]["value"], list(by_key["storage_gb_full"]["missing"])
        formula = "app_disk_gb + storage_gb_full"
    elif "storage_gb_per_month" in by_key:
        growth = by_key["storage_gb_per_month"]["value"]
        miss = list(by_key["storage_gb_per_month"]["missing"])
        months = v.get("horizon_months")
        formula = "app_disk_gb + storage_gb_per_month × horizon_months"
        if model == "streaming":
            keep = v.get("retention_months")
            months = None if months is None or keep is None else min(months, keep)
            formula = "app_disk_gb + storage_gb_per_month × min(horizon_months, retention_months)"
            miss += [k for k in ("horizon_months", "retention_months") if v.get(k) is None]
        elif months is None:
            miss.append("horizon_months")
        data = None if growth is None or months is None else growth * months
    else:
        data, miss, formula = 0.0, [], "app_disk_gb"
    if app is None:
        miss.append("app_disk_gb")
    total = None if app is None or data is None else app + data
    line = _line("disk_gb", total, "GB", formula, miss)
    # What is known is still a lower bound the server must hold (recordings without the application).
    line["known_part"] = round((app or 0.0) + (data or 0.0), 3)
    return line


def choose_offer(offers: Sequence[Mapping[str, Any]], ram_mb: float | None, disk_gb: float | None,
                 peak_mbps: float | None) -> tuple[Mapping[str, Any] | None, list[str]]:
    """The cheapest offer covering memory, disk and peak bandwidth; the needs it could not check."""
    unchecked = [name for name, need in (("ram_mb", ram_mb), ("disk_gb", disk_gb)) if need is None]
    if peak_mbps is None:
        unchecked.append("peak_mbps")
    fitting = [o for o in offers
               if (ram_mb is None or o["ram_mb"] >= ram_mb)
               and (disk_gb is None or o["disk_gb"] >= disk_gb)
               and (peak_mbps is None or o["bandwidth_mbps"] >= peak_mbps)]
    best = min(fitting, key=lambda o: o["eur_per_month"]) if fitting else None
    return best, unchecked


def _short(x: float) -> str:
    return f"{x:.3g}"


def _sum(parts: Sequence[tuple[str, float | None]]) -> tuple[float, list[str]]:
    """The known part of a sum and the names of the unknown terms.

    Added one by one, left to right: the same result in every Python (3.12's sum() compensates
    rounding) and in the site's JavaScript port (assets/cost-model.js).
    """
    total = 0.0
    for _, x in parts:
        if x is not None:
            total += x
    return total, [k for k, x in parts if x is None]


def compute_size(model: str, values: Mapping[str, float | None], offers: Sequence[Mapping[str, Any]],
                 inhabitants: int) -> dict[str, Any]:
    """Every figure for one commune size."""
    v = dict(values)
    lines = _drivers(model, v)
    by_key = {line["key"]: line for line in lines}
    disk = _stored(model, v, by_key)
    lines.append(disk)
    peak = by_key["peak_mbps"]["value"]
    disk_need = disk["value"] if disk["value"] is not None else (disk["known_part"] or None)
    offer, unchecked = choose_offer(offers, v.get("ram_mb"), disk_need, peak)
    if disk["value"] is None and disk_need is not None:
        unchecked.append("disk_gb beyond " + _short(disk_need) + " GB")
    hosting = None if offer is None else float(offer["eur_per_month"])
    why = "cheapest offer with ram_mb, disk_gb and peak_mbps covered"
    if unchecked:
        why += " (not checked: " + ", ".join(unchecked) + ")"
    lines.append(_line("hosting_eur_per_month", hosting, "EUR/month", why,
                       [] if offer is not None else ["an offer large enough"]))
    egress = by_key["egress_gb_per_month"]["value"]
    traffic, miss = _product({"egress_gb_per_month": egress, "egress_eur_per_gb": v.get("egress_eur_per_gb")},
                             ("egress_gb_per_month", "egress_eur_per_gb"))
    lines.append(_line("traffic_eur_per_month", traffic, "EUR/month", "egress_gb_per_month × egress_eur_per_gb",
                       miss))
    setup_parts = [("deploy_minutes", None if v.get("deploy_minutes") is None else v["deploy_minutes"] / 60),
                   ("preparation_hours", v.get("preparation_hours"))]
    formula = "deploy_minutes / 60 + preparation_hours"
    if "app_setup_hours" in v:
        setup_parts.append(("app_setup_hours", v.get("app_setup_hours")))
        formula += " + app_setup_hours"
    known, unknown = _sum(setup_parts)
    setup = _line("setup_hours", None if unknown else known, "h", formula, unknown)
    setup["known_part"] = round(known, 3)
    lines.append(setup)
    rate = v.get("hourly_cost_eur")
    setup_eur, miss = _product({"setup_hours": setup["value"], "hourly_cost_eur": rate},
                               ("setup_hours", "hourly_cost_eur"))
    lines.append(_line("setup_eur", setup_eur, "EUR", "setup_hours × hourly_cost_eur", unknown + miss))
    admin_eur, miss = _product(v, ("admin_hours_per_month", "hourly_cost_eur"))
    lines.append(_line("admin_eur_per_month", admin_eur, "EUR/month", "admin_hours_per_month × hourly_cost_eur",
                       miss))
    known, unknown = _sum([("hosting_eur_per_month", hosting), ("traffic_eur_per_month", traffic),
                           ("admin_eur_per_month", admin_eur)])
    total = _line("total_eur_per_month", None if unknown else known, "EUR/month",
                  "hosting + traffic + administration", unknown)
    total["known_part"] = round(known, 3)
    lines.append(total)
    return {"inhabitants": inhabitants, "server": dict(offer) if offer is not None else None, "lines": lines}


def compute(model: str, values: Mapping[str, float | None], offers: Sequence[Mapping[str, Any]],
            sizes: Sequence[int] = DEFAULT_SIZES) -> list[dict[str, Any]]:
    """The figures for each commune size (no assumption of the shipped models depends on the size)."""
    if model not in MODELS:
        raise ValueError(f"unknown cost model {model!r}")
    return [compute_size(model, values, offers, n) for n in sizes]


def per_month(amount: float, period: str) -> float | None:
    """A published amount as a monthly one (a one-off payment has none)."""
    return {"month": amount, "year": amount / 12}.get(period)
