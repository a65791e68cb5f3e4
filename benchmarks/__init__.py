"""Benchmarks of the lake, the feature build and Feast (see benchmarks/README.md)."""
