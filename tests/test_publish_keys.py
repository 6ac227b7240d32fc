"""The ledger keeps each part's idempotency key from before its first call (m007), one key per post part,
never the same key for two posts, on SQLite and PostgreSQL."""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa

from scheduler.publishing.engine import PublishingEngine, RetryPolicy
from scheduler.ledger.store import LostClaim
from tests.helpers_ledger import ACCOUNT, new_post


def claimed(store, post_id, clock, instance="me"):
    store.add_post(ACCOUNT, new_post(post_id), clock())
    assert store.claim(post_id, instance, clock(), clock())


def test_the_first_key_stored_for_a_part_is_the_one_kept(store, fake_clock):
    claimed(store, "p", fake_clock)
    assert store.keep_publish_key("p", "me", 0, "key-a", fake_clock()) == "key-a"
    assert store.keep_publish_key("p", "me", 0, "key-b", fake_clock()) == "key-a"  # a retry, a restart: same key
    assert store.keep_publish_key("p", "me", 1, "key-c", fake_clock()) == "key-c"
    assert store.publish_keys("p") == {0: "key-a", 1: "key-c"}


def test_no_two_posts_share_a_key_and_only_the_claim_holder_stores_one(store, fake_clock):
    claimed(store, "p", fake_clock)
    claimed(store, "q", fake_clock)
    store.keep_publish_key("p", "me", 0, "shared", fake_clock())
    with pytest.raises(sa.exc.IntegrityError):
        store.keep_publish_key("q", "me", 0, "shared", fake_clock())
    with pytest.raises(LostClaim):
        store.keep_publish_key("q", "someone-else", 0, "other", fake_clock())
    assert store.publish_keys("q") == {}


def test_x_and_the_outbox_store_no_key(sqlite_store, x_publisher, standin, fake_clock):
    sqlite_store.add_post(ACCOUNT, new_post("p", "no key on X"), fake_clock())
    engine = PublishingEngine(sqlite_store, x_publisher, account=ACCOUNT, instance="me", policy=RetryPolicy(),
                              clock=fake_clock, rng=random.Random(1))
    assert engine.publish("p", None).state == "sent"
    assert sqlite_store.publish_keys("p") == {}
