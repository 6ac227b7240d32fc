"""Application functions the CLI and the dashboard both call: editing, queueing, views."""
