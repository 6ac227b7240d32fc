"""Bluesky: the publisher."""
