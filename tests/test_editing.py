"""Editing in the ledger, on SQLite and PostgreSQL: what a person changes stays changed, and nothing an edit or a
removal does can put a post on X twice. (The same scenarios through the command line: test_cli_editing.py.)"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.app import editing
from scheduler.ledger import migrations as m
from scheduler.config import parse_config
from scheduler.domain.errors import DuplicateError, QueueError
from scheduler.articles.library import import_articles
from scheduler.ledger.store import Store
from scheduler.text.x_length import MAX_WEIGHTED_LENGTH, is_valid, weighted_length

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
POSTS = Path(__file__).parents[1] / "posts"
KEY = "massage-therapy-for-back-pain"


@pytest.fixture
def config(tmp_path):
    return parse_config("[account]\nhandle = 'GleiberMD'\n[quota]\ndaily = 0\nmonthly = 0\n", source=None, env={"SCHEDULER_HOME": str(tmp_path)})


@pytest.fixture
def imported(store, config):
    import_articles(store, config, [POSTS], T0)
    return store


def send(store: Store, post_id: str, at: datetime) -> None:
    assert store.claim(post_id, "i1", at, at)
    store.mark_sent(post_id, "i1", ["1001"], at)


def test_an_older_ledger_gains_the_editing_columns_and_keeps_its_posts(ledger_url, config):
    """A ledger migrated before editing existed: reopening adds what editing needs, posts untouched."""
    store = Store.open(ledger_url)
    import_articles(store, config, [POSTS], T0)
    with store.engine.begin() as conn:
        for table, column in (("posts", "edited_at"), ("posts", "edit_kind"), ("articles", "removed_at")):
            conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(m.schema_migrations.delete().where(m.schema_migrations.c.name == "m008_editing"))
    store.close()

    again = Store.open(ledger_url)
    try:
        with again.engine.connect() as conn:
            assert {"edited_at", "edit_kind"} <= {c["name"] for c in sa.inspect(conn).get_columns("posts")}
            assert "removed_at" in {c["name"] for c in sa.inspect(conn).get_columns("articles")}
        assert len(again.queue_page(config.account)) == 5
        editing.edit_text(again, config, f"{KEY}-2", "Check with your doctor before any massage.", T0)
        assert again.get(f"{KEY}-2").edit_kind == "text"
        # The ledger itself refuses an edit kind it does not know.
        with pytest.raises(sa.exc.IntegrityError), again.engine.begin() as conn:
            conn.execute(m.posts.update().where(m.posts.c.post_id == f"{KEY}-3").values(edit_kind="magic"))
    finally:
        again.close()


def test_an_edit_is_refused_when_it_would_repeat_another_post(imported, config):
    other = imported.get(f"{KEY}-1").text
    with pytest.raises(DuplicateError, match=f"{KEY}-1"):
        editing.edit_text(imported, config, f"{KEY}-2", other, T0)
    # Its own text is not a duplicate of itself.
    own = imported.get(f"{KEY}-2").text
    assert editing.edit_text(imported, config, f"{KEY}-2", own, T0).edit_kind == "text"


def test_only_waiting_posts_can_be_edited_or_removed(imported, config):
    send(imported, f"{KEY}-1", T0)
    with pytest.raises(QueueError, match="is sent"):
        editing.edit_text(imported, config, f"{KEY}-1", "Too late", T0)
    with pytest.raises(QueueError, match="is sent"):
        editing.remove(imported, config, f"{KEY}-1", T0)
    with pytest.raises(QueueError, match="no post"):
        editing.edit_text(imported, config, "nope-1", "Text", T0)
    # A post whose last attempt lost its answer may be on X already: hands off until it is settled.
    assert imported.claim(f"{KEY}-2", "i1", T0, T0)
    imported.mark_retrying(f"{KEY}-2", "i1", T0 + timedelta(minutes=1), T0, error="timeout", status=None,
                           count_attempt=True)
    with imported.engine.begin() as conn:
        conn.execute(m.posts.update().where(m.posts.c.post_id == f"{KEY}-2").values(uncertain=True))
    with pytest.raises(QueueError, match="may already be live"):
        editing.edit_text(imported, config, f"{KEY}-2", "Changed", T0)


def test_switching_variant_recomposes_the_tip_and_the_choice_survives_reimport(imported, config):
    before = imported.get(f"{KEY}-4")
    names = editing.show(imported, config, f"{KEY}-4", T0).variants
    target = 1 if before.variant != 0 else 2
    after = editing.switch_variant(imported, config, f"{KEY}-4", target, T0)
    assert after.template == names[target - 1] and after.text != before.text and after.edit_kind == "variant"
    import_articles(imported, config, [POSTS], T0 + timedelta(hours=1))
    assert imported.get(f"{KEY}-4").text == after.text
    with pytest.raises(QueueError, match="no variant 9"):
        editing.switch_variant(imported, config, f"{KEY}-4", 9, T0)
    adhoc = imported.add_post(config.account, _adhoc("Walk ten minutes after every meal."), T0)
    with pytest.raises(QueueError, match="written by hand"):
        editing.switch_variant(imported, config, adhoc.post_id, 1, T0)


def test_removing_an_article_spares_what_went_out_and_stops_its_recycling(imported, config):
    send(imported, f"{KEY}-1", T0)
    taken = editing.remove_article(imported, config, KEY, T0)
    assert taken == [f"{KEY}-{n}" for n in range(2, 6)]
    assert imported.queue_page(config.account) == []
    assert [p.post_id for p in imported.history(config.account)] == [f"{KEY}-1"]
    assert imported.article(config.account, KEY)["removed_at"] is not None
    # Evergreen recycling reads its tips from the article: a removed article's tips do not come back.
    from scheduler.planning import evergreen

    recycling = parse_config("[account]\nhandle = 'GleiberMD'\n[queue]\nevergreen = true\nevergreen_cooldown = \"1d\"\n", source=None,
                             env={"SCHEDULER_HOME": str(config.data_dir)})
    assert evergreen.candidates(imported, recycling, T0 + timedelta(days=200), limit=5) == []
    assert [p.post_id for p in editing.removed_posts(imported, config)] == taken
    back = editing.restore_article(imported, config, KEY, T0)
    assert back == taken
    assert [p.post_id for p in imported.queue_page(config.account)] == taken
    assert imported.article(config.account, KEY)["removed_at"] is None


def _adhoc(text: str):
    from scheduler.ledger.store import NewPost

    return NewPost(post_id="adhoc-1", kind="adhoc", text=text, parts=(text,), weighted_length=len(text))


TEXTS = st.text(max_size=400) | st.sampled_from(["", " ", "x" * 281, "\ufffe", "a\u0000b", "🙂" * 141, "ok"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXTS, second=st.none() | TEXTS)
def test_any_edit_is_stored_as_x_will_take_it_or_refused_leaving_the_post_as_it_was(sqlite_store, config, text,
                                                                                       second):
    store = sqlite_store
    if not store.queue_page(config.account):
        store.add_post(config.account, _adhoc("The post before any edit."), T0)
    before = store.get("adhoc-1")
    parts = [text] if second is None else [text, second]
    try:
        record = editing.edit_text(store, config, "adhoc-1", parts, T0)
    except QueueError:
        assert store.get("adhoc-1") == before
        return
    assert list(record.parts) == [p.strip() for p in parts]
    assert record.text == record.parts[0] and record.weighted_length == weighted_length(record.text)
    for part in record.parts:
        assert is_valid(part) and weighted_length(part) <= MAX_WEIGHTED_LENGTH
    editing.edit_text(store, config, "adhoc-1", list(before.parts), T0)  # back, for the next example


def test_front_matter_the_scheduler_does_not_use_is_kept_with_the_article(store, tmp_path):
    """Issue 13: `author`, `date`, `layout`, `categories`... are accepted and kept as the article's metadata."""
    from datetime import UTC, datetime
    from pathlib import Path

    from scheduler.config import parse_config
    from scheduler.articles.library import import_articles

    config = parse_config('[account]\nhandle = "tipbot"\n', source=None, env={"SCHEDULER_HOME": str(tmp_path)})
    source = Path(__file__).parent / "data" / "articles" / "jekyll-post.md"
    import_articles(store, config, [source], datetime(2026, 3, 15, tzinfo=UTC))
    [article] = store.articles(config.account)
    assert article.metadata["author"] == "Dr. Gleiber"
    assert article.metadata["layout"] == "post"
    assert article.metadata["categories"] == ["spine care", "sleep"]
    assert article.metadata["date"].startswith("2026-03-14")  # a YAML date, kept as its text
    assert "title" not in article.metadata  # what the scheduler uses lives in its own columns
