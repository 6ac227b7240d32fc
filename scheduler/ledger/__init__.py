"""The ledger: the only package that speaks SQL. It stores what the domain decided."""
