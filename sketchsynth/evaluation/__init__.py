"""Held-out evaluation: splits, metrics, reports."""
