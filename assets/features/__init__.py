"""Features: point-in-time flight features in DuckDB, registered in Feast."""
