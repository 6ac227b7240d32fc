"""Composing posts: templates, the composer, evergreen wordings."""
