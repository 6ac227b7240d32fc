"""The command line: thin commands over the application functions."""
