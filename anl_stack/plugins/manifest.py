"""The plugin manifest (``plugin.yml``): model, loader and located errors.

The model is the single definition of the manifest; ``docs/manifest.md``
documents every field (a test walks this model to make sure of it).
:func:`load_manifest` turns every validation problem into an
:class:`~anl_stack.core.errors.ErrorRecord` naming the file, the line, the dotted
key, the message and what was expected.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from anl_stack.core import yamlfile
from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.i18n import N_, _
from anl_stack.core.paths import shared_roles
from anl_stack.plugin_api import MANIFEST_FILE

SCHEMA_VERSION = 1
UNKNOWN = "unknown"
NAME_PATTERN = r"^[a-z][a-z0-9_]{1,14}$"
#: Names a plugin cannot take: its name is an inventory group and the prefix of its variables.
#: Ansible's implicit groups and host; the prefixes of Ansible's and anl-stack's own variables
#: (a plugin ``ansible`` would own ``ansible_host``); Ansible's magic variables. The shared roles'
#: names are refused too (a plugin role of that name would replace the shared role in a run).
RESERVED_NAMES = ("all", "ungrouped", "localhost", "ansible", "anl", "hostvars", "groups", "group_names",
                  "omit", "environment", "play_hosts", "role_names", "role_path", "playbook_dir",
                  "inventory_dir", "inventory_file")
PLATFORMS = ("debian-13", "debian-12")


def _invalid(message: str, expected: str) -> PydanticCustomError:
    # The expected text travels in the error context; the loader reads it.
    return PydanticCustomError("anl_invalid", message.replace("{", "(").replace("}", ")"), {"expected": expected})


# --- small value types ---------------------------------------------------

def _number_or_unknown(value: Any) -> Any:
    if value == UNKNOWN or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        if isinstance(value, (int, float)) and value < 0:
            raise _invalid(_("must not be negative"), _("a number >= 0 or 'unknown'"))
        return value
    raise _invalid(_("{value!r} is not a number").format(value=value), _("a number or 'unknown'"))


def _text_or_number(value: Any) -> Any:
    # Costs are often ranges ("15-30"): text or a number, never empty.
    if isinstance(value, bool) or value in (None, ""):
        raise _invalid(_("{value!r} is not a usable value").format(value=value),
                       _("a number, a range such as '15-30', or 'unknown'"))
    if isinstance(value, (int, float, str)):
        return value
    raise _invalid(_("{value!r} is not a number or text").format(value=value),
                   _("a number, a range such as '15-30', or 'unknown'"))


def _identifier(value: Any) -> Any:
    # Identifiers written without quotes come back from YAML as integers.
    if isinstance(value, bool):
        raise _invalid(_("a boolean is not an identifier"), _("an identifier or 'unknown'"))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    raise _invalid(_("{value!r} is not an identifier").format(value=value), _("an identifier or 'unknown'"))


def _siren(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:09d}"
    if isinstance(value, str):
        compact = value.replace(" ", "")
        if value == UNKNOWN or re.fullmatch(r"\d{9}", compact):
            return value if value == UNKNOWN else compact
    raise _invalid(_("{value!r} is not a SIREN number").format(value=value), _("9 digits or 'unknown'"))


def _source_date(value: Any) -> Any:
    # Sources often show only a year or a month ("2022", "2020-05"): keep that precision.
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and SOURCE_DATE.fullmatch(value):
        try:
            source_date_bounds(value)
        except ValueError:
            pass
        else:
            return value
    raise _invalid(_("{value!r} is not a date").format(value=value),
                   _("a date of the source such as 2022, 2022-05 or 2022-05-16"))


SOURCE_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


def source_date_bounds(text: str) -> tuple[dt.date, dt.date]:
    """First and last day a source date (``2022``, ``2022-05``, ``2022-05-16``) may stand for."""
    parts = [int(p) for p in text.split("-")]
    if len(parts) == 1:
        return dt.date(parts[0], 1, 1), dt.date(parts[0], 12, 31)
    if len(parts) == 2:
        first = dt.date(parts[0], parts[1], 1)
        following = dt.date(parts[0] + parts[1] // 12, parts[1] % 12 + 1, 1)
        return first, following - dt.timedelta(days=1)
    day = dt.date(*parts)
    return day, day


Number = Annotated[Any, BeforeValidator(_number_or_unknown)]
TextOrNumber = Annotated[Any, BeforeValidator(_text_or_number)]
Identifier = Annotated[str, BeforeValidator(_identifier)]
Siren = Annotated[str, BeforeValidator(_siren)]
PluginName = Annotated[str, Field(pattern=NAME_PATTERN)]
Source = Annotated[str, Field(min_length=1)]
SourceDate = Annotated[str, BeforeValidator(_source_date)]
#: A BCP 47 language tag, primary subtag first ('fr', 'en', 'pt-BR').
LanguageTag = Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]


class Model(BaseModel):
    """Base of every manifest model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Localized(Model):
    """Text for humans, in French and English."""

    fr: str = Field(min_length=1, description="French text.")
    en: str = Field(min_length=1, description="English text.")

    def get(self, lang: str) -> str:
        return self.fr if lang == "fr" else self.en


class Sourced(Model):
    """Where a fact comes from. A fact without a source is shown unverified."""

    source: Source | None = Field(None, description="URL or document reference the fact was taken from.")
    checked: dt.date | None = Field(None, description="ISO date the source was last checked.")
    dated: SourceDate | None = Field(
        None, description="Date of the source itself (2022, 2022-05 or 2022-05-16); omitted when it shows none.")

    @property
    def verified(self) -> bool:
        return bool(self.source) and self.checked is not None


class NumberFact(Sourced):
    value: Number = Field(description="A number, or 'unknown'.")


class ValueFact(Sourced):
    value: TextOrNumber = Field(description="A number or text (e.g. a range), or 'unknown'.")


class IdFact(Sourced):
    value: Identifier = Field(description="An identifier, or 'unknown'.")
    url: str | None = Field(None, description="Page of the identifier in its catalogue, when it cannot be "
                                              "built from the identifier (the SILL's pages go by name).")
    notes: Localized | None = Field(None, description="What the catalogue says (status, contract...).")


class TextFact(Sourced):
    value: Localized = Field(description="Bilingual text.")


# --- identity -------------------------------------------------------------

class App(Model):
    """The upstream application the recipe installs."""

    name: str = Field(min_length=1, description="Upstream name of the application.")
    version: str = Field(min_length=1, description="Version installed by default, or 'unknown'.")
    licence: str = Field(min_length=1, description="SPDX licence identifier.")
    homepage: str = Field(min_length=1, description="Upstream home page.")
    source: str = Field(min_length=1, description="Upstream source code repository.")
    languages: list[LanguageTag] = Field(
        default_factory=list, description="Languages of the application's interface (BCP 47 tags such as 'fr').")
    features: list[Localized] = Field(
        default_factory=list, description="What users can do with it, one short sentence each, for decision-makers.")


class Platform(Model):
    """What the recipe supports on one Debian release."""

    supported: bool = Field(description="Whether the recipe runs on this release.")
    app_versions: str | None = Field(
        None, description="PEP 440 specifier of app versions this release can run (required when supported)."
    )
    app_version: str | None = Field(
        None, description="Version this release installs by default when it differs from app.version "
                          "(a Debian package: the version that release ships)."
    )
    notes: Localized | None = Field(None, description="Remarks for this release.")

    @field_validator("app_versions")
    @classmethod
    def _specifier(cls, value: str | None) -> str | None:
        if value is None or value == UNKNOWN:
            return value
        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            raise _invalid(_("{value!r} is not a version specifier").format(value=value),
                           _("a specifier such as '>=33,<36'")) from None
        return value

    @model_validator(mode="after")
    def _versions_when_supported(self) -> "Platform":
        if self.supported and not self.app_versions:
            raise _invalid(_("a supported release must say which app versions it runs"),
                           _("app_versions, e.g. '>=33,<36' or 'unknown'"))
        if self.app_version and not _allows(self.app_versions, self.app_version):
            raise _invalid(_("app_version {version} is outside this release's app_versions {versions}").format(
                version=self.app_version, versions=self.app_versions), _("an app_version that app_versions allows"))
        return self

    def default_version(self, app_version: str) -> str:
        """The version a host of this release gets when the inventory does not choose one."""
        return self.app_version or app_version


class Platforms(Model):
    """Debian releases, keyed by their name."""

    debian_13: Platform | None = Field(None, alias="debian-13", description="Debian 13 (trixie).")
    debian_12: Platform | None = Field(None, alias="debian-12", description="Debian 12 (bookworm).")

    def items(self) -> list[tuple[str, Platform]]:
        return [(key, p) for key in PLATFORMS if (p := getattr(self, key.replace("-", "_"))) is not None]

    @model_validator(mode="after")
    def _at_least_one(self) -> "Platforms":
        if not self.items():
            raise _invalid(_("no platform listed"), _("at least one of {platforms}").format(platforms=", ".join(PLATFORMS)))
        return self


# --- decision facts ---------------------------------------------------------

class Requirements(Model):
    """Minimum server for the application (upstream figures)."""

    cpu_cores: NumberFact = Field(description="CPU cores.")
    ram_mb: NumberFact = Field(description="Memory in MB.")
    disk_gb: NumberFact = Field(description="Disk in GB (system and application, without user data).")
    notes: TextFact | None = Field(None, description="Remarks on the requirements.")


class SizingRow(Sourced):
    """One recommended size for one audience."""

    audience: Localized = Field(description="Who this size is for (commune size, users).")
    cpu_cores: Number = Field(description="CPU cores.")
    ram_mb: Number = Field(description="Memory in MB.")
    disk_gb: Number = Field(description="Disk in GB, user data included.")
    notes: Localized | None = Field(None, description="Remarks on this size.")


class Price(Sourced):
    """A price someone published for hosting or running the tool."""

    offer: Localized = Field(description="What the price buys, and from whom.")
    amount: float = Field(ge=0, description="The amount.")
    currency: Literal["EUR", "USD"] = Field("EUR", description="EUR or USD (no conversion is made).")
    period: Literal["month", "year", "once"] = Field(description="month, year or once.")
    notes: Localized | None = Field(None, description="Conditions: per user, who may buy it, reliability.")


class PaidBefore(Sourced):
    """What a public body paid for the service before a free tool, when a source says so."""

    who: str = Field(min_length=1, description="The public body.")
    what: Localized = Field(description="The service it paid for.")
    amount: float = Field(ge=0, description="The amount.")
    currency: Literal["EUR", "USD"] = Field("EUR", description="EUR or USD.")
    period: Literal["month", "year", "once"] = Field(description="month, year or once.")


class Cost(Model):
    """Cost estimate for a commune; the cost model (``anl-stack plugins cost``) computes the rest."""

    hosting_eur_per_month: ValueFact = Field(description="Hosting cost per month in euros (a number or a range).")
    setup_days: ValueFact = Field(description="Days of work to set it up.")
    admin_days_per_month: ValueFact = Field(description="Days of administration per month.")
    notes: TextFact | None = Field(None, description="Remarks on the estimate.")
    prices: list[Price] = Field(default_factory=list, description="Published prices (hosting, managed offers).")
    paid_before: list[PaidBefore] = Field(default_factory=list,
                                          description="What public bodies paid before, with the source.")


class UpstreamHealth(Sourced):
    """Is the upstream project alive?"""

    value: Literal["active", "maintained", "unmaintained"] = Field(
        description="active (new features), maintained (fixes only) or unmaintained."
    )
    since: dt.date | None = Field(None, description="Date of the last release or commit; required when unmaintained.")
    maintainer: Literal["owner", "community"] | None = Field(
        None, description="Who maintains the code: 'owner' (the company or association that owns the repository) "
                          "or 'community' (volunteers); omitted when not established.")
    notes: Localized | None = Field(None, description="Remarks on the project's health.")
    alternatives: list[str] = Field(default_factory=list, description="Replacements; required when unmaintained.")

    @model_validator(mode="after")
    def _unmaintained_details(self) -> "UpstreamHealth":
        if self.value == "unmaintained" and (self.since is None or not self.alternatives):
            raise _invalid(_("an unmaintained project must give the date it stopped and alternatives"),
                           _("since (a date) and alternatives (a non-empty list)"))
        return self


class References(Model):
    """Public catalogues that describe the application."""

    sill_id: IdFact = Field(description="Identifier in the SILL (Socle interministériel de logiciels libres).")
    comptoir_du_libre_id: IdFact = Field(description="Identifier on the Comptoir du Libre.")
    wikidata: IdFact = Field(description="Wikidata item (Q...).")


class Provider(Sourced):
    """A company offering hosting or support."""

    name: str = Field(min_length=1, description="Company name.")
    siren: Siren = Field(UNKNOWN, description="French SIREN number (9 digits), or 'unknown'.")
    site: str | None = Field(None, description="Web site.")
    notes: Localized | None = Field(None, description="What it offers, for whom.")


class User(Sourced):
    """A public body known to run the application."""

    name: str = Field(min_length=1, description="Name of the public body.")
    kind: Literal["commune", "intercommunal", "region", "state", "other"] = Field(
        "other", description="commune, intercommunal (a syndicate, a community of communes), region, state "
                             "(ministries, national agencies, académies) or other.")
    notes: Localized | None = Field(None, description="What they run, how.")


class Facts(Model):
    """Decision facts for a commune; each carries its source and date."""

    requirements: Requirements = Field(description="Minimum server.")
    sizing: list[SizingRow] = Field(default_factory=list, description="Sizes by commune size or users.")
    cost: Cost = Field(description="Cost estimate.")
    upstream_health: UpstreamHealth = Field(description="Upstream project's health.")
    references: References = Field(description="Catalogue identifiers.")
    providers: list[Provider] = Field(default_factory=list, description="Companies offering the service.")
    users: list[User] = Field(default_factory=list, description="Public bodies known to run it.")


# --- deployment -------------------------------------------------------------

class Port(Model):
    """A port the firewall opens on hosts running the plugin."""

    port: int = Field(ge=1, le=65535, description="Port number.")
    protocol: Literal["tcp", "udp"] = Field("tcp", description="tcp or udp.")
    purpose: str = Field(min_length=1, description="What the port is for.")
    allow_from_setting: str | None = Field(
        None, description="Settings variable listing the source addresses allowed (default: everyone)."
    )
    open_when_setting: str | None = Field(
        None, description="Boolean settings variable: the port is open only when the commune sets it true "
                          "(default: always open)."
    )


class Secret(Model):
    """A secret generated once into the commune's vault."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Variable name, prefixed with the plugin name.")
    kind: Literal["password", "token", "hex"] = Field("password", description="password, token or hex.")
    length: int = Field(32, ge=8, le=256, description="Length in characters.")
    description: str = Field(min_length=1, description="What the secret protects.")


class Service(Model):
    """A long-running process of the application that must not run as root (security baseline)."""

    name: str = Field(min_length=1, max_length=64, description="What the report calls it, e.g. 'prosody'.")
    unit: str | None = Field(None, pattern=r"^[A-Za-z0-9:_.@\\-]+\.service$",
                             description="systemd service whose processes must not run as root.")
    process: str | None = Field(None, min_length=1, description="Python regular expression matched against "
                                                                "each process command line (ps args).")

    @field_validator("process")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise _invalid(_("{value!r} is not a regular expression: {error}").format(value=value, error=error),
                               _("a Python regular expression such as '{example}'").format(
                                   example="^/usr/bin/lua5.4 /usr/bin/prosody")) from None
        return value

    @model_validator(mode="after")
    def _one_way(self) -> "Service":
        if (self.unit is None) == (self.process is None):
            raise _invalid(_("a service is found by its unit or by its command line"),
                           _("exactly one of unit (e.g. prosody.service) or process (a regular expression)"))
        return self


class Signature(Model):
    """An upstream OpenPGP signature and the pinned key that made it."""

    url: str = Field(min_length=1, description="URL of the detached signature.")
    key_url: str | None = Field(None, description="URL of the signing key (accepted only if its fingerprint matches).")
    key_file: str | None = Field(None, description="Signing key shipped in the plugin (path relative to it).")
    fingerprint: str = Field(description="Pinned fingerprint of the signing key (40 hex digits).")

    @field_validator("fingerprint", mode="before")
    @classmethod
    def _fingerprint(cls, value: Any) -> Any:
        if isinstance(value, str):
            compact = value.replace(" ", "").upper()
            if re.fullmatch(r"[0-9A-F]{40}", compact):
                return compact
        raise _invalid(_("{value!r} is not a key fingerprint").format(value=value), _("40 hexadecimal digits"))

    @field_validator("key_file")
    @classmethod
    def _key_file(cls, value: str | None) -> str | None:
        # The key is read from the plugin folder: a path that leaves it would read a file of the controller.
        if value is not None:
            parts = Path(value).parts
            if not parts or Path(value).is_absolute() or ".." in parts:
                raise _invalid(_("{value!r} leaves the plugin folder").format(value=value),
                               _("a path relative to the plugin, without '..'"))
        return value

    @model_validator(mode="after")
    def _one_key(self) -> "Signature":
        if not self.key_url and not self.key_file:
            raise _invalid(_("no signing key given"), _("key_url or key_file"))
        return self


class Artifact(Model):
    """A release Debian does not package, downloaded and checked."""

    name: str = Field(min_length=1, description="Artifact name.")
    version: str = Field(min_length=1, description="Pinned version.")
    url: str | None = Field(None, description="Download URL.")
    npm: str | None = Field(None, description="npm package spec (name@version), fetched with npm pack.")
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$", description="Pinned SHA-256 checksum.")
    sha512: str | None = Field(None, pattern=r"^[0-9a-f]{128}$", description="Pinned SHA-512 checksum.")
    signature: Signature | None = Field(None, description="Upstream signature and pinned key.")
    commune_pin: bool = Field(False, description="Upstream publishes neither checksum nor signature: trust comes "
                                                 "only from the commune's anl_artifact_pins (deploy refuses until then).")

    @field_validator("sha256", "sha512", mode="before")
    @classmethod
    def _digest(cls, value: Any) -> Any:
        # npm publishes SRI integrity ("sha512-<base64>"): accept it as the hex digest it encodes.
        if isinstance(value, str):
            match = re.fullmatch(r"(sha256|sha512)-([A-Za-z0-9+/]+=*)", value.strip())
            if match:
                try:
                    return base64.b64decode(match.group(2), validate=True).hex()
                except binascii.Error:
                    return value
            return value.strip().lower()
        return value

    @model_validator(mode="after")
    def _one_origin(self) -> "Artifact":
        if bool(self.url) == bool(self.npm):
            raise _invalid(_("an artifact comes from exactly one place"), _("either url or npm"))
        return self

    @property
    def pinned(self) -> bool:
        return bool(self.sha256 or self.sha512 or self.signature)


class Deployment(Model):
    """How the recipe lands on a server."""

    subdomain: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
                           description="Default web name: <subdomain>.<anl_domain>.")
    ports: list[Port] = Field(default_factory=list, description="Ports the firewall opens.")
    depends_on: list[PluginName] = Field(default_factory=list, description="Other plugins this one needs.")
    secrets: list[Secret] = Field(default_factory=list, description="Secrets generated into the vault.")
    services: list[Service] = Field(default_factory=list,
                                    description="Processes the baseline checks do not run as root.")
    artifacts: list[Artifact] = Field(default_factory=list, description="Releases downloaded and checked.")
    upgrades_from: str | None = Field(
        None, description="Recipe versions the upgrade step upgrades from (PEP 440 specifier); none: any.")
    upgrade_notes: Localized | None = Field(None, description="Why other upgrades are refused, for operators.")
    progress: str | None = Field(
        None, max_length=300,
        description="Where to follow the recipe's progress while it has none (an address or a short text).")

    @property
    def web(self) -> bool:
        """Whether the plugin is on the web: it opens HTTPS (tcp/443), served by the shared web role."""
        return any(p.port == 443 and p.protocol == "tcp" for p in self.ports)

    @field_validator("upgrades_from")
    @classmethod
    def _specifier(cls, value: str | None) -> str | None:
        if value is not None:
            from packaging.specifiers import InvalidSpecifier, SpecifierSet

            try:
                SpecifierSet(value)
            except InvalidSpecifier:
                raise ValueError(_("{value!r} is not a version specifier such as '>=0.1,<0.2'").format(value=value)) from None
        return value


# --- the manifest -----------------------------------------------------------

class Manifest(Model):
    """A plugin's ``plugin.yml``."""

    schema_version: Literal[1] = Field(description="Manifest format version (1).")
    name: PluginName = Field(description="Plugin name; also its folder and inventory group.")
    version: str = Field(pattern=r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$", description="Recipe version (semver).")
    category: Literal["collaboration", "video", "social", "survey", "streaming", "other"] = Field(
        description="Kind of tool."
    )
    title: Localized = Field(description="Display name.")
    summary: Localized = Field(description="One or two sentences for a decision-maker.")
    app: App = Field(description="Upstream application.")
    platforms: Platforms = Field(description="Debian releases.")
    facts: Facts = Field(description="Decision facts.")
    deployment: Deployment = Field(description="Deployment.")



def reserved_name(name: str) -> str | None:
    """Why ``name`` cannot name a plugin, or None."""
    if name in RESERVED_NAMES:
        return _("{name!r} is reserved (Ansible group, host or variable name)").format(name=name)
    if name in shared_roles():
        return _("{name!r} is the name of a shared role").format(name=name)
    return None


def cross_checks(manifest: Manifest) -> list[tuple[tuple[Any, ...], str, str]]:
    """Rules spanning several fields, as (location, message, expected)."""
    found: list[tuple[tuple[Any, ...], str, str]] = []
    if (reserved := reserved_name(manifest.name)) is not None:
        found.append((("name",), reserved, _("another name")))
    prefix = manifest.name + "_"
    expected = _("a name starting with {prefix!r}").format(prefix=prefix)
    for index, secret in enumerate(manifest.deployment.secrets):
        if not secret.name.startswith(prefix):
            found.append((("deployment", "secrets", index, "name"),
                          _("secret {name!r} is not prefixed with the plugin name").format(name=secret.name), expected))
    for index, port in enumerate(manifest.deployment.ports):
        for key in ("allow_from_setting", "open_when_setting"):
            name = getattr(port, key)
            if name and not name.startswith(prefix):
                found.append((("deployment", "ports", index, key),
                              _("setting {name!r} is not prefixed with the plugin name").format(name=name), expected))
    if manifest.name in manifest.deployment.depends_on:
        found.append((("deployment", "depends_on"), _("a plugin cannot depend on itself"), _("other plugin names")))
    found += _default_version_allowed(manifest)
    return found


def _allows(spec: str | None, version: str) -> bool:
    """Whether ``spec`` allows ``version``; True when either cannot be compared ('unknown', not PEP 440)."""
    if not spec or spec == UNKNOWN:
        return True
    try:
        return Version(version) in SpecifierSet(spec)
    except (InvalidVersion, InvalidSpecifier):
        return True


def _default_version_allowed(manifest: Manifest) -> list[tuple[tuple[Any, ...], str, str]]:
    """The default app version must run on at least one supported release that installs it.

    A run checks the releases of its own hosts (deploy/prepare.py); here a default that no release
    could run is a mistake in the manifest itself.
    """
    try:
        Version(manifest.app.version)
    except InvalidVersion:
        return []  # 'unknown' or a non-PEP 440 version: nothing to compare
    specs = [p.app_versions for _key, p in manifest.platforms.items()
             if p.supported and not p.app_version and p.app_versions and p.app_versions != UNKNOWN]
    if not specs or any(_allows(spec, manifest.app.version) for spec in specs):
        return []
    return [(("app", "version"),
             _("version {version} is outside every supported platform's app_versions").format(version=manifest.app.version),
             _("a version allowed by the app_versions of a release without its own app_version"))]


# --- loading ------------------------------------------------------------------

def _parse(text: str, file: str) -> tuple[Any, yaml.Node | None]:
    """YAML data and its node tree (for line numbers), from one parse."""
    return yamlfile.parse(text, file, loader=yamlfile.TextDatesLoader, expected=_("a YAML mapping"))


def _unwrap(annotation: Any) -> list[Any]:
    """The model classes an annotation may hold (through Optional, list, Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType, list, dict, tuple):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            out += _unwrap(arg)
        return out
    return [annotation] if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []


def field_key(info: Any, name: str) -> str:
    return info.alias or name


def model_at(loc: tuple[Any, ...], root: type[BaseModel] = None) -> type[BaseModel] | None:  # type: ignore[assignment]
    """The model class found at ``loc`` (list indexes skipped), or None."""
    current: type[BaseModel] | None = root or Manifest
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        for name, info in current.model_fields.items():
            if field_key(info, name) == part:
                models = _unwrap(info.annotation)
                current = models[0] if models else None
                break
        else:
            return None
    return current


def _expected(error: dict[str, Any], loc: tuple[Any, ...], root: type[BaseModel] | None = None) -> str | None:
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if "expected" in ctx:
        return str(ctx["expected"])
    if kind == "extra_forbidden":
        parent = model_at(loc[:-1], root)  # type: ignore[arg-type]
        if parent is not None:
            return _("one of: {keys}").format(keys=", ".join(field_key(i, n) for n, i in parent.model_fields.items()))
    if kind == "missing":
        return _("this key to be present")
    if kind == "string_pattern_mismatch":
        return _("text matching {pattern}").format(pattern=ctx.get("pattern"))
    if kind in ("date_from_datetime_parsing", "date_parsing", "date_type"):
        return _("an ISO date such as 2026-11-28")
    if kind.startswith("int") or kind.startswith("greater") or kind.startswith("less"):
        bounds = [f"{k.replace('_', ' ')} {v}" for k, v in ctx.items() if k in ("ge", "gt", "le", "lt")]
        return _("an integer") + (" (" + ", ".join(bounds) + ")" if bounds else "")
    if kind in ("string_type", "string_too_short"):
        return _("non-empty text (quote values such as versions: \"1.0\")")
    if kind in ("bool_type", "bool_parsing"):
        return _("true or false")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return _("a mapping")
    if kind == "list_type":
        return _("a list")
    return None


#: Pydantic's error types with a message of ours (pydantic writes its own in English); the expected
#: value, given next to it (:func:`_expected`), says what to write instead.
TYPE_MESSAGES: dict[str, str] = {
    "extra_forbidden": N_("unknown key"),
    "missing": N_("required key is missing"),
    "int_parsing": N_("not an integer"), "int_type": N_("not an integer"), "int_from_float": N_("not an integer"),
    "float_parsing": N_("not a number"), "float_type": N_("not a number"),
    "string_type": N_("not text"), "string_too_short": N_("empty text"),
    "string_pattern_mismatch": N_("not in the expected form"),
    "bool_type": N_("not true or false"), "bool_parsing": N_("not true or false"),
    "list_type": N_("not a list"),
    "dict_type": N_("not a mapping"), "model_type": N_("not a mapping"), "model_attributes_type": N_("not a mapping"),
    "greater_than": N_("too small"), "greater_than_equal": N_("too small"),
    "less_than": N_("too large"), "less_than_equal": N_("too large"),
    "date_parsing": N_("not a date"), "date_from_datetime_parsing": N_("not a date"), "date_type": N_("not a date"),
    "literal_error": N_("not one of the allowed values"), "enum": N_("not one of the allowed values"),
}


def _message(error: dict[str, Any]) -> str:
    if error["type"] in TYPE_MESSAGES:
        return _(TYPE_MESSAGES[error["type"]])
    return str(error["msg"]).removeprefix("Value error, ")


def _dotted(loc: tuple[Any, ...]) -> str | None:
    """``("facts", "providers", 0, "name")`` -> ``facts.providers[0].name``."""
    text = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc).replace(".[", "[")
    return text or None


def records_from_validation(error: ValidationError, node: yaml.Node | None, file: str,
                            root: type[BaseModel] | None = None) -> list[ErrorRecord]:
    """One located record per pydantic error (``root``: the model validated, the manifest by default)."""
    records: list[ErrorRecord] = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        line, matched = yamlfile.locate(node, loc)
        # A missing key is not in the YAML: name it fully anyway.
        shown = loc if item["type"] == "missing" else matched or loc
        records.append(ErrorRecord(_message(item), file, line, _dotted(shown), _expected(item, loc, root)))
    return records


def load_manifest(path: str | Path, *, folder_name: str | None = None) -> Manifest:
    """Read and validate a ``plugin.yml``.

    ``path`` is the manifest file or the plugin folder holding it. When
    ``folder_name`` is given, the manifest's ``name`` must equal it.
    Raises :class:`AnlError` (exit 2) with one located record per problem.
    """
    path = Path(path)
    if path.is_dir() or path.suffix not in (".yml", ".yaml"):
        path = path / MANIFEST_FILE
    file = str(path)
    try:
        if path.stat().st_size > yamlfile.MAX_BYTES:
            raise AnlError(_("is {size} bytes").format(size=path.stat().st_size), file=file, key="size",
                           expected=_("a manifest of at most {max_bytes} bytes").format(max_bytes=yamlfile.MAX_BYTES))
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AnlError(_("manifest not found"), file=file, expected=_("a {manifest_file} file")
                                                                 .format(manifest_file=MANIFEST_FILE)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise AnlError(_("cannot read manifest: {error}").format(error=error), file=file, expected=_("a readable UTF-8 file")) from None

    data, node = _parse(text, file)
    if not isinstance(data, dict):
        raise AnlError(_("the manifest is not a mapping"), file=file, line=1, expected=_("a YAML mapping of keys"))

    duplicates = yamlfile.duplicate_keys(node)
    if duplicates:
        raise AnlError([ErrorRecord(_("key given twice"), file, line, key, _("each key once")) for key, line in duplicates])

    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as error:
        raise AnlError(records_from_validation(error, node, file)) from None

    problems = cross_checks(manifest)
    if folder_name is not None and manifest.name != folder_name:
        problems.append((("name",), _("name {name!r} differs from its folder {folder!r}").format(
            name=manifest.name, folder=folder_name), f"name: {folder_name}"))
    if problems:
        records = []
        for loc, message, expected in problems:
            line, _node = yamlfile.locate(node, loc)
            records.append(ErrorRecord(message, file, line, _dotted(loc), expected))
        raise AnlError(records)
    return manifest
