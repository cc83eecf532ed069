"""Runs of any lifecycle step: targets, preparation (every refusal before a change), the engine, run events."""
