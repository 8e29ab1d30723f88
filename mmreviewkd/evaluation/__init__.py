"""Evaluation metrics (registry location)."""
