"""The prediction service (BentoML). Never imports Dagster: it runs where Dagster is not."""
