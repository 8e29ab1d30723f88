"""Visualisation helpers (none yet; the registries point here)."""
