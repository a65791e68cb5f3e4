"""Use cases: each a definition the lifecycle kit (`assets/kit/`) builds a whole asset graph from."""
