"""The outbox: a dry run that writes posts to a file instead of a network."""
