"""Benchmark project for autoaudit (not part of the installed package)."""
