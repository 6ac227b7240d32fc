"""`scheduler review ...` and the service with review on, as a user runs them: real subprocesses, real files."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.test_cli import CLI, FROM, POSTS, TIP_IDS
from tests.test_review_notices import Receiver

# One person imports and approves here (the same login): separation of duties is tested in test_review_duties.py.
REVIEW = '\n[review]\nrequired = true\nseparate_duties = false\nlink_base = "https://dash.example.com"\n'


def hashes(cli, *post_ids: str) -> list[str]:
    """`--hash H` for each post, as `review show` prints it: every approval names the text it saw."""
    return [a for p in post_ids for a in ("--hash", cli.json("review", "show", p)["content_hash"])]


@pytest.fixture
def cli(tmp_path) -> CLI:
    cli = CLI(tmp_path)
    cli.config.write_text(cli.config.read_text() + REVIEW, encoding="utf-8")
    return cli


def test_review_story(cli):
    imported = cli.run("import", str(POSTS))
    assert "5 post(s) await review" in imported.stderr

    preview = cli.run("preview", "--count", "2", "--from", FROM).stdout
    planned, _, drafts = preview.partition("Awaiting review - NOT going out until approved")
    assert "empty: awaiting review" in planned and TIP_IDS[0] not in planned
    assert f"{TIP_IDS[0]}  would go out Mon 2026-11-30 09:00 EST if approved now" in drafts
    assert [e["reason"] for e in cli.json("preview", "--count", "2", "--from", FROM)] == ["awaiting review"]

    waiting = cli.json("review", "list")
    assert [w["post_id"] for w in waiting] == TIP_IDS
    assert all(w["status"] == "awaiting review" and len(w["content_hash"]) == 64 for w in waiting)

    approved = cli.json("review", "approve", TIP_IDS[0], TIP_IDS[2], *hashes(cli, TIP_IDS[0], TIP_IDS[2]))
    assert approved == {"approved": [TIP_IDS[0], TIP_IDS[2]], "already_approved": []}
    rejected = cli.json("review", "reject", TIP_IDS[1], "--comment", "Shorter, and say: ask your doctor.")
    assert rejected == {"changes_requested": [TIP_IDS[1]]}
    missing = cli.run("review", "reject", TIP_IDS[3], ok=False)
    assert missing.returncode == 2 and "--comment" in missing.stderr

    planned = [e["post_id"] for e in cli.json("preview", "--count", "3", "--from", FROM) if e["post_id"]]
    assert planned == [TIP_IDS[0], TIP_IDS[2]]

    shown = cli.json("review", "show", TIP_IDS[1])
    assert shown["status"] == "changes requested" and shown["comment"] == "Shorter, and say: ask your doctor."
    assert [d["action"] for d in shown["decisions"]] == ["changes requested"]

    log = cli.json("review", "log")
    assert [(e["action"], e["post_id"]) for e in log] == [
        ("changes requested", TIP_IDS[1]), ("approved", TIP_IDS[2]), ("approved", TIP_IDS[0])]
    import pwd, os

    assert log[2]["actor"] == pwd.getpwuid(os.geteuid()).pw_name  # the login running the command, never a typed name
    assert log[2]["parts"] == (waiting[0]["thread"] or [waiting[0]["text"]])

    added = cli.run("queue", "add", "Take 400 mg of ibuprofen for back pain.")
    adhoc = added.stdout.split()[1]
    assert '[block] dosage: "400 mg"' in added.stderr
    refused = cli.run("review", "approve", adhoc, TIP_IDS[3], *hashes(cli, adhoc, TIP_IDS[3]), ok=False)
    assert refused.returncode == 1 and "cannot approve" in refused.stderr and "400 mg" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert cli.json("review", "show", TIP_IDS[3])["status"] == "awaiting review"  # all or none

    status = cli.json("status")
    assert status["review"] == {"required": True, "awaiting": 3, "changes_requested": 1, "blocked": 1}
    assert any("await review" in item for item in status["attention"])

    link = cli.json("review", "link", "--for", "Dr Gleiber", "--expires", "72h")
    assert link["url"].startswith("https://dash.example.com/review/") and link["link_id"] in link["url"]
    assert [(r["link_id"], r["state"]) for r in cli.json("review", "links")] == [(link["link_id"], "active")]
    assert link["url"].split("/")[-1] not in cli.run("review", "links").stdout  # never the token
    cli.run("review", "revoke", link["link_id"])
    assert cli.json("review", "links")[0]["state"] == "revoked"
    bad = cli.run("review", "link", "--for", "Dr Gleiber", "--expires", "soon", ok=False)
    assert bad.returncode == 2 and "--expires" in bad.stderr


def test_compose_shows_findings(cli, tmp_path):
    article = tmp_path / "dose.md"
    # Tips with enough to say to be posted (a post needs 10 words of its tip: templates/README.md).
    article.write_text("# Pain relief\n\n1. Take 400 mg of ibuprofen with food when your back pain flares up\n\n"
                       "Keep to the dose on the label.\n\n2. Walk for twenty minutes every day\n\n"
                       "Gentle movement keeps the muscles of your back strong.\n",
                       encoding="utf-8")
    posts = cli.json("compose", str(article))
    assert [f["rule"] for f in posts[0]["findings"]] == ["dosage"] and posts[1]["findings"] == []
    assert '! [block] dosage: "400 mg"' in cli.run("compose", str(article)).stdout


def test_the_service_sends_only_approved_posts_and_notices_never_hold_it_up(cli):
    hanging = Receiver(delay=8)  # the webhook answers after the delivery timeout
    try:
        cli.config.write_text(cli.config.read_text() + f"""
[notify]
reviewers = ["surgeon@example.com"]
smtp_host = "127.0.0.1"
smtp_port = 9
smtp_security = "none"
webhook = "{hanging.url}"
timeout = "3s"
check_interval = "1s"
""", encoding="utf-8")
        # Far enough ahead that three CLI calls and the service's start-up on a busy machine are done before it.
        at = (datetime.now(UTC) + timedelta(seconds=12)).replace(microsecond=0)
        approved = cli.run("queue", "add", "Approved words go out.", "--at", at.isoformat()).stdout.split()[1]
        draft = cli.run("queue", "add", "Words approved later.", "--at", at.isoformat()).stdout.split()[1]
        cli.run("review", "approve", approved, *hashes(cli, approved))

        service = subprocess.Popen([sys.executable, "-m", "scheduler", "serve", "--until-empty"], env=cli.env,
                                   cwd=cli.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            outbox = cli.home / "outbox.jsonl"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (outbox.exists() and outbox.read_text()):
                time.sleep(0.2)
            sent = [json.loads(line) for line in outbox.read_text().splitlines()]
            assert [r["text"] for r in sent] == ["Approved words go out."]
            sent_at = datetime.fromisoformat(cli.json("history")[0]["sent_at"])
            assert sent_at - at < timedelta(seconds=3)  # on time, while the webhook hangs and SMTP refuses

            time.sleep(2)  # past the pin: the draft's moment came; it is still not sent
            assert [r["text"] for r in (json.loads(x) for x in outbox.read_text().splitlines())] == [
                "Approved words go out."]
            assert cli.json("review", "show", draft)["state"] == "queued"

            # Approving it while the service runs: it goes out (a missed pin takes the next free moment).
            cli.run("review", "approve", draft, *hashes(cli, draft))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(outbox.read_text().splitlines()) < 2:
                time.sleep(0.2)
            assert [json.loads(x)["text"] for x in outbox.read_text().splitlines()][1] == "Words approved later."
        finally:
            service.terminate()
            out, err = service.communicate(timeout=30)
        notices = cli.json("review", "notices")
        assert {(n["kind"], n["channel"]) for n in notices} >= {("awaiting review", "email"),
                                                                ("awaiting review", "webhook")}
        assert any(n["error"] and "127.0.0.1:9" in n["error"] for n in notices if n["channel"] == "email")
        assert "notice 'awaiting review' by email failed" in err
        assert "secret" not in err  # the webhook URL's query never reaches the log
    finally:
        hanging.stop()
