"""Plugins: discovery and the manifest model.

Importing this package is cheap: the manifest model (pydantic) is loaded
only when a manifest is read.
"""

from anl_stack.plugins.discovery import (
    ENTRY_POINT_GROUP,
    PATH_ENV,
    Plugin,
    discover_plugins,
    get_plugin,
    require_loaded,
    require_recipe,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "PATH_ENV",
    "Plugin",
    "discover_plugins",
    "get_plugin",
    "require_loaded",
    "require_recipe",
]
