"""Data-quality contracts and rules: what a landed table must hold, and what breaking it costs."""
