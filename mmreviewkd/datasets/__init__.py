"""Datasets and transforms (registry location)."""
