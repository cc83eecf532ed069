"""The catalog decision-makers read: fiches, comparisons and the plugin listing with quality levels."""
