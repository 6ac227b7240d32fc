"""Editing the queue through the command line, as a person does it, and re-imports that respect those edits.

Each scenario runs `python -m scheduler ...` in subprocesses on a real ledger, and sends with the real service
(into the outbox) where a post must have gone out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.test_cli import ARTICLE, CLI

pytestmark = pytest.mark.slow

KEY = "massage-therapy-for-back-pain"
IDS = [f"{KEY}-{n}" for n in range(1, 6)]
URL_LINE = "url: https://www.gleibermd.com/blog/massage-therapy-for-back-pain/\n"


@pytest.fixture
def cli(tmp_path) -> CLI:
    return CLI(tmp_path)


def article_copy(tmp_path: Path, *, url: bool = True, edit=lambda text: text) -> Path:
    """The seed article as a file of our own, with or without its URL, changed by ``edit``."""
    text = ARTICLE.read_text(encoding="utf-8")
    if not url:
        assert URL_LINE in text
        text = text.replace(URL_LINE, "")
    folder = tmp_path / "library"
    folder.mkdir(exist_ok=True)
    path = folder / ARTICLE.name
    path.write_text(edit(text), encoding="utf-8")
    return path


def send_now(cli: CLI, post_id: str) -> dict:
    """Pin a post a few seconds ahead and let the real service send it into the outbox."""
    at = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    cli.run("queue", "pin", post_id, "--at", at.isoformat())
    proc = subprocess.Popen([sys.executable, "-m", "scheduler", "serve"], env=cli.env, cwd=cli.tmp,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            sent = [p for p in cli.json("history") if p["post_id"] == post_id and p["state"] == "sent"]
            if sent:
                return sent[0]
            time.sleep(0.5)
        raise AssertionError(f"{post_id} was not sent within 60 s")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_adding_a_url_after_a_tip_went_out_queues_nothing_again(cli, tmp_path):
    """The exact scenario: import, send tip 1, add `url:` to the front matter, re-import."""
    path = article_copy(tmp_path, url=False)
    first = cli.json("import", str(path))[0]
    assert first["article"] == KEY and first["added"] == IDS
    assert any("no URL" in w for w in first["warnings"])
    send_now(cli, IDS[0])

    article_copy(tmp_path, url=True)
    again = cli.json("import", str(path))[0]
    assert again["article"] == KEY
    assert again["added"] == []
    assert IDS[0] in again["kept_sent"]  # its text now would carry the link; the sent post stays history
    assert sorted(again["updated"]) == IDS[1:]  # the unsent ones now link to the article
    assert cli.queue_ids() == IDS[1:]
    assert all("gleibermd.com" in p["text"] for p in cli.json("queue", "list"))
    assert [p["post_id"] for p in cli.json("history")] == [IDS[0]]

    # A new title, too, leaves the article what it was.
    article_copy(tmp_path, edit=lambda text: text.replace('title: "Massage Therapy for Back Pain: 5 Things You '
                                                          'Should Know"', 'title: "Five Facts About Massage"'))
    retitled = cli.json("import", str(path))[0]
    assert retitled["article"] == KEY and retitled["added"] == []
    assert cli.queue_ids() == IDS[1:]


def test_a_ledger_written_before_ids_keeps_its_keys(cli, tmp_path):
    """Articles imported by older versions were keyed by their URL's last segment, else their title."""
    path = article_copy(tmp_path, url=False)
    cli.run("import", str(path))
    # Make the ledger look as an older version left it: keyed by the title's slug.
    import sqlalchemy as sa

    old_key = "massage-therapy-for-back-pain-5-things-you-shoul"  # the title's slug, cut at 48 characters
    engine = sa.create_engine(f"sqlite:///{cli.home / 'ledger.sqlite3'}")
    with engine.begin() as conn:
        for n in range(1, 6):
            conn.execute(sa.text("UPDATE posts SET post_id = :new, article_key = :key WHERE post_id = :old"),
                         {"new": f"{old_key}-{n}", "key": old_key, "old": f"{KEY}-{n}"})
        conn.execute(sa.text("UPDATE articles SET article_key = :key, source = 'elsewhere.txt'"), {"key": old_key})
    engine.dispose()

    article_copy(tmp_path, url=True)
    again = cli.json("import", str(path))[0]
    assert again["article"] == old_key and again["added"] == []
    assert cli.queue_ids() == [f"{old_key}-{n}" for n in range(1, 6)]


def test_edits_are_checked_recorded_and_kept_by_reimports(cli, tmp_path):
    path = article_copy(tmp_path)
    cli.run("import", str(path))

    shown = cli.json("queue", "show", IDS[1])
    assert shown["post_id"] == IDS[1] and shown["state"] == "queued"
    assert shown["article"] == KEY and shown["tip"] == 2 and shown["article_title"].startswith("Massage Therapy")
    assert shown["template"].startswith("tip/") and len(shown["variants"]) >= 3
    assert shown["planned_at"] and shown["edited_at"] is None
    text_view = cli.run("queue", "show", IDS[1]).stdout
    assert shown["text"].splitlines()[0] in text_view and "planned:" in text_view and "template:" in text_view

    # Bad edits are refused and change nothing.
    long = cli.run("queue", "edit", IDS[2], "--text", "x" * 290, ok=False)
    assert "290" in long.stderr and "shorten it by 10" in long.stderr
    first_text = cli.json("queue", "show", IDS[0])["text"]
    dup = cli.run("queue", "edit", IDS[2], "--text", first_text, ok=False)
    assert IDS[0] in dup.stderr and "already" in dup.stderr
    assert cli.run("queue", "edit", IDS[2], ok=False).returncode == 2  # no way of editing given
    assert cli.json("queue", "show", IDS[2])["edited_at"] is None

    # A new text, then a thread.
    mine = "Massage eases soft tissue injuries: better blood flow brings the nutrients sore muscles need."
    out = cli.run("queue", "edit", IDS[2], "--text", mine).stdout
    assert IDS[2] in out
    edited = cli.json("queue", "show", IDS[2])
    assert edited["text"] == mine and edited["edited"] == "text" and edited["edited_at"]
    cli.run("queue", "edit", IDS[3], "--text", "Massage may hurt a little at first.",
            "--text", "Tell your therapist: the pressure should never be too painful.")
    thread = cli.json("queue", "show", IDS[3])
    assert thread["thread"] == ["Massage may hurt a little at first.",
                                "Tell your therapist: the pressure should never be too painful."]

    # Another template variant for tip 2.
    before = cli.json("queue", "show", IDS[1])
    target = 1 if before["variant"] != 1 else 2
    cli.run("queue", "edit", IDS[1], "--variant", str(target))
    switched = cli.json("queue", "show", IDS[1])
    assert switched["variant"] == target and switched["template"] == before["variants"][target - 1]
    assert switched["text"] != before["text"] and switched["edited"] == "variant"
    bad = cli.run("queue", "edit", IDS[1], "--variant", "99", ok=False)
    assert "no variant 99" in bad.stderr

    # The article changes: tips 2, 3 and 5 get new headlines. The hand-written text stays; the chosen variant
    # stays, with the new headline; the untouched tip follows the article.
    def rewrite(text: str) -> str:
        text = text.replace("## 2. You should always check with a medical professional",
                            "## 2. Always ask your doctor")
        text = text.replace("## 3. Massage therapy has benefits", "## 3. Massage therapy has real benefits")
        return text.replace("## 5. It’s all in the technique.", "## 5. The technique matters most.")

    article_copy(tmp_path, edit=lambda text: text.replace("## 3. Massage therapy has benefits",
                                                          "## 3. Massage therapy has many benefits"))
    assert "kept your edit of " + IDS[2] in cli.run("import", str(path)).stdout
    article_copy(tmp_path, edit=rewrite)
    report = cli.json("import", str(path))[0]
    assert report["kept_edit"] == [IDS[2]]
    assert sorted(report["updated"]) == [IDS[1], IDS[4]]
    assert cli.json("import", str(path))[0]["kept_edit"] == []  # said once, when the tip changed
    assert cli.json("queue", "show", IDS[2])["text"] == mine
    tip2 = cli.json("queue", "show", IDS[1])
    assert "Always ask your doctor" in tip2["text"] and tip2["variant"] == target
    assert "The technique matters most." in cli.json("queue", "show", IDS[4])["text"]


def test_edit_in_the_editor(cli, tmp_path):
    cli.run("import", str(article_copy(tmp_path)))
    script = tmp_path / "fake-editor.py"
    script.write_text(
        "import sys, pathlib\n"
        "path = pathlib.Path(sys.argv[1])\n"
        "first = path.read_text().split('\\n')[0]\n"
        "path.write_text(first + ' Ask about it before you book.\\n---\\nA second part, as a reply.\\n')\n",
        encoding="utf-8",
    )
    cli.extra_env = {"EDITOR": f"{sys.executable} {script}", "VISUAL": ""}
    before = cli.json("queue", "show", IDS[0])["text"]
    cli.run("queue", "edit", IDS[0], "--editor")
    after = cli.json("queue", "show", IDS[0])
    assert after["thread"] == [before.split("\n")[0] + " Ask about it before you book.", "A second part, as a reply."]
    assert after["edited"] == "text"


def test_a_post_that_went_out_cannot_be_edited(cli, tmp_path):
    cli.run("import", str(article_copy(tmp_path)))
    send_now(cli, IDS[0])
    refused = cli.run("queue", "edit", IDS[0], "--text", "Too late.", ok=False)
    assert "is sent" in refused.stderr and "Traceback" not in refused.stderr
    refused = cli.run("queue", "remove", IDS[0], ok=False)
    assert "sent" in refused.stderr
    # Without credentials it went to the outbox: history says so, in words.
    assert "went to the outbox file" in cli.run("history").stdout and "not to X" in cli.run("history").stdout


def test_pins_in_the_past_are_refused_and_a_pin_beyond_the_daily_cap_warns(cli, tmp_path):
    cli.config.write_text(cli.config.read_text().replace("daily = 0", "daily = 1"), encoding="utf-8")
    cli.run("import", str(article_copy(tmp_path)))
    past = cli.run("queue", "pin", IDS[0], "--at", "2020-01-06T09:00:00", ok=False)
    assert "in the past" in past.stderr and "--now" in past.stderr
    assert cli.json("queue", "show", IDS[0])["pinned_at"] is None

    day = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()  # within the plan's horizon
    first = cli.run("queue", "pin", IDS[0], "--at", f"{day}T10:00:00")
    assert "warning" not in first.stderr
    second = cli.run("queue", "pin", IDS[1], "--at", f"{day}T11:00:00")
    assert f"{day}T11:00:00" in second.stdout
    assert "warning:" in second.stderr and "day already has its 1 posts ([quota] daily)" in second.stderr

    asap = cli.run("queue", "pin", IDS[2], "--now")
    assert "pinned " + IDS[2] in asap.stdout
    assert cli.json("queue", "show", IDS[2])["pinned_at"]
    added = cli.run("queue", "add", "Walk after every meal.", "--at", "2020-01-06T09:00:00", ok=False)
    assert "in the past" in added.stderr


def test_removed_posts_and_articles_stay_removed_until_restored(cli, tmp_path):
    path = article_copy(tmp_path)
    cli.run("import", str(path))

    out = cli.run("queue", "remove", IDS[2]).stdout
    assert "queue restore" in out
    assert cli.queue_ids() == IDS[:2] + IDS[3:]
    report = cli.json("import", str(path))[0]
    assert report["kept_removed"] == [IDS[2]] and report["added"] == []
    assert f"{IDS[2]} stays removed" in cli.run("import", str(path)).stdout
    assert cli.queue_ids() == IDS[:2] + IDS[3:]
    assert cli.json("queue", "show", IDS[2])["state"] == "removed"
    assert f"queue restore {IDS[2]}" in cli.run("queue", "show", IDS[2]).stdout
    refused = cli.run("queue", "edit", IDS[2], "--text", "Changed while out.", ok=False)
    assert "was removed" in refused.stderr and "queue restore" in refused.stderr

    cli.run("queue", "restore", IDS[2])
    assert cli.queue_ids() == IDS  # back, in its place
    assert "not removed" in cli.run("queue", "restore", IDS[2], ok=False).stderr

    # The whole article: its unsent posts go, what was sent stays as history, imports skip it.
    send_now(cli, IDS[0])
    listed = cli.json("articles", "list")
    assert [(a["article"], a["posts"]) for a in listed] == [(KEY, {"queued": 4, "sent": 1})]
    out = cli.run("articles", "remove", KEY).stdout
    assert "4 unsent posts" in out
    assert cli.queue_ids() == []
    assert [p["post_id"] for p in cli.json("history")] == [IDS[0]]
    skipped = cli.json("import", str(path))[0]
    assert skipped["article_removed"] is True and skipped["added"] == []
    assert "articles restore" in cli.run("import", str(path)).stdout
    assert cli.queue_ids() == []
    listed = cli.json("articles", "list")[0]
    assert listed["removed_at"] and listed["posts"] == {"sent": 1, "removed": 4}
    assert "REMOVED" in cli.run("articles", "list").stdout

    cli.run("articles", "restore", KEY)
    assert sorted(cli.queue_ids()) == sorted(IDS[1:])
    assert cli.json("import", str(path))[0]["article_removed"] is False

    missing = cli.run("articles", "remove", "no-such-article", ok=False)
    assert "no such article" in missing.stderr and "articles list" in missing.stderr


def test_help_lists_the_editing_commands(cli):
    queue_help = cli.run("queue", "--help").stdout
    for command in ("show", "edit", "restore", "remove"):
        assert f"  {command} " in queue_help, command
    articles_help = cli.run("articles", "--help").stdout
    for command in ("list", "remove", "restore"):
        assert f"  {command} " in articles_help, command
    assert os.environ.get("SCHEDULER_HOME") != str(cli.home)  # the test's own data directory, not the user's
    assert json.loads(cli.run("articles", "list", "--json").stdout) == []
