"""Flightpath's library: models, monitoring, streaming, the feed and the files, without Dagster.

Nothing here imports Dagster or the packages above it (`resources`, `assets`, `pipelines`,
`apps`); tests/test_layers.py holds the rule.
"""
