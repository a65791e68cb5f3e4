"""The delay models: features, training, registry, metrics. No Dagster: the service uses it."""
