"""Mortgage denial: will a Boston mortgage application be denied? (HMDA, 1990)."""
