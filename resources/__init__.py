"""Dagster resources: the data home, the landing zone and the Parquet lake."""
