"""Quality levels computed from evidence, never declared.

A plugin's level is the highest rung whose requirement and those of every
rung below are met by records on the recipe's *current* content digest
(docs/contributing-a-recipe.md). Computing it reads files and, for signed
reviews, runs ``gpgv``; it never runs Ansible or ansible-lint, so
``plugins list`` stays fast.

With a collective (``members``: fingerprint -> commune, from the
collective's members file) a review counts toward levels 5 and 6 only when
its signature is good, is made by a member's key, and the review names that
member's commune; the commune is then the member's. Without a collective,
reviews count as before: signed or not, under the commune they name
(docs/collective.md, "Reviews").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anl_stack.core.i18n import N_, Lang, Text, translate
from anl_stack.plugins.digest import content_digest
from anl_stack.records.evidence import load_evidence
from anl_stack.records.reviews import load_reviews

#: (level, what it needs), in English (translated where shown).
LADDER: tuple[tuple[int, str], ...] = (
    (0, N_("no evidence")),
    (1, N_("`plugins check` passes, lint included (plugins check --record)")),
    (2, N_("deployed and verified on a lab host (plugins evidence --from-report)")),
    (3, N_("idempotent: a second deploy run changed nothing (--idempotence-run)")),
    (4, N_("backup and restore proven (--backup-run and --restore-run)")),
    (5, N_("reviewed by one commune with evidence from production servers (plugins review --evidence)")),
    (6, N_("reviewed by two or more communes on the current digest")),
    (7, N_("upgrade from the previous version proven (--upgrade-run)")),
)
TOP = LADDER[-1][0]
LEGEND_TITLE = N_("Quality levels (computed from the recipe's records; each level needs the ones below):")


def legend(lang: Lang) -> list[str]:
    """What every level means, shown wherever a level is."""
    return [translate(LEGEND_TITLE, lang)] + [f"  {level}: {translate(text, lang)}" for level, text in LADDER]


@dataclass
class Quality:
    level: int
    digest: str
    #: level -> the records that meet it
    met: dict[int, list[str]] = field(default_factory=dict)
    #: records on other digests or that do not verify: (file, why)
    ignored: list[tuple[str, str]] = field(default_factory=list)
    reviews: list[Any] = field(default_factory=list)

    def next_level(self) -> int | None:
        return self.level + 1 if self.level < TOP else None

    def missing(self, lang: Lang = "en") -> str | None:
        nxt = self.next_level()
        return translate(dict(LADDER)[nxt], lang) if nxt is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "digest": self.digest, "next_level": self.next_level(),
                "missing": self.missing("en"), "met": {str(k): v for k, v in sorted(self.met.items())},
                "ignored": [{"file": f, "why": str(w)} for f, w in self.ignored],  # the English text
                "reviews": [r.to_dict() for r in self.reviews]}


#: Why a review does not count as a member's (English; translated where shown).
NOT_A_MEMBER_REVIEW = N_("not signed by the key of the commune it names in the collective")


def member_commune(review: Any, members: Mapping[str, str] | None) -> str | None:
    """The commune a counting review is for: the one it names, or with a collective its signer's; None: not counted."""
    if not review.counts:
        return None
    if members is None:
        return review.by
    commune = members.get(review.signer or "") if review.signature == "signed" else None
    return commune if commune is not None and commune == review.by else None


def compute(folder: Path, name: str, members: Mapping[str, str] | None = None) -> Quality:
    """The level of the plugin in ``folder`` from its evidence/ and reviews/ records (``members``: see above)."""
    digest = content_digest(folder)
    quality = Quality(0, digest)
    by_kind: dict[str, list[str]] = {}
    for ev in load_evidence(folder, name, digest):
        if ev.problem:
            quality.ignored.append((ev.file.name, ev.problem))
        else:
            by_kind.setdefault(ev.kind, []).append(ev.file.name)
    reviews = load_reviews(folder, name, digest)
    quality.reviews = reviews
    counted = []
    for r in reviews:
        if not r.counts:
            quality.ignored.append((r.file.name, r.status if not r.current else Text(r.signature)))
            continue
        if member_commune(r, members) is None:
            quality.ignored.append((r.file.name, Text(NOT_A_MEMBER_REVIEW)))
            continue
        counted.append(r)
        if r.evidence_problem:
            quality.ignored.append((r.file.name, Text(N_("evidence: {problem}"), problem=r.evidence_problem)))
    production = [r for r in counted if r.production_evidence]
    communes = {member_commune(r, members) for r in counted}
    rungs = {
        1: by_kind.get("check", []),
        2: by_kind.get("lab", []),
        3: by_kind.get("idempotence", []),
        4: by_kind.get("backup-restore", []),
        5: [r.file.name for r in production],
        6: [r.file.name for r in counted] if len(communes) >= 2 else [],
        7: by_kind.get("upgrade", []),
    }
    for level in range(1, TOP + 1):
        if not rungs[level]:
            break
        quality.met[level] = rungs[level]
        quality.level = level
    return quality


def safe_compute(plugin: Any, members: Mapping[str, str] | None = None) -> Quality | None:
    """The level of a loaded plugin; None for a broken one (listing never fails on records)."""
    if getattr(plugin, "manifest", None) is None:
        return None
    return compute(Path(plugin.path), plugin.name, members)
