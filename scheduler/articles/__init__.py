"""Articles in: reading formats, finding tips, what a tip says, fetching pages, feeds, the library."""
