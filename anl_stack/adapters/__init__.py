"""Adapters: the only modules that touch the outside world.

Each wraps one external tool (systemd-nspawn, nft, ansible-runner, ...) and
turns its failures into :mod:`anl_stack.core.errors` errors. Services above them
never call those tools directly.
"""
