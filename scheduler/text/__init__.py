"""Each network's length and rich-text rules: what a post may hold, measured as the network measures it."""
