"""The all-accounts reads and writes a service over many accounts makes (issue 22), on SQLite and PostgreSQL: one
heartbeat write for every account's instance, every revision in one read, which accounts have work or notices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scheduler.domain.models import PostState
from scheduler.ledger.review import NewNotice
from tests.helpers_ledger import new_post

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)


def test_one_heartbeat_write_for_many_instances(store):
    beats = [(f"host:1:ab:acct{n}", f"acct{n}", None) for n in range(1200)]  # more than one IN list
    store.beat_many(beats, 4242, "host", NOW)
    for n in (0, 599, 1199):
        [record] = store.instances(f"acct{n}")
        assert (record.instance, record.pid, record.host, record.stopped_at) == (f"host:1:ab:acct{n}", 4242, "host", None)
        assert record.last_outcome is None
    # A stopped instance is alive again with its next beat; an outcome given is recorded, None keeps the last one.
    store.stop_instance("host:1:ab:acct5", NOW)
    store.beat_many([("host:1:ab:acct5", "acct5", "p1 sent at 15:00"), ("host:1:ab:acct6", "acct6", None)],
                    4242, "host", NOW + timedelta(seconds=5))
    store.beat_many([("host:1:ab:acct5", "acct5", None)], 4242, "host", NOW + timedelta(seconds=10))
    [five] = store.instances("acct5")
    assert five.stopped_at is None and five.last_outcome == "p1 sent at 15:00"
    [seven] = store.instances("acct7")
    [six] = store.instances("acct6")
    assert six.beat_at > seven.beat_at or store.engine.dialect.name == "postgresql"  # PG beats on its own clock


def test_revisions_and_the_accounts_with_work_in_one_read(store):
    assert store.revisions() == {}
    store.add_post("a", new_post("a1"), NOW)
    store.add_post("b", new_post("b1"), NOW)
    store.add_post("c", new_post("c1"), NOW)
    revisions = store.revisions()
    assert set(revisions) == {"a", "b", "c"}
    assert all(revisions[account] == store.revision(account) for account in "abc")
    store.pause("b", "testing", NOW)
    assert store.revisions()["b"] == revisions["b"] + 1
    assert store.accounts_with_posts([PostState.QUEUED]) == {"a", "b", "c"}
    assert store.accounts_with_posts([PostState.SENDING]) == set()
    assert store.claim_post("a1", "me", NOW, NOW) is not None
    assert store.accounts_with_posts([PostState.SENDING]) == {"a"}
    assert store.accounts_with_posts(["queued", "sending"]) == {"a", "b", "c"}


def test_accounts_with_notices_due(store):
    assert store.accounts_with_due_notices(NOW) == set()
    assert store.add_notices("a", [NewNotice("awaiting review", "email", "awaiting:p1:h", {"post_id": "p1"})], NOW) == 1
    assert store.accounts_with_due_notices(NOW) == {"a"}
    assert store.accounts_with_due_notices(NOW - timedelta(seconds=1)) == set()
