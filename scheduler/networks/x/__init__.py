"""X: the publisher, credentials, OAuth 2.0 and the text X rewrites."""
