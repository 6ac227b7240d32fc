"""The plan built from the ledger: the agenda, its cache and the .ics export."""
