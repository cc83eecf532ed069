"""The cost model (``anl-stack plugins cost``): assumptions from the plugins, pure arithmetic."""
