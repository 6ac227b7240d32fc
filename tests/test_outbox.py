"""OutboxPublisher: whole fsync'd lines, torn lines tolerated, posts readable back."""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timedelta, timezone

import pytest

from scheduler.networks.base import Rejected
from scheduler.networks.outbox.publisher import OutboxPublisher

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_post_is_one_json_line(outbox_publisher):
    first = outbox_publisher.create_post("Tip 1")
    second = outbox_publisher.create_post("Tip 2", reply_to=first)
    assert (first, second) == ("outbox-1", "outbox-2")
    records = lines(outbox_publisher.path)
    assert [r["text"] for r in records] == ["Tip 1", "Tip 2"]
    assert records[1]["reply_to"] == first
    assert set(records[0]) == {"id", "text", "reply_to", "media", "created_at"}
    assert outbox_publisher.path.read_bytes().endswith(b"\n")


def test_every_line_is_fsynced(outbox_publisher, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    outbox_publisher.create_post("a")
    outbox_publisher.create_post("b")
    assert len(synced) == 2


def test_ids_continue_after_restart(tmp_path):
    OutboxPublisher(tmp_path, "tipbot").create_post("before")  # a directory gets outbox.jsonl
    assert OutboxPublisher(tmp_path / "outbox.jsonl", "tipbot").create_post("after") == "outbox-2"


def test_torn_last_line_is_skipped_with_a_warning_and_next_post_stays_whole(outbox_publisher, caplog):
    outbox_publisher.create_post("whole")
    with outbox_publisher.path.open("a") as f:
        f.write('{"id": "outbox-2", "text": "cut sh')  # a kill mid-write
    with caplog.at_level(logging.WARNING):
        assert [p.text for p in outbox_publisher.recent_posts(T0 - timedelta(days=3650))] == ["whole"]
    assert "torn" in caplog.text
    outbox_publisher.create_post("next")
    assert [p.text for p in outbox_publisher.recent_posts(T0 - timedelta(days=3650))] == ["whole", "next"]


def test_recent_posts_round_trip(tmp_path):
    clock = iter([T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)])
    outbox = OutboxPublisher(tmp_path / "outbox.jsonl", "tipbot", clock=lambda: next(clock))
    ids = [outbox.create_post(f"post {n}") for n in range(3)]
    found = outbox.recent_posts(T0 + timedelta(hours=1))
    assert [p.tweet_id for p in found] == ids[1:]
    assert found[0].created_at == T0 + timedelta(hours=1)


def test_media_are_checked_and_recorded(outbox_publisher, tmp_path):
    image = tmp_path / "a.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 8)
    media_id = outbox_publisher.upload_media(image)
    outbox_publisher.create_post("pic", media_ids=(media_id,))
    assert lines(outbox_publisher.path)[0]["media"] == [str(image.resolve())]
    with pytest.raises(Rejected):
        outbox_publisher.upload_media(tmp_path / "missing.png")


@pytest.mark.parametrize("network, size, refused", [
    ("x", 6_000_000, "over X's 5 MB limit"),  # X's rules
    ("mastodon", 6_000_000, None),  # a stock Mastodon server takes 16 MiB
    ("mastodon", 17_000_000, "over Mastodon's limit of 16,777,216 bytes"),
    ("bluesky", 1_200_000, "over Bluesky's limit of 1,000,000 bytes"),
])
def test_a_dry_run_holds_images_to_the_accounts_networks_size_limit(tmp_path, network, size, refused):
    image = tmp_path / "big.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(size - 8))
    outbox = OutboxPublisher(tmp_path / "outbox.jsonl", "tipbot", network=network)
    if refused is None:
        assert outbox.upload_media(image).startswith("outbox-media-")
    else:
        with pytest.raises(Rejected, match=refused):
            outbox.upload_media(image)


def test_post_url_points_at_the_line(outbox_publisher):
    post_id = outbox_publisher.create_post("x")
    assert outbox_publisher.post_url(post_id) == outbox_publisher.path.resolve().as_uri() + "#outbox-1"


def test_empty_post_is_rejected(outbox_publisher):
    with pytest.raises(Rejected):
        outbox_publisher.create_post("   ")


def test_each_account_has_its_own_outbox_and_the_x_account_on_the_default_prefix_keeps_the_single_account_files(
        tmp_path, monkeypatch):
    """What the README's Accounts section says: outbox-<name>.jsonl, but an X account reading the usual X_...
    variables keeps outbox.jsonl and x-tokens.json, so moving a single [account] into [[accounts]] keeps them."""
    from scheduler.config import parse_config
    from scheduler.networks.factory import outbox_path, token_file

    monkeypatch.setenv("SCHEDULER_HOME", str(tmp_path))
    root = parse_config("""
[[accounts]]
name = "clinic"
handle = "tipbot"

[[accounts]]
name = "second"
handle = "tipbot2"
credentials_env = "SECOND_X"

[[accounts]]
name = "bsky"
network = "bluesky"
handle = "tipbot.bsky.social"
""", source=None)
    outboxes = {name: outbox_path(root.for_account(name)) for name in ("clinic", "second", "bsky")}
    assert {name: path.name for name, path in outboxes.items()} == {
        "clinic": "outbox.jsonl", "second": "outbox-second.jsonl", "bsky": "outbox-bsky.jsonl"}
    assert all(path.parent == root.data_dir for path in outboxes.values())
    tokens = {name: token_file(root.for_account(name)).name for name in ("clinic", "second")}
    assert tokens == {"clinic": "x-tokens.json", "second": "x-tokens-second.json"}
