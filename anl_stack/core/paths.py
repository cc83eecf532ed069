"""Where anl-stack keeps its files: XDG folders for users, /var for root."""

from __future__ import annotations

import os
from pathlib import Path


def _is_root() -> bool:
    return os.geteuid() == 0


def _xdg(var: str, default: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / default


def state_dir() -> Path:
    """Lab hosts and other machine state (ANL_STACK_STATE_DIR overrides)."""
    if env := os.environ.get("ANL_STACK_STATE_DIR"):
        return Path(env)
    if _is_root():
        return Path("/var/lib/anl-stack")
    return _xdg("XDG_STATE_HOME", ".local/state") / "anl-stack"


def cache_dir() -> Path:
    """Downloaded artifacts, lab images (ANL_STACK_CACHE_DIR overrides)."""
    if env := os.environ.get("ANL_STACK_CACHE_DIR"):
        return Path(env)
    if _is_root():
        return Path("/var/cache/anl-stack")
    return _xdg("XDG_CACHE_HOME", ".cache") / "anl-stack"


def config_dir() -> Path:
    """Vault password files and user settings (ANL_STACK_CONFIG_DIR overrides)."""
    if env := os.environ.get("ANL_STACK_CONFIG_DIR"):
        return Path(env)
    return _xdg("XDG_CONFIG_HOME", ".config") / "anl-stack"


def project_root() -> Path:
    """The source tree holding plugins/ and playbooks/ (in-tree content)."""
    return Path(__file__).resolve().parents[2]


def shared_roles_dir() -> Path:
    """The shared roles (base, web, postgresql...) that plugins' playbooks use by name."""
    return project_root() / "playbooks" / "roles"


def shared_roles() -> list[str]:
    """Names of the shared roles: every folder of :func:`shared_roles_dir` holding tasks."""
    folder = shared_roles_dir()
    return sorted(d.name for d in folder.iterdir() if (d / "tasks").is_dir()) if folder.is_dir() else []
