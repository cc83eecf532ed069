"""Every manifest field is documented, in English and in French."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from anl_stack.plugins import manifest as m

# Shared value types, documented once in the "common types" section.
COMMON_TYPES = (m.Localized, m.NumberFact, m.ValueFact, m.IdFact, m.TextFact)


def _models(annotation: object) -> list[type[BaseModel]]:
    return m._unwrap(annotation)


def _is_list(annotation: object) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_list(typing.get_args(annotation)[0])
    if origin in (typing.Union, __import__("types").UnionType):
        return any(_is_list(a) for a in typing.get_args(annotation))
    return origin is list


def field_paths(model: type[BaseModel] = m.Manifest, prefix: str = "") -> list[str]:
    """Dotted paths of every field (lists written ``name[]``), not entering common types."""
    paths = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        path = f"{prefix}{key}"
        paths.append(path)
        for sub in _models(info.annotation):
            if sub not in COMMON_TYPES:
                paths += field_paths(sub, path + ("[]." if _is_list(info.annotation) else "."))
    return paths


def common_type_fields() -> set[str]:
    return {info.alias or name for t in COMMON_TYPES for name, info in t.model_fields.items()}


def test_walk_finds_nested_fields() -> None:
    paths = field_paths()
    assert "facts.sizing[].audience" in paths
    assert "deployment.artifacts[].signature.fingerprint" in paths
    assert "platforms.debian-13.app_versions" in paths
    assert common_type_fields() == {"fr", "en", "value", "source", "checked", "dated", "url", "notes"}


@pytest.mark.parametrize("doc", ["docs/manifest.md", "docs/manifest.fr.md"])
def test_every_field_is_documented(project_root: Path, doc: str) -> None:
    text = (project_root / doc).read_text(encoding="utf-8")
    missing = [p for p in field_paths() if f"`{p}`" not in text]
    missing += [f for f in sorted(common_type_fields()) if f"`{f}`" not in text]
    assert not missing, f"{doc} does not document: {', '.join(missing)}"
