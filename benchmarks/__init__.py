"""Performance targets, measured (not asserted): `python -m benchmarks` prints one table."""
