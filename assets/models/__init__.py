"""Training, evaluation and promotion of the delay models."""
