"""The roles of dashboard users and API tokens: an editor writes and edits, a reviewer also approves (or requests
changes), an admin does everything. The command line acts with the ledger in hand, as an admin. (The ledger checks
them too: migration m012a's CHECK constraints.)"""

ROLES = ("editor", "reviewer", "admin")
