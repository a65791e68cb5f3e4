"""Data quality: table contracts, Great Expectations suites and the bridge to Dagster checks."""
