"""The cost model's assumptions: a plugin's ``cost.yml`` over the shared ``common.yml``, validated.

Every assumption is a value (or 'unknown') with its unit, a label in French
and English, and its source; the shared file also holds the server offers
whose prices the model compares. Overrides from the command line replace
values and are checked the same way (exit 2 with the key and what was
expected).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from anl_stack.core import yamlfile
from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.i18n import _
from anl_stack.costs.model import OPTIONAL, required_keys
from anl_stack.plugins.manifest import (
    UNKNOWN,
    Localized,
    Model,
    Number,
    Sourced,
    records_from_validation,
)

COST_FILE = "cost.yml"
COMMON_FILE = Path(__file__).with_name("common.yml")


class Parameter(Sourced):
    """One assumption of the cost model."""

    value: Number = Field(description="A number >= 0, or 'unknown'.")
    unit: str = Field(min_length=1, description="Unit of the value (viewers, kbit/s, h, EUR/h...).")
    label: Localized = Field(description="What the assumption is, for a reader.")
    integer: bool = Field(False, description="Whether the value is a whole number (a count).")
    notes: Localized | None = Field(None, description="How to choose another value.")


class Offer(Sourced):
    """A server offer with a published monthly price."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9_-]+$", description="Short identifier.")
    label: Localized = Field(description="The offer, as the source describes it.")
    ram_mb: float = Field(ge=0, description="Memory in MB.")
    disk_gb: float = Field(ge=0, description="Disk in GB.")
    bandwidth_mbps: float = Field(ge=0, description="Network bandwidth in Mbit/s.")
    eur_per_month: float = Field(ge=0, description="Price in euros per month.")


class CommonFile(Model):
    """``anl_stack/costs/common.yml``: assumptions shared by every plugin and the server offers."""

    schema_version: Literal[1] = Field(description="Format version (1).")
    offers: list[Offer] = Field(min_length=1, description="Server offers the model chooses from.")
    parameters: dict[str, Parameter] = Field(description="Assumptions shared by every model.")


class CostFile(Model):
    """A plugin's ``cost.yml``."""

    schema_version: Literal[1] = Field(description="Format version (1).")
    model: Literal["streaming", "video", "files", "social", "polls"] = Field(
        description="Which formulas apply (the tool's drivers).")
    parameters: dict[str, Parameter] = Field(description="The model's assumptions; a shared one may be replaced.")


@dataclass(frozen=True)
class Assumption:
    """A parameter as the model uses it: where it was defined and whether the command line changed it."""

    key: str
    parameter: Parameter
    file: str
    overridden: bool = False

    @property
    def value(self) -> float | None:
        return None if self.parameter.value == UNKNOWN else float(self.parameter.value)


@dataclass
class CostInputs:
    model: str
    assumptions: dict[str, Assumption]
    offers: list[Offer]
    files: list[str] = field(default_factory=list)

    def values(self) -> dict[str, float | None]:
        return {key: a.value for key, a in self.assumptions.items()}


def _load(path: Path, schema: type[Model]) -> tuple[Any, Any]:
    doc = yamlfile.read_yaml(path, loader=yamlfile.TextDatesLoader, expected="a YAML mapping")
    data = doc.data
    if not isinstance(data, dict):
        raise AnlError(_("not a mapping"), file=str(path), line=1, expected=_("a YAML mapping of keys"))
    duplicates = yamlfile.duplicate_keys(doc.node)
    if duplicates:
        raise AnlError([ErrorRecord(_("key given twice"), str(path), line, key, _("each key once"))
                        for key, line in duplicates])
    try:
        return schema.model_validate(data), doc
    except ValidationError as error:
        raise AnlError(records_from_validation(error, doc.node, str(path), schema)) from None


def load_common(path: Path = COMMON_FILE) -> CommonFile:
    return _load(path, CommonFile)[0]


def load_inputs(plugin_dir: Path, common_path: Path = COMMON_FILE) -> CostInputs:
    """The model and assumptions of the plugin in ``plugin_dir`` (exit 2 naming file and key if invalid)."""
    path = plugin_dir / COST_FILE
    if not path.is_file():
        raise AnlError(_("the plugin has no cost parameters"), file=str(path), key="cost",
                       expected=_('a {cost_file} file (docs/contributing-a-recipe.md, "Cost parameters")')
                                .format(cost_file=COST_FILE))
    common = load_common(common_path)
    cost, doc = _load(path, CostFile)
    assumptions = {k: Assumption(k, p, str(common_path)) for k, p in common.parameters.items()}
    allowed = set(required_keys(cost.model)) | set(OPTIONAL)
    problems = []
    for key, parameter in cost.parameters.items():
        if key not in allowed:
            problems.append(ErrorRecord(_("{key!r} is not an assumption of the {model} model")
                                        .format(key=key, model=cost.model), str(path),
                                        doc.line("parameters", key), f"parameters.{key}",
                                        _("one of: {allowed}").format(allowed=", ".join(sorted(allowed)))))
        assumptions[key] = Assumption(key, parameter, str(path))
    for key in required_keys(cost.model):
        if key not in assumptions:
            problems.append(ErrorRecord(_("required assumption is missing"), str(path), doc.line("parameters"),
                                        f"parameters.{key}", _("{key} in {cost_file} or in {common_path}")
                                                             .format(key=key, cost_file=COST_FILE,
                                                                     common_path=common_path.name)))
    if problems:
        raise AnlError(problems)
    ordered = {k: assumptions[k] for k in (*required_keys(cost.model), *OPTIONAL) if k in assumptions}
    return CostInputs(cost.model, ordered, list(common.offers), [str(common_path), str(path)])


def parse_override(text: str) -> tuple[str, str]:
    """``key=value`` from ``--set``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise AnlError(_("{text!r} is not KEY=VALUE").format(text=text), key="--set", expected=_("KEY=VALUE, e.g. viewers=80"))
    return key.strip(), value.strip()


def _number(key: str, text: str | float, integer: bool) -> float | str:
    if isinstance(text, str) and text == UNKNOWN:
        return UNKNOWN
    expected = _("a whole number >= 0") if integer else _("a number >= 0")
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise AnlError(_("{text!r} is not a number").format(text=text), key=key, expected=_("{expected} or 'unknown'")
                                                                      .format(expected=expected)) from None
    if value != value or value in (float("inf"), float("-inf")) or value < 0 or (integer and not value.is_integer()):
        raise AnlError(_("{text!r} is not allowed").format(text=text), key=key, expected=expected)
    return int(value) if value.is_integer() else value


def apply_overrides(inputs: CostInputs, overrides: dict[str, str | float], today: dt.date | None = None) -> CostInputs:
    """The inputs with the command line's values; an unknown key or a bad value is refused (exit 2)."""
    changed = dict(inputs.assumptions)
    problems: list[ErrorRecord] = []
    for key, raw in overrides.items():
        if key not in changed:
            problems.append(ErrorRecord(_("{key!r} is not an assumption of the {model} model")
                                        .format(key=key, model=inputs.model), None, None,
                                        key, _("one of: {changed}").format(changed=", ".join(changed))))
            continue
        try:
            value = _number(key, raw, changed[key].parameter.integer)
        except AnlError as error:
            problems += error.records
            continue
        parameter = changed[key].parameter.model_copy(update={
            "value": value, "source": "set on the command line", "dated": None,
            "checked": today or dt.date.today()})
        changed[key] = replace(changed[key], parameter=parameter, overridden=True)
    if problems:
        raise AnlError(problems)
    return replace(inputs, assumptions=changed)
