"""The production profile on one machine: `make prod-up` / `make prod-down` (python -m)."""
