"""Thin absl command-line tools over the library: one module per console script (see setup.py)."""
