"""The CLI's text output shows each post's length against its account's own network limit: "212/300" on
Bluesky, the server's max_characters on Mastodon, 280 on X (real subprocesses against the three stand-ins)."""

from __future__ import annotations

import re

import pytest

from scheduler.standins.bluesky import StandinBluesky
from scheduler.standins.mastodon import StandinMastodon
from scheduler.standins.x import StandinX
from tests.test_accounts_service import Three

TEXT = "Walk for ten minutes after lunch: it loosens a stiff back better than sitting still."


@pytest.fixture
def three(tmp_path):
    # A Mastodon server with a larger limit than stock: the CLI must show the server's, not 500.
    with StandinX() as x, StandinBluesky() as bsky, StandinMastodon(max_characters=1000) as masto:
        yield Three(tmp_path, x, bsky, masto)


@pytest.mark.parametrize(("account", "limit"), [("x", 280), ("bsky", 300), ("masto", 1000)])
def test_queue_add_show_and_preview_count_against_the_accounts_network(three, account, limit):
    added = three.cli("queue", "add", TEXT, "--account", account).stdout
    assert f"({len(TEXT)}/{limit})" in added, added
    post_id = re.search(r"queued (\S+) ", added).group(1)
    shown = three.cli("queue", "show", post_id, "--account", account).stdout
    assert shown.splitlines()[0].endswith(f"{len(TEXT)}/{limit}"), shown
    edited = three.cli("queue", "edit", post_id, "--text", TEXT + " Twice.", "--account", account).stdout
    assert f"edited ({len(TEXT) + 7}/{limit})" in edited, edited
    three.cli("queue", "add", "Pinned: " + TEXT, "--now", "--account", account)
    preview = three.cli("preview", "--account", account).stdout
    line = next(line for line in preview.splitlines() if "[pin" in line)
    assert line.endswith(f"{len(TEXT) + 8}/{limit}"), preview
    reviewed = three.cli("review", "show", post_id, "--account", account).stdout
    assert f"{len(TEXT) + 7}/{limit})" in reviewed.splitlines()[0], reviewed
    for other in {280, 300, 1000} - {limit}:
        assert f"/{other}" not in added + shown + edited + preview + reviewed


def test_compose_counts_against_the_accounts_network(three, tmp_path):
    seed = tmp_path / "article.md"
    seed.write_text("---\ntitle: Back Care at Work\nurl: https://clinic.example/back-care\n---\n\n"
                    "1. Stand up every half hour.\n\nSet a timer for thirty minutes and walk to the window and back "
                    "each time it rings; two minutes on your feet is enough.\n", encoding="utf-8")
    for account, limit in (("x", 280), ("bsky", 300), ("masto", 1000)):
        out = three.cli("compose", str(seed), "--account", account).stdout
        header = next(line for line in out.splitlines() if line.startswith("--- tip 1"))
        assert header.endswith(f"/{limit})"), (account, header)
