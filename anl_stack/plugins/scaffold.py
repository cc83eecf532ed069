"""``plugins new``: a complete plugin skeleton that deploys and verifies something real.

The skeleton publishes a small web page for the commune through the shared
``web`` role (nginx from Debian, TLS, security headers) and checks it with
testinfra. Every manifest field is present; facts nobody has established
yet are ``unknown`` and carry no source, so the catalog shows them
unverified until the author fills them in.
"""

from __future__ import annotations

import re
from pathlib import Path

from anl_stack.core.errors import AnlError
from anl_stack.core.i18n import _
from anl_stack.plugins.manifest import NAME_PATTERN, reserved_name

PLACEHOLDER = "__NAME__"

FILES: dict[str, str] = {
    "plugin.yml": """\
# Manifest of the __NAME__ plugin (docs/manifest.md documents every field).
# Facts without a source are shown "unverified": establish them, give the
# source and the date you checked it, or leave "unknown".
schema_version: 1
name: __NAME__
version: "0.1.0"
category: other
title:
  fr: "__NAME__"
  en: "__NAME__"
summary:
  fr: "Page d'accueil web de la commune, servie par nginx (Debian) en HTTPS."
  en: "The commune's web welcome page, served by nginx (Debian) over HTTPS."
app:
  name: nginx
  version: unknown
  licence: BSD-2-Clause
  homepage: https://nginx.org
  source: https://github.com/nginx/nginx
platforms:
  debian-13:
    supported: true
    app_versions: unknown
  debian-12:
    supported: true
    app_versions: unknown
facts:
  requirements:
    cpu_cores: {value: unknown}
    ram_mb: {value: unknown}
    disk_gb: {value: unknown}
  sizing: []
  cost:
    hosting_eur_per_month: {value: unknown}
    setup_days: {value: unknown}
    admin_days_per_month: {value: unknown}
  upstream_health:
    value: active
    since: null
    alternatives: []
  references:
    sill_id: {value: unknown}
    comptoir_du_libre_id: {value: unknown}
    wikidata: {value: unknown}
  providers: []
  users: []
deployment:
  subdomain: __SUBDOMAIN__
  ports:
    - {port: 443, protocol: tcp, purpose: "HTTPS"}
    - {port: 80, protocol: tcp, purpose: "HTTP redirect to HTTPS and ACME challenges"}
  depends_on: []
  secrets: []
  # Processes the baseline checks do not run as root, e.g. {name: mydaemon, unit: mydaemon.service};
  # nginx (this page) is known already.
  services: []
  artifacts: []
""",
    "playbook.yml": """\
---
# Deploy step of the __NAME__ plugin: base hardening and firewall, the shared
# nginx/TLS front, then the plugin's own role.
- name: Deploy __NAME__
  hosts: __NAME__
  become: true
  roles:
    - role: base
    - role: web
    - role: __NAME__
""",
    "roles/__NAME__/defaults/main.yml": """\
---
__NAME___domain: "__SUBDOMAIN__.{{ anl_domain }}"
__NAME___title: "{{ anl_commune }}"
__NAME___web_root: /var/www/anl-__NAME__
""",
    "roles/__NAME__/meta/main.yml": """\
---
galaxy_info:
  role_name: __NAME__
  namespace: anl_stack
  author: unknown
  description: The commune's web welcome page served by nginx.
  license: AGPL-3.0-or-later
  min_ansible_version: "2.19"
  platforms:
    - name: Debian
      versions:
        - bookworm
        - trixie
dependencies: []
""",
    "roles/__NAME__/meta/argument_specs.yml": """\
---
argument_specs:
  main:
    short_description: The commune's web welcome page served by nginx.
    options:
      __NAME___domain:
        type: str
        description: Web name of the page. Computed in C(defaults/main.yml) as C(__SUBDOMAIN__.) followed by C(anl_domain).
      __NAME___title:
        type: str
        description: Title shown on the page. Computed in C(defaults/main.yml) as C(anl_commune).
      __NAME___web_root:
        type: path
        default: /var/www/anl-__NAME__
        description: Folder holding the page.
""",
    "roles/__NAME__/tasks/main.yml": """\
---
- name: Create the web folder
  ansible.builtin.file:
    path: "{{ __NAME___web_root }}"
    state: directory
    owner: root
    group: root
    mode: "0755"
  tags: [__NAME__]

- name: Write the welcome page
  ansible.builtin.template:
    src: index.html.j2
    dest: "{{ __NAME___web_root }}/index.html"
    owner: root
    group: root
    mode: "0644"
  tags: [__NAME__]

# include_role templates its vars inside the web role, where role_path is
# the web role's: resolve our template's path here first.
- name: Locate the locations template of __NAME__
  ansible.builtin.set_fact:
    __NAME___locations_template: "{{ role_path }}/templates/nginx-locations.conf.j2"
  tags: [__NAME__]

- name: Serve the page through the shared web front
  ansible.builtin.include_role:
    name: web
    tasks_from: vhost
  vars:
    web_vhost_name: __NAME__
    web_vhost_domain: "{{ __NAME___domain }}"
    web_vhost_locations_template: "{{ __NAME___locations_template }}"
  tags: [__NAME__]

- name: Apply the nginx changes now
  ansible.builtin.meta: flush_handlers
  tags: [__NAME__]
""",
    "roles/__NAME__/handlers/main.yml": """\
---
- name: Report the page update
  ansible.builtin.debug:
    msg: "{{ __NAME___domain }} updated"
""",
    "roles/__NAME__/templates/index.html.j2": """\
<!DOCTYPE html>
<html lang="fr">
<head><meta charset="utf-8"><title>{{ __NAME___title }}</title></head>
<body><h1>{{ __NAME___title }}</h1><p>anl-stack: __NAME__</p></body>
</html>
""",
    "roles/__NAME__/templates/nginx-locations.conf.j2": """\
# {{ ansible_managed }}
root {{ __NAME___web_root }};
index index.html;

location / {
    try_files $uri $uri/ =404;
}
""",
    "verify/test___NAME__.py": '''\
"""Checks of the __NAME__ plugin (run by `anl-stack verify __NAME__`)."""

from __future__ import annotations

WEB_ROOT = "/var/www/anl-__NAME__"

FETCH = (
    "import ssl, urllib.request; "
    "req = urllib.request.Request('https://127.0.0.1/', headers={'Host': '%s'}); "
    "print(urllib.request.urlopen(req, context=ssl._create_unverified_context(), timeout=10).read().decode())"
)


def test_nginx_runs(host):
    """nginx is running and enabled.

    Hint: journalctl -u nginx on the host.
    """
    nginx = host.service("nginx")
    assert nginx.is_running and nginx.is_enabled


def test_page_is_installed(host):
    """The welcome page is in its folder.

    Hint: run the deploy again.
    """
    page = host.file(f"{WEB_ROOT}/index.html")
    assert page.is_file and "anl-stack: __NAME__" in page.content_string


def test_page_is_served_over_https(host):
    """The page is served over HTTPS under its web name.

    Hint: check the vhost in /etc/nginx/sites-enabled/anl-__NAME__.conf.
    """
    domain = host.check_output("grep -m1 -oP '(?<=server_name )[^ ;]+' /etc/nginx/sites-enabled/anl-__NAME__.conf")
    out = host.check_output("python3 -c %s", FETCH % domain)
    assert "anl-stack: __NAME__" in out
''',
    "docs/en.md": """\
# __NAME__

## Overview

The commune's web welcome page, served by nginx from Debian over HTTPS.

## Who uses it

No public user recorded yet.

## Requirements

Debian 13 or 12; the facts in plugin.yml are unknown until established.

## Sizing

unknown

## Costs

unknown

## Providers

None recorded.

## Deployment method

`anl-stack deploy __NAME__`: base hardening, the shared nginx front, then the page.

## Upgrades and backups

nginx is upgraded by Debian's unattended upgrades; the page is regenerated by each deploy (nothing to back up).

## Known limits

A static page only.

## What CI does not exercise

Certificates from a real ACME authority.
""",
    "docs/fr.md": """\
# __NAME__

## Présentation

La page d'accueil web de la commune, servie en HTTPS par nginx (Debian).

## Qui l'utilise

Aucun utilisateur public recensé pour l'instant.

## Prérequis

Debian 13 ou 12 ; les faits de plugin.yml sont inconnus tant qu'ils ne sont pas établis.

## Dimensionnement

inconnu

## Coûts

inconnu

## Prestataires

Aucun recensé.

## Méthode de déploiement

`anl-stack deploy __NAME__` : durcissement de base, frontal nginx commun, puis la page.

## Mises à jour et sauvegardes

nginx est mis à jour par les mises à jour automatiques de Debian ; la page est régénérée à chaque déploiement (rien à sauvegarder).

## Limites connues

Une page statique seulement.

## Ce que les tests n'exécutent pas

Les certificats d'une vraie autorité ACME.
""",
    "reviews/README.md": """\
Community review records (`anl-stack plugins review`) are written here.
""",
    "pyproject.toml": """\
# Publish this plugin as a Python distribution: anl-stack finds it through
# the `anl_stack.plugins` entry point once it is installed.
[build-system]
# 77: the first setuptools that reads an SPDX `license` expression (PEP 639).
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "anl-plugin-__DASHNAME__"
version = "0.1.0"
description = "anl-stack plugin: __NAME__"
requires-python = ">=3.11"
# An SPDX expression; a LICENSE or COPYING file you add is shipped (setuptools' default license-files).
license = "AGPL-3.0-or-later"

[project.entry-points."anl_stack.plugins"]
__NAME__ = "anl_plugin___NAME__"

[tool.setuptools]
packages = ["anl_plugin___NAME__"]
package-dir = { "anl_plugin___NAME__" = "." }
include-package-data = false

[tool.setuptools.package-data]
"anl_plugin___NAME__" = ["plugin.yml", "*.yml", "roles/**/*", "verify/*.py", "docs/*.md", "reviews/*", "evidence/*"]
""",
    "__init__.py": '''\
"""The __NAME__ anl-stack plugin, as an importable package (its folder holds plugin.yml)."""
''',
}


def create_plugin(name: str, parent: Path) -> Path:
    """Write the skeleton of plugin ``name`` into ``parent/name``; refuse to overwrite."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise AnlError(_("invalid plugin name {name!r}").format(name=name), key="name", expected="[a-z][a-z0-9_]{1,14}")
    if (reserved := reserved_name(name)) is not None:
        raise AnlError(reserved, key="name", expected=_("another name"))
    folder = parent / name
    if folder.exists():
        raise AnlError(_("folder already exists"), file=str(folder), key="name", expected=_("a new plugin name or --dir"))
    subdomain = name.replace("_", "-")
    for rel, content in FILES.items():
        path = folder / rel.replace(PLACEHOLDER, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = (content.replace("__SUBDOMAIN__", subdomain).replace("__DASHNAME__", subdomain)
                .replace(PLACEHOLDER, name))
        path.write_text(text, encoding="utf-8")
    return folder
