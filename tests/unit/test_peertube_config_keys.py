"""The peertube upgrade step's comparison of configuration keys
(plugins/peertube/roles/peertube/filter_plugins/peertube_config.py), loaded from its file.

The step reads both releases' production.yaml.example and the production.yaml the
recipe rendered on the server; here the same comparison runs on parsed documents,
one of them the production.yaml the recipe's template renders.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROLE = Path(__file__).resolve().parents[2] / "plugins/peertube/roles/peertube"

OLD_EXAMPLE = yaml.safe_load("""
listen: {hostname: 127.0.0.1, port: 9000}
webserver: {https: true, hostname: example.com, port: 443}
secrets: {peertube: ''}
storage: {tmp: /var/www/peertube/storage/tmp/}
trust_proxy: [loopback]
old_feature: {enabled: true}
""")
NEW_EXAMPLE = yaml.safe_load("""
listen: {hostname: 127.0.0.1, port: 9000}
webserver: {https: true, hostname: example.com, port: 443}
secrets: {peertube: ''}
storage: {tmp: /var/www/peertube/storage/tmp/, uploads: /var/www/peertube/storage/uploads/}
trust_proxy: [loopback]
video_studio: {enabled: false, remote_runners: {enabled: false}}
""")


@pytest.fixture(scope="module")
def config() -> ModuleType:
    spec = importlib.util.spec_from_file_location("peertube_config", ROLE / "filter_plugins/peertube_config.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_keys_are_the_leaves(config: ModuleType) -> None:
    assert config.peertube_config_keys(OLD_EXAMPLE) == [
        "listen.hostname", "listen.port", "old_feature.enabled", "secrets.peertube", "storage.tmp", "trust_proxy",
        "webserver.hostname", "webserver.https", "webserver.port"]
    assert config.peertube_config_keys(None) == [] and config.peertube_config_keys({"a": {}}) == ["a"]


def test_new_keys_the_rendered_file_lacks_and_dropped_keys(config: ModuleType) -> None:
    production = {"listen": {"port": 9000}, "webserver": {"hostname": "video.exemple.fr"},
                  "storage": {"tmp": "/x/"}, "old_feature": {"enabled": False}, "trust_proxy": ["loopback"]}
    changes = config.peertube_config_changes(NEW_EXAMPLE, OLD_EXAMPLE, production)
    # Only what the new release brings: keys already in the old example are not reported again.
    assert changes == {"added": ["storage.uploads", "video_studio.enabled", "video_studio.remote_runners.enabled"],
                       "dropped": ["old_feature.enabled"]}


def test_a_key_set_by_production_yaml_is_not_reported(config: ModuleType) -> None:
    production = {"storage": {"tmp": "/x/", "uploads": "/y/"}, "video_studio": {"enabled": True,
                                                                                "remote_runners": {"enabled": False}}}
    assert config.peertube_config_changes(NEW_EXAMPLE, OLD_EXAMPLE, production)["added"] == []


def test_same_examples_report_nothing_for_the_recipe_template(config: ModuleType) -> None:
    """The production.yaml the recipe renders, against one example twice: nothing added; dropped are the
    rendered keys that example lacks (none, if the template keeps to the example's keys)."""
    import jinja2
    from ansible.plugins.filter.core import to_bool

    values: dict[str, Any] = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    values.update(yaml.safe_load((ROLE / "vars/main.yml").read_text()))
    values.update({"ansible_managed": "test", "peertube_domain": "video.exemple.fr", "peertube_secret": "0" * 64,
                   "peertube_db_password": "x", "peertube_storage_dir": "/var/www/peertube/storage",
                   "peertube_db_user": "peertube", "peertube_threads": 1, "peertube_instance_name": "V",
                   "peertube_instance_description": "x", "peertube_admin_email": "a@exemple.fr",
                   "peertube_smtp_from": "n@e.fr"})
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    environment.filters.update(to_json=json.dumps, bool=to_bool)
    production = yaml.safe_load(environment.from_string((ROLE / "templates/production.yaml.j2").read_text())
                                .render(**values))
    keys = config.peertube_config_keys(production)
    example = {}
    for key in keys:  # an example holding exactly the rendered keys
        node = example
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = None
    assert config.peertube_config_changes(example, example, production) == {"added": [], "dropped": []}
    trimmed = json.loads(json.dumps(example))
    del trimmed["webserver"]["port"]
    assert config.peertube_config_changes(trimmed, example, production)["dropped"] == ["webserver.port"]
