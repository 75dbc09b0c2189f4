"""The demo on the bundled example data."""
