"""Verify an installation: plan (what runs where), run (testinfra), result (the report schema), reports."""
