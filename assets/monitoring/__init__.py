"""Monitoring: drift and live performance per day, the numbers the retrain sensor acts on."""
