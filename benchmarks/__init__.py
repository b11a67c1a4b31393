"""Benchmarks: scripts that print figures and charts (never timed tests), run as modules from
the repository root: `.venv/bin/python -m benchmarks.NAME`."""
