"""The fast suite keeps to its temporary folders.

anl-stack writes under its state, cache and config folders
(``anl_stack.core.paths``): lab hosts, the ``plugins list`` cache, artifacts,
vault password files. Run as root these are /var/lib/anl-stack and
/var/cache/anl-stack, the very folders a lab run on the same machine uses.
Every unit test therefore gets its own three folders, set through the
environment so that the subprocesses it starts inherit them; a test that
needs other folders (``isolated_dirs``, its own ``ANL_STACK_CACHE_DIR``...)
sets them over these. ``tests/unit/test_isolation.py`` shows it holds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

#: The variables that move anl-stack's folders, and their subfolder names here.
FOLDER_VARIABLES = {"ANL_STACK_STATE_DIR": "state", "ANL_STACK_CACHE_DIR": "cache",
                    "ANL_STACK_CONFIG_DIR": "config"}
#: Variables that move one folder under the cache elsewhere (a removable disk...).
MOVED_FOLDER_VARIABLES = ("ANL_STACK_ARTIFACTS_DIR",)

#: The environment the suite was started with, before any fixture changed it.
STARTING_ENVIRONMENT = dict(os.environ)


def _point_into(base: Path, setenv: object) -> dict[str, Path]:
    folders = {}
    for variable, name in FOLDER_VARIABLES.items():
        folder = base / name
        folder.mkdir(parents=True, exist_ok=True)
        setenv(variable, str(folder))  # type: ignore[operator]
        folders[variable] = folder
    return folders


@pytest.fixture(scope="session", autouse=True)
def _session_anl_folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """For module- and session-scoped fixtures, which run before the per-test folders exist."""
    with pytest.MonkeyPatch.context() as patch:
        _point_into(tmp_path_factory.mktemp("anl-session-folders"), patch.setenv)
        for variable in MOVED_FOLDER_VARIABLES:
            patch.delenv(variable, raising=False)
        yield


@pytest.fixture(autouse=True)
def anl_folders(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Fresh state, cache and config folders for each test (outside its ``tmp_path``)."""
    for variable in MOVED_FOLDER_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return _point_into(tmp_path_factory.mktemp("anl-folders"), monkeypatch.setenv)
