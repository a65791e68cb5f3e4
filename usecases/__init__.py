"""Use cases: each a definition the lifecycle kit (`assets/kit/`) builds an asset graph from."""
