"""The command line as a user runs it: `python -m scheduler ...` in a subprocess.

Each test gets its own data directory (SCHEDULER_HOME) and scheduler.toml (SCHEDULER_CONFIG), so
the ledger, the outbox and the configuration are the real files the commands read and write.
Subprocesses are kept few (each costs ~0.4 s): one test walks a whole story where it can.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

REPO = Path(__file__).parents[1]
POSTS = REPO / "posts"
ARTICLE = POSTS / "massage-therapy-for-back-pain.md"
TIP_IDS = [f"massage-therapy-for-back-pain-{n}" for n in range(1, 6)]
FROM = "2026-11-30T00:00:00-05:00"

CONFIG = """\
[account]
handle = "GleiberMD"
timezone = "America/New_York"

[calendar]
slots = {slots}
cron = {cron}
series_gap = "{series_gap}"

[quota]
daily = 0
monthly = 0

[publisher]
kind = "{kind}"

[service]
heartbeat = "1s"
watch_interval = "1s"
"""


class CLI:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.home = tmp / "home"
        self.config = tmp / "scheduler.toml"
        self.extra_env: dict[str, str] = {}
        self.write_config()

    def write_config(self, *, slots=("mon-fri 09:00",), cron=(), series_gap="1d", kind="outbox") -> None:
        self.config.write_text(
            CONFIG.format(slots=json.dumps(list(slots)), cron=json.dumps(list(cron)), series_gap=series_gap, kind=kind),
            encoding="utf-8",
        )

    @property
    def env(self) -> dict[str, str]:
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("X_", "SCHEDULER_"))},
            "SCHEDULER_HOME": str(self.home),
            "SCHEDULER_CONFIG": str(self.config),
            **self.extra_env,
        }

    def run(self, *args: str, ok: bool = True, timeout: float = 60, module: bool = True) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "scheduler", *args] if module else [*args]
        result = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout, cwd=self.tmp)
        if ok and result.returncode != 0:
            raise AssertionError(f"scheduler {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
        if not ok and result.returncode == 0:
            raise AssertionError(f"scheduler {' '.join(args)} should have failed:\n{result.stdout}")
        return result

    def json(self, *args: str):
        return json.loads(self.run(*args, "--json").stdout)

    def queue_ids(self) -> list[str]:
        return [p["post_id"] for p in self.json("queue", "list")]


def pin_day() -> date:
    """A Tuesday in December of next year: ahead of the real clock these pins are checked against, within the
    two-year pin horizon, in New York's winter time (-05:00), on a day with the 09:00 slot."""
    first = date(datetime.now().year + 1, 12, 1)
    return first + timedelta(days=(1 - first.weekday()) % 7)


def far_slot() -> str:
    """A daily slot twelve hours from the wall clock's now, in New York (the account's zone): a test that runs the
    real service (which reads the wall clock) on it never sees the slot come due, whatever the hour it runs at.
    The default weekday 09:00 slot came due at once from 09:00 to 09:15 New York time (issue 24)."""
    return f"daily {datetime.now(ZoneInfo('America/New_York')) + timedelta(hours=12):%H:%M}"


@pytest.fixture
def cli(tmp_path) -> CLI:
    return CLI(tmp_path)


COMMANDS = ("import", "compose", "preview", "queue", "history", "status", "resolve", "serve", "auth")


def test_help_lists_the_commands(cli):
    out = cli.run("--help").stdout
    for command in COMMANDS:
        assert f"  {command} " in out, command
    script = Path(sys.executable).parent / "scheduler"
    if script.exists():  # the console script installed with the package
        out2 = cli.run(str(script), "--help", module=False).stdout
        assert out2 == out


def test_import_is_idempotent_and_picks_up_edits(cli, tmp_path):
    first = cli.json("import", str(POSTS))
    assert len(first) == 1
    report = first[0]
    assert set(report) >= {"source", "article", "title", "tips", "added", "updated", "unchanged", "removed",
                           "kept_sent", "warnings"}
    assert report["article"] == "massage-therapy-for-back-pain"
    assert report["tips"] == 5
    assert report["added"] == TIP_IDS
    assert report["updated"] == report["unchanged"] == report["removed"] == []

    again = cli.run("import", str(POSTS)).stdout
    assert "0 added, 0 updated, 5 unchanged, 0 removed" in again

    # Tip 2's headline changes in an edited copy of the article.
    edited_dir = tmp_path / "edited"
    edited_dir.mkdir()
    old = "## 2. You should always check with a medical professional before beginning any massage therapy programs."
    new_headline = "Ask your doctor before you book any massage for back pain."
    text = ARTICLE.read_text(encoding="utf-8")
    assert old in text
    (edited_dir / ARTICLE.name).write_text(text.replace(old, f"## 2. {new_headline}"), encoding="utf-8")
    edited = cli.json("import", str(edited_dir / ARTICLE.name))[0]
    assert edited["added"] == []
    assert edited["updated"] == [TIP_IDS[1]]
    assert sorted(edited["unchanged"]) == sorted(TIP_IDS[:1] + TIP_IDS[2:])

    queue = {p["post_id"]: p for p in cli.json("queue", "list")}
    assert list(queue) == TIP_IDS  # the update kept its place in line
    assert new_headline in queue[TIP_IDS[1]]["text"]
    assert "medical professional" not in queue[TIP_IDS[1]]["text"]


def test_compose_prints_posts_and_stores_nothing(cli):
    posts = cli.json("compose", str(ARTICLE))
    assert len(posts) == 5
    assert [p["tip"] for p in posts] == [1, 2, 3, 4, 5]
    for post in posts:
        assert {"tip", "text", "weighted_length", "template", "thread"} <= set(post)
        assert isinstance(post["tip"], int) and not isinstance(post["tip"], bool)
        assert isinstance(post["text"], str) and post["text"]
        assert isinstance(post["weighted_length"], int) and 0 < post["weighted_length"] <= 280
        assert isinstance(post["template"], str) and post["template"]
        assert post["thread"] is None or (isinstance(post["thread"], list) and len(post["thread"]) > 1)
    assert cli.json("queue", "list") == []


def test_bad_input_is_refused_and_changes_nothing(cli, tmp_path):
    no_tips = tmp_path / "no-tips.md"
    no_tips.write_text("# Back pain\n\nSome prose about back pain, without any numbered tips.\n\nThe end.\n",
                       encoding="utf-8")
    result = cli.run("import", str(no_tips), ok=False)
    assert result.returncode != 0
    assert str(no_tips) in result.stderr or no_tips.name in result.stderr
    assert "no numbered tips" in result.stderr
    assert "1. Headline" in result.stderr and "Tip 1:" in result.stderr  # the numbering styles tried
    assert "the others were" not in result.stderr  # there were none
    assert "Traceback" not in result.stderr

    # A folder holding a good article and a draft without numbered tips: the good one is imported, the draft is
    # named with its reason, and the exit is non-zero (a script sees that something was left out).
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / ARTICLE.name).write_text(ARTICLE.read_text(encoding="utf-8"), encoding="utf-8")
    (mixed / no_tips.name).write_text(no_tips.read_text(encoding="utf-8"), encoding="utf-8")
    result = cli.run("import", str(mixed), ok=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{mixed / no_tips.name}: no numbered tips found" in result.stderr
    assert "1 article(s) not imported (the others were)" in result.stderr
    assert f"{mixed / ARTICLE.name}: " in result.stdout and "- 5 tips: 5 added" in result.stdout, result.stdout
    assert cli.queue_ids() == TIP_IDS
    again = subprocess.run([sys.executable, "-m", "scheduler", "import", str(mixed), "--json"], env=cli.env,
                           capture_output=True, text=True, timeout=60, cwd=cli.tmp)
    assert again.returncode == 1 and "no-tips.md" in again.stderr
    reports = json.loads(again.stdout)
    assert [r["article"] for r in reports if "article" in r] == ["massage-therapy-for-back-pain"]
    assert reports[0]["unchanged"] == TIP_IDS
    [failed] = [r for r in reports if "error" in r]
    assert failed["source"] == str(mixed / no_tips.name) and "no numbered tips found" in failed["error"]
    assert cli.queue_ids() == TIP_IDS

    result = cli.run("queue", "pin", "X", "--at", "not-a-date", ok=False)
    assert result.returncode == 2
    assert "'not-a-date' is not a date-time" in result.stderr
    assert "ISO 8601" in result.stderr
    result = cli.run("queue", "pin", "X", "--at", "2026-12-01T09:00:00.5-05:00", ok=False)
    assert result.returncode == 2 and "second precision" in result.stderr

    for args in (("queue", "remove", "nope-123"), ("queue", "move", "nope-123", "--top"),
                 ("queue", "pin", "nope-123", "--at", f"{pin_day()}T09:00:00-05:00")):
        result = cli.run(*args, ok=False)
        assert "'nope-123'" in result.stderr and "no such post" in result.stderr, args
        assert "Traceback" not in result.stderr

    # Last: a bad scheduler.toml (an unknown key) stops every command with exit 2.
    cli.config.write_text('[account]\nhandle = "GleiberMD"\ntimezone = "America/New_York"\n\n[calendar]\nslots = []\nslotz = ["x"]\n',
                          encoding="utf-8")
    result = cli.run("status", ok=False)
    assert result.returncode == 2
    assert f"{cli.config}:7:" in result.stderr
    assert "unknown key 'slotz' in [calendar]" in result.stderr
    assert "Traceback" not in result.stderr


def test_queue_commands(cli):
    cli.run("import", str(POSTS))
    out = cli.run("queue", "add", "Stand up and stretch every hour. #BackPain").stdout
    assert out.startswith("queued adhoc-")
    adhoc = out.split()[1]

    dup = cli.run("queue", "add", "Stand up and stretch every hour. #BackPain", ok=False)
    assert adhoc in dup.stderr and "already" in dup.stderr

    long = cli.run("queue", "add", "x" * 290, ok=False)
    assert "290" in long.stderr and "shorten it by 10" in long.stderr

    assert cli.queue_ids() == TIP_IDS + [adhoc]
    cli.run("queue", "move", adhoc, "--top")
    assert cli.queue_ids() == [adhoc] + TIP_IDS

    # A pin in the past is refused, and one more than two years ahead (pins are checked against the real clock).
    beyond = cli.run("queue", "pin", TIP_IDS[3], "--at", "2100-01-04T09:00:00", ok=False)
    assert "more than two years ahead" in beyond.stderr and "Traceback" not in beyond.stderr
    for typo in ("9999-12-31T23:59:59", "0001-01-01T00:00:00"):
        refused = cli.run("queue", "pin", TIP_IDS[3], "--at", typo, ok=False)
        assert refused.returncode != 0 and "Traceback" not in refused.stderr, refused.stderr
        assert repr(typo) in refused.stderr or "in the past" in refused.stderr, refused.stderr
    date_only = cli.run("queue", "pin", TIP_IDS[3], "--at", str(pin_day()), ok=False)  # not midnight unasked
    assert "date without a time of day" in date_only.stderr and f"{pin_day()}T09:00:00" in date_only.stderr
    past = cli.run("queue", "pin", TIP_IDS[3], "--at", "2020-12-01T09:00:00-05:00", ok=False)
    assert "in the past" in past.stderr and "--now" in past.stderr
    day = pin_day()
    out = cli.run("queue", "pin", TIP_IDS[3], "--at", f"{day}T09:00:00-05:00").stdout
    assert f"{day}T09:00:00-05:00" in out
    preview = cli.json("preview", "--count", "6", "--from", f"{day - timedelta(days=1)}T00:00:00-05:00")
    pinned = [e for e in preview if e["post_id"] == TIP_IDS[3]]
    assert len(pinned) == 1
    assert pinned[0]["at"] == f"{day}T09:00:00-05:00"
    assert pinned[0]["at_utc"] == f"{day}T14:00:00+00:00"
    assert pinned[0]["source"] == "pin"
    # At the same second the pin goes and the slot yields to it (listed empty).
    same = [e for e in preview if e["at"] == f"{day}T09:00:00-05:00"]
    assert [e["post_id"] for e in same] == [TIP_IDS[3], None]
    assert same[1]["source"] == "slot" and same[1]["reason"] == "min spacing"

    cli.run("queue", "pin", TIP_IDS[3], "--clear")
    listed = {p["post_id"]: p for p in cli.json("queue", "list")}
    assert listed[TIP_IDS[3]]["pinned_at"] is None

    cli.run("queue", "remove", adhoc)
    assert cli.queue_ids() == TIP_IDS

    cli.run("queue", "pause")
    preview = cli.json("preview", "--count", "3", "--from", FROM)
    assert preview and all(e["post_id"] is None and e["reason"] == "paused" for e in preview)
    assert cli.json("status")["paused"] is True

    cli.run("queue", "resume")
    preview = cli.json("preview", "--count", "5", "--from", FROM)
    assert [e["post_id"] for e in preview] == TIP_IDS


def test_preview_json_text_and_ics(cli, tmp_path):
    import icalendar

    cli.run("import", str(POSTS))
    entries = cli.json("preview", "--count", "5", "--from", FROM)
    assert len(entries) == 5
    days = ["2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"]
    assert [e["at"] for e in entries] == [f"{d}T09:00:00-05:00" for d in days]
    assert [e["at_utc"] for e in entries] == [f"{d}T14:00:00+00:00" for d in days]
    assert [e["post_id"] for e in entries] == TIP_IDS
    for e in entries:
        assert {"at", "at_utc", "post_id", "text", "weighted_length"} <= set(e)
        assert e["source"] == "slot" and e["reason"] is None
        assert isinstance(e["weighted_length"], int) and e["weighted_length"] <= 280
        assert datetime.fromisoformat(e["at"]).weekday() < 5

    ics = tmp_path / "plan.ics"
    text = cli.run("preview", "--count", "5", "--from", FROM, "--ics", str(ics)).stdout
    assert "Mon 2026-11-30 09:00:00 EST" in text
    assert "Fri 2026-12-04 09:00:00 EST" in text
    for e in entries:
        assert e["text"].splitlines()[0] in text
    cal = icalendar.Calendar.from_ical(ics.read_bytes())
    events = [c for c in cal.walk() if c.name == "VEVENT"]
    assert len(events) == 5
    starts = sorted(ev.decoded("dtstart") for ev in events)
    assert starts == [datetime.fromisoformat(e["at"]) for e in entries]


def test_serve_until_empty_then_history_status_resolve(cli):
    cli.run("import", str(POSTS))
    cli.write_config(slots=(), cron=("*/1 * * * * *",), series_gap="0s")
    result = cli.run("serve", "--until-empty", timeout=60)
    assert result.returncode == 0
    # Without credentials it says plainly, at start, that nothing goes to X.
    assert f"go to the outbox file {cli.home / 'outbox.jsonl'}, NOT to X" in result.stderr

    history = cli.json("history")
    assert len(history) == 5
    assert all(p["state"] == "sent" for p in history)
    assert sorted(p["post_id"] for p in history) == TIP_IDS
    tweet_ids = [p["tweet_id"] for p in history]
    assert all(tweet_ids) and len(set(tweet_ids)) == 5
    outbox = [json.loads(line) for line in (cli.home / "outbox.jsonl").read_text().splitlines() if line]
    assert sorted(r["id"] for r in outbox) == sorted(tweet_ids)
    slots = sorted(p["slot_at"] for p in history)
    assert len(set(slots)) == 5  # one post per one-second slot, never two in a slot

    status = cli.json("status")
    assert status["queue"]["pending"] == 0
    assert status["sent"] == 5
    assert status["service"]["running"] is False

    refused = cli.run("resolve", TIP_IDS[0], "--sent", "12345", ok=False)
    assert TIP_IDS[0] in refused.stderr and "is sent" in refused.stderr
    assert "only unknown or failed posts" in refused.stderr


SECRETS = {
    "X_API_KEY": "ck-SECRET-7f3a91e2",
    "X_API_SECRET": "cs-SECRET-0b77c4d9",
    "X_ACCESS_TOKEN": "at-SECRET-52e1aa08",
    "X_ACCESS_TOKEN_SECRET": "as-SECRET-c93f6d15",
    "X_CLIENT_SECRET": "cl-SECRET-4411beef",
}


@pytest.mark.parametrize("kind", ["outbox", "x"])
def test_status_and_auth_status_never_show_secrets(cli, kind):
    cli.write_config(kind=kind)
    cli.extra_env = {**SECRETS, "SCHEDULER_X_API_URL": "http://127.0.0.1:9"}
    status = cli.run("status", "--json")
    assert json.loads(status.stdout)["handle"] == "GleiberMD"
    auth = cli.run("auth", "status")
    outputs = [status.stdout + status.stderr, auth.stdout + auth.stderr]
    for value in SECRETS.values():
        for output in outputs:
            assert value not in output
            assert value[-8:] not in output
    if kind == "x":
        assert "OAuth 1.0a" in outputs[1] and "http://127.0.0.1:9" in outputs[1]
