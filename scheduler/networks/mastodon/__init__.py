"""Mastodon: the publisher."""
