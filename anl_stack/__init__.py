"""anl-stack: deploy, verify and share the self-hosted tools communes run together."""

__version__ = "0.1.0"
