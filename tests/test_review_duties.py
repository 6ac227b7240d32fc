"""Issue 18, items 5-8: review that a single identity cannot bypass, as users run it (real subprocesses,
real files, a real dashboard on 127.0.0.1)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.test_cli import CLI

REVIEW = '\n[review]\nrequired = true\nlink_base = "https://dash.example.com"\n'


@pytest.fixture
def cli(tmp_path) -> CLI:
    return CLI(tmp_path)


def _serve(cli: CLI) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "scheduler", "serve", "--until-empty"], env=cli.env, cwd=cli.tmp,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# -- item 7: the review requirement lives in the ledger -------------------------------------------------------

def test_a_service_without_review_on_a_ledger_that_requires_it_refuses_to_start(cli):
    plain = cli.config.read_text()
    cli.config.write_text(plain + REVIEW, encoding="utf-8")
    at = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    draft = cli.run("queue", "add", "Never approved: must not go out.", "--at", at.isoformat()).stdout.split()[1]
    first = _serve(cli)  # review on: records it in the ledger, sends nothing (nothing approved)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and cli.json("review", "require")["required"] is None:
            time.sleep(0.3)
        assert cli.json("review", "require")["required"] is True

        # A second service on the same ledger, its config without [review]: it must not start.
        other = cli.tmp / "other.toml"
        other.write_text(plain, encoding="utf-8")
        cli.extra_env["SCHEDULER_CONFIG"] = str(other)
        second = _serve(cli)
        out, err = second.communicate(timeout=90)
        assert second.returncode != 0, err
        assert "the ledger says posts of @GleiberMD need review" in err
        assert "review require off" in err and "required = true" in err
        assert "Traceback" not in err
    finally:
        first.terminate()
        first.communicate(timeout=30)
    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 1)
    outbox = cli.home / "outbox.jsonl"
    assert not outbox.exists() or not outbox.read_text()
    assert cli.json("queue", "list")[0]["post_id"] == draft

    # Turning it off is an explicit, recorded command; then the plain config starts and sends.
    cli.run("review", "require", "off")
    shown = cli.json("review", "require")
    assert shown["required"] is False and shown["changed_by"]
    second = _serve(cli)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert [json.loads(x)["text"] for x in outbox.read_text().splitlines()] == ["Never approved: must not go out."]


def test_the_claim_obeys_the_ledger_even_when_the_process_config_does_not(store):
    """A process that started before review was turned on in the ledger sends nothing unapproved."""
    from scheduler import queueing, review
    from scheduler.store import NotApproved
    from tests.test_review import T0, make_config

    config = make_config(required=False)
    post = queueing.add_text(store, config, "Unapproved words.", T0)
    review.set_requirement(store, config, True, who="someone", now=T0)
    with pytest.raises(NotApproved):
        store.claim_post(post.post_id, "i1", T0, T0, require_approval=False)
    assert store.get(post.post_id).state.value == "queued"


# -- item 5: roles, hashes, separation of duties ------------------------------------------------------------

@pytest.fixture
def web(tmp_path, monkeypatch):
    from scheduler.config import load_config
    from tests.helpers_web import WebEnv

    env = WebEnv(tmp_path, monkeypatch)
    env.config_path.write_text(env.config_path.read_text() + "\n[review]\nrequired = true\n", encoding="utf-8")
    env.config = load_config(str(env.config_path))
    env.import_posts()
    yield env
    env.store.close()


def _cli(web, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    import os

    from tests.helpers_web import REPO

    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("X_", "SCHEDULER_"))},
           "SCHEDULER_HOME": str(web.home), "SCHEDULER_CONFIG": str(web.config_path)}
    done = subprocess.run([sys.executable, "-m", "scheduler", *args], env=env, capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert (done.returncode == 0) == ok, done.stderr
    return done


def _client_with(web, token: str):
    client = web.client()
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_an_editor_token_cannot_approve_and_nobody_approves_their_own_edit(web):
    from tests.helpers_web import TIP_IDS

    editor = _client_with(web, _cli(web, "web", "token", "create", "writer", "--role", "editor").stdout.strip())
    reviewer = _client_with(web, _cli(web, "web", "token", "create", "surgeon", "--role", "reviewer").stdout.strip())
    listed = {t["name"]: t["role"] for t in json.loads(_cli(web, "web", "token", "list", "--json").stdout)}
    assert listed == {"writer": "editor", "surgeon": "reviewer"}

    post = TIP_IDS[0]
    edited = editor.patch(f"/api/v1/queue/{post}", json={"text": "Gentle massage can ease back pain for many."})
    assert edited.status_code == 200, edited.text
    shown = {i["post_id"]: i["content_hash"] for i in editor.get("/api/v1/review").json()}

    # The editor wrote it and cannot approve anything at all, with the right hash or without.
    refused = editor.post("/api/v1/review/approve", json={"post_ids": [post], "content_hashes": {post: shown[post]}})
    assert refused.status_code == 403 and "editor" in refused.json()["error"]["message"]
    # Every approval names the hashes seen: none given is refused, whoever asks.
    bare = reviewer.post("/api/v1/review/approve", json={"post_ids": [post]})
    assert bare.status_code == 400 and "content_hash" in bare.json()["error"]["message"]
    stale = reviewer.post("/api/v1/review/approve", json={"post_ids": [post], "content_hashes": {post: "0" * 64}})
    assert stale.status_code == 409
    from scheduler import review

    assert review.item(web.store, web.config, post, web.now).status == "awaiting review"

    # A reviewer who edits a post cannot approve their own edit ([review] separate_duties, on by default).
    other = TIP_IDS[1]
    assert reviewer.patch(f"/api/v1/queue/{other}", json={"text": "Massage helps; ask your doctor."}).status_code == 200
    shown = {i["post_id"]: i["content_hash"] for i in reviewer.get("/api/v1/review").json()}
    own = reviewer.post("/api/v1/review/approve", json={"post_ids": [other], "content_hashes": {other: shown[other]}})
    assert own.status_code == 403 and "last changed the text" in own.json()["error"]["message"]

    # The editor's text, approved by the reviewer as shown: fine, and logged with the reviewer's name.
    ok = reviewer.post("/api/v1/review/approve", json={"post_ids": [post], "content_hashes": {post: shown[post]}})
    assert ok.status_code == 200 and ok.json()["approved"] == [post], ok.text
    assert review.log(web.store, web.config, post_id=post)[0].actor == "token:surgeon"


def test_the_command_line_approves_only_the_hash_it_showed_and_not_its_own_text(web):
    from tests.helpers_web import TIP_IDS

    post = TIP_IDS[2]
    missing = _cli(web, "review", "approve", post, ok=False)
    assert missing.returncode == 2 and "--hash" in missing.stderr
    shown = json.loads(_cli(web, "review", "show", post, "--json").stdout)["content_hash"]
    assert f"content hash: {shown}" in _cli(web, "review", "show", post).stdout
    stale = _cli(web, "review", "approve", post, "--hash", "f" * 64, ok=False)
    assert "changed since it was shown" in stale.stderr
    # The imported text was written by this same login (the test ran the import in-process, as nobody): a text
    # the command line's user edits is theirs, and they cannot approve it.
    _cli(web, "queue", "edit", post, "--text", "Massage can ease back pain; ask your doctor first.")
    shown = json.loads(_cli(web, "review", "show", post, "--json").stdout)["content_hash"]
    own = _cli(web, "review", "approve", post, "--hash", shown, ok=False)
    assert "last changed the text" in own.stderr and "Traceback" not in own.stderr
    # Someone else (a reviewer's token) approves it as shown.
    reviewer = _client_with(web, _cli(web, "web", "token", "create", "surgeon", "--role", "reviewer").stdout.strip())
    ok = reviewer.post("/api/v1/review/approve", json={"post_ids": [post], "content_hashes": {post: shown}})
    assert ok.status_code == 200, ok.text
    other = TIP_IDS[3]
    shown = json.loads(_cli(web, "review", "show", other, "--json").stdout)["content_hash"]
    assert json.loads(_cli(web, "review", "approve", other, "--hash", shown, "--json").stdout)["approved"] == [other]
