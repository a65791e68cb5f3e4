"""The streaming path: departure, arrival and weather events keep the online store fresh."""
