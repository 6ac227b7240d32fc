"""Turn articles made of numbered tips into posts on X, published on a calendar."""

__version__ = "0.1.0"
