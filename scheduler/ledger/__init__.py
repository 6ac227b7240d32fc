"""The ledger: the only package that speaks SQL. It stores what the layers above decided, and holds no rule of its own.

Public surface (everything else is internal to the package):

- ``store.Store``: the one facade, ``Store.open(url)``; every public method is one transaction, and ``unit()`` makes
  many calls one. Its methods come from one mixin per aggregate:
  ``accounts`` (pause state, revision, the plain post ids), ``articles`` (imports merged into the queue, articles
  taken out and put back), ``posts`` (adding, editing, reading, ordering, pinning, removing), ``attempts`` (claims,
  attempts, publish keys, settling, ``resolve``), ``lookups`` (failed look-ups counted), ``instances``
  (heartbeats), ``feeds``, ``review`` (approvals, the decision log, reviewer links, notices) and ``web`` (users,
  tokens, sessions, sign-in limits, the audit trail).
- ``records``: what the store hands out (``PostRecord``, ``AttemptRecord``, ``ImportReport``, ``NewPost``...) and
  its exceptions (``LostClaim``, ``NotApproved``).
- ``post_ids``: which account's posts keep the plain ids.
- ``migrations``: the schema as an ordered list of migrations, run by ``Store.open``.
- ``engine``: opening SQLite or PostgreSQL, and the unit of work.
- ``turns``: whose turn it is to publish an account among the services on one PostgreSQL ledger (``store.turns``).
- ``notify``: the listener that hears each change of an account's queue on PostgreSQL (migration m018).
"""
