"""Adding content is all or nothing: a refused article or attachment leaves the queue as it was."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler.config import parse_config
from scheduler.domain.errors import DuplicateError, QueueError
from scheduler.articles.library import compose, import_articles
from scheduler.app.queueing import add_text
from scheduler.ledger.store import Store

POSTS = Path(__file__).parents[1] / "posts"
NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)


def test_an_import_refused_part_way_writes_no_article(tmp_path):
    """Two articles in one import: when the ledger refuses the second, the first is not kept either."""
    config = parse_config("[account]\nhandle = 'GleiberMD'\n[quota]\ndaily = 0\nmonthly = 0\n", source=None, env={"SCHEDULER_HOME": str(tmp_path)})
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    folder = tmp_path / "articles"
    folder.mkdir()
    seed = (POSTS / "massage-therapy-for-back-pain.md").read_text(encoding="utf-8")
    (folder / "a-first.md").write_text(seed.replace("massage-therapy-for-back-pain/", "first-copy/"))
    (folder / "b-second.md").write_text(seed.replace("massage-therapy-for-back-pain/", "second-copy/"))
    # Already queued: the very text the second article's first tip composes to.
    clash = compose(config, [folder / "b-second.md"])[0].posts[0].text
    queued = add_text(store, config, clash, NOW)

    with pytest.raises(DuplicateError, match=queued.post_id):
        import_articles(store, config, [folder], NOW)
    assert [p.post_id for p in store.queue_page(config.account)] == [queued.post_id]
    assert store.article(config.account, "a-first") is None


def test_an_attachment_that_is_not_an_image_is_refused_when_queued(tmp_path):
    config = parse_config("[account]\nhandle = 'GleiberMD'\n", source=None, env={"SCHEDULER_HOME": str(tmp_path)})
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    fake = tmp_path / "photo.png"
    fake.write_text("not a picture")
    with pytest.raises(QueueError, match=r"photo\.png: the content is not an image"):
        add_text(store, config, "With a picture", NOW, media=[fake])
    assert store.queue_page(config.account) == []


ARTICLES = Path(__file__).parent / "data" / "articles"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ('hashtags = ["Spine"]\nhashtags_from = ["tags"]', ["#BackPain", "#SleepHygiene"]),
        ('hashtags = ["Spine"]\nhashtags_from = ["categories", "tags"]', ["#SpineCare", "#Sleep", "#BackPain"]),
        ('hashtags = ["Spine"]', ["#Spine"]),  # not configured: the blog's tags stay metadata
    ],
)
def test_blog_tags_feed_hashtags_only_when_the_config_says_so(tmp_path, settings, expected):
    config = parse_config(f"[account]\nhandle = 'GleiberMD'\n[compose]\n{settings}\n", source=None, env={"SCHEDULER_HOME": str(tmp_path)})
    post = compose(config, [ARTICLES / "jekyll-post.md"])[0].posts[0]
    assert [word for word in post.text.split() if word.startswith("#")] == expected
