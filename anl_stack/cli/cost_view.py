"""Text rendering of a cost report (``plugins cost``), in the user's language."""

from __future__ import annotations

from typing import Any

from anl_stack.core.i18n import Lang, translate
from anl_stack.costs.text import LINE_LABELS, PERIODS, formula, number, unit


class _Sources:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def ref(self, item: dict[str, Any]) -> str:
        key = (item.get("source"), item.get("dated"), item.get("checked"))
        for i, known in enumerate(self.items, start=1):
            if (known.get("source"), known.get("dated"), known.get("checked")) == key:
                return f"[{i}]"
        self.items.append(item)
        return f"[{len(self.items)}]"


def _value(line: dict[str, Any], lang: Lang, _: Any) -> str:
    if line["value"] is not None:
        return f"{number(line['value'], lang)} {unit(line['unit'], lang)}"
    text = _("unknown")
    if line.get("known_part"):
        text = _("at least") + f" {number(line['known_part'], lang)} {unit(line['unit'], lang)}"
    if line["missing"]:
        text += " (" + _("needs") + " " + ", ".join(formula(m, lang) for m in line["missing"]) + ")"
    return text


def render_cost(report: dict[str, Any], lang: Lang) -> str:
    def _(message: str) -> str:
        return translate(message, lang)

    sources = _Sources()
    out = [f"{report['title'][lang]} ({report['plugin']}): " + _("cost model") + f" {report['model']}"]
    sizes = report["sizes"][:1] if report["same_for_every_size"] else report["sizes"]
    for size in sizes:
        if report["same_for_every_size"] and len(report["sizes"]) > 1:
            counts = ", ".join(number(s["inhabitants"], lang) for s in report["sizes"])
            out += ["", _("Commune of {counts} inhabitants: the same figures, as no assumption depends on the "
                          "number of inhabitants").format(counts=counts)]
        else:
            out += ["", _("Commune of {count} inhabitants").format(count=number(size["inhabitants"], lang))]
        for line in size["lines"]:
            out.append("  " + _("{label}: {value}").format(label=_(LINE_LABELS.get(line["key"], line["key"])),
                                                           value=_value(line, lang, _)))
            out.append(f"      = {formula(line['formula'], lang)}")
        server, title = size["server"], _("Server")
        if server is not None:
            out.append("  " + _("{label}: {value}").format(label=title,
                                                           value=f"{server['label'][lang]} {sources.ref(server)}"))
        else:
            out.append("  " + _("{label}: {value}").format(label=title, value=_("no listed offer is large enough")))
    if report["paid_before"]:
        out += ["", _("What public bodies paid before")]
        for paid in report["paid_before"]:
            monthly = f" = {number(paid['per_month'], lang)} {paid['currency']} " + _("per month") \
                if paid["per_month"] is not None and paid["period"] != "month" else ""
            amount = (f"{number(paid['amount'], lang)} {paid['currency']} "
                      f"{_(PERIODS[paid['period']])}{monthly} {sources.ref(paid)}")
            out.append("  " + _("{label}: {value}").format(
                label=paid["who"], value=_("{label}: {value}").format(label=paid["what"][lang], value=amount)))
    out += ["", _("Assumptions (change one with --set KEY=VALUE)")]
    for a in report["assumptions"]:
        value = _("unknown") if a["value"] == "unknown" else f"{number(a['value'], lang)} {unit(a['unit'], lang)}"
        mark = " (" + _("set on the command line") + ")" if a["overridden"] else f" {sources.ref(a)}"
        out.append("  " + _("{label}: {value}").format(label=f"{a['key']} = {value}", value=f"{a['label'][lang]}{mark}"))
        if a["notes"] and not a["overridden"]:
            out.append(f"      {a['notes'][lang]}")
    out += ["", _("Sources")]
    for i, item in enumerate(sources.items, start=1):
        when = [(_("dated") + " " + item["dated"]) if item.get("dated") else _("undated source")]
        if item.get("checked"):
            when.append(_("checked") + " " + item["checked"])
        if item.get("age_months") is not None and item.get("dated"):
            when.append(_("{months} months old").format(months=item["age_months"]))
        out.append(f"  [{i}] {item['source']} (" + _("; ").join(when) + ")")
    return "\n".join(out) + "\n"
