"""Plugins: the manifest model and discovery."""
