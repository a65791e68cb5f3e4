"""What people run: the `flightpath` CLI, the loop, the story, the production processes."""
