"""Flightpath: the command line and the replay feed around the Dagster code location."""
