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
from tests.helpers_web import web_with_review  # noqa: F401 (a fixture)

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


def test_a_running_service_without_review_publishes_nothing_once_the_ledger_requires_it(cli):
    at = (datetime.now(UTC) + timedelta(seconds=10)).replace(microsecond=0)
    cli.run("queue", "add", "Never approved either.", "--at", at.isoformat())
    service = subprocess.Popen([sys.executable, "-m", "scheduler", "serve"], env=cli.env, cwd=cli.tmp,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and cli.json("review", "require")["required"] is None:
            time.sleep(0.3)
        assert cli.json("review", "require")["required"] is False  # recorded from its config at start
        cli.run("review", "require", "on")  # another process, another config: review from now on
        time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 4)
        outbox = cli.home / "outbox.jsonl"
        assert not outbox.exists() or not outbox.read_text()
    finally:
        service.terminate()
        out, err = service.communicate(timeout=30)
    assert "the ledger now requires review" in err
    assert err.count("the ledger now requires review") == 1  # said once, not in a loop
    assert cli.json("queue", "list")[0]["state"] == "queued"


def test_the_claim_obeys_the_ledger_even_when_the_process_config_does_not(store):
    """A process that started before review was turned on in the ledger sends nothing unapproved."""
    from scheduler.app import queueing
    from scheduler.review import policy as review
    from scheduler.ledger.store import NotApproved
    from tests.test_review import T0, make_config

    config = make_config(required=False)
    post = queueing.add_text(store, config, "Unapproved words.", T0)
    review.set_requirement(store, config, True, who="someone", now=T0)
    with pytest.raises(NotApproved):
        store.claim_post(post.post_id, "i1", T0, T0, require_approval=False)
    assert store.get(post.post_id).state.value == "queued"


# -- item 5: roles, hashes, separation of duties ------------------------------------------------------------

@pytest.fixture
def web(web_with_review):  # noqa: F811
    return web_with_review


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
    from scheduler.review import policy as review

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
    # The fixture imported in-process, as no identity. A text the command line's user edits is theirs, and they
    # cannot approve it.
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


# -- item 6: the image bytes that go out are the ones approved ---------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"the approved chart" * 10
OTHER_PNG = b"\x89PNG\r\n\x1a\n" + b"a swapped-in picture" * 10


class SwapAfterClaim:
    """The ledger as the engine sees it, with another program replacing the image file the moment the claim
    (and its approval check) has committed: the window the engine must not trust the file in."""

    def __init__(self, store, image, data):
        self._store, self._image, self._data = store, image, data

    def claim_post(self, *args, **kwargs):
        claimed = self._store.claim_post(*args, **kwargs)
        if claimed is not None:
            self._image.write_bytes(self._data)
        return claimed

    def __getattr__(self, name):
        return getattr(self._store, name)


def _approved(store, post_id, now):
    """A reviewer's approval of the post as it is now, recorded in the ledger."""
    from scheduler.domain.content_hash import hash_of
    from scheduler.ledger.review import Decision
    from tests.helpers_ledger import ACCOUNT

    store.record_decisions(ACCOUNT, [Decision(post_id, hash_of(store.get(post_id), fresh=True))], action="approved",
                           actor="Dr G", comment=None, now=now)


def _engine(store, tmp_path, clock):
    from scheduler.networks.outbox.publisher import OutboxPublisher
    from scheduler.publishing.engine import PublishingEngine, RetryPolicy
    from tests.helpers_ledger import ACCOUNT

    outbox = tmp_path / "outbox.jsonl"
    publisher = OutboxPublisher(outbox, ACCOUNT, clock=clock)
    engine = PublishingEngine(store, publisher, account=ACCOUNT, instance="svc", clock=clock, policy=RetryPolicy(),
                              require_review=True)
    engine.media_dir = tmp_path / "approved"
    return outbox, engine


def test_an_image_swapped_after_the_approval_check_is_not_sent(store, tmp_path):
    from scheduler.review import policy as review
    from tests.helpers_ledger import ACCOUNT, FakeClock, new_post
    from tests.test_review import NINE, T0, make_config

    config = make_config()
    image = tmp_path / "chart.png"
    image.write_bytes(PNG)
    store.add_post(ACCOUNT, new_post("m", "See the chart.", media=(str(image),)), T0)
    _approved(store, "m", T0)
    clock = FakeClock(NINE)
    outbox, engine = _engine(SwapAfterClaim(store, image, OTHER_PNG), tmp_path, clock)
    outcome = engine.publish("m", NINE, source="slot")
    assert not outbox.exists() or outbox.read_text() == ""  # nothing went out
    assert outcome.state != "sent" and "changed after the post was approved" in (outcome.detail or "")
    post = store.get("m")
    assert post.state.value in ("queued", "retrying") and "changed after" in (post.last_error or "")
    assert review.item(store, config, "m", NINE).status == "awaiting review"


def test_the_bytes_uploaded_are_the_bytes_approved_even_if_the_file_changes_during_the_upload(store, tmp_path):
    from tests.helpers_ledger import ACCOUNT, FakeClock, new_post
    from tests.test_review import NINE, T0

    image = tmp_path / "chart.png"
    image.write_bytes(PNG)
    store.add_post(ACCOUNT, new_post("m", "See the chart.", media=(str(image),)), T0)
    _approved(store, "m", T0)
    outbox, engine = _engine(store, tmp_path, FakeClock(NINE))
    upload = engine.publisher.upload_media

    def swapped_first(path):  # another program writes the original file as the upload starts
        image.write_bytes(OTHER_PNG)
        return upload(path)

    engine.publisher.upload_media = swapped_first
    assert engine.publish("m", NINE, source="slot").state == "sent"
    [record] = [json.loads(line) for line in outbox.read_text().splitlines()]
    from pathlib import Path

    assert [Path(p).read_bytes() for p in record["media"]] == [PNG]


# -- item 8: a reviewer link covers the posts pending when it was made, for the reviewer it names ------------

@pytest.fixture
def served(store):
    from scheduler.web.app import create_app
    from tests.helpers_ledger import FakeClock
    from tests.helpers_web import serving
    from tests.test_review_link import T0, make_config

    config = make_config()
    clock = FakeClock(T0)
    with serving(create_app(config, store, local_only=True, clock=clock)) as base:
        yield config, clock, base


def test_a_link_covers_only_the_posts_waiting_when_it_was_made_and_logs_its_reviewer(store, served, tmp_path):
    import requests

    from scheduler.review import policy as review
    from scheduler.review import links as review_link
    from tests.helpers_ledger import ACCOUNT, new_post
    from tests.test_review_link import T0, form_fields, path_of

    config, clock, base = served
    image = tmp_path / "chart.png"
    image.write_bytes(PNG)
    store.add_post(ACCOUNT, new_post("early", "Walk ten minutes after each meal.", media=(str(image),)), T0)
    store.add_post(ACCOUNT, new_post("edited", "Stretch your back each morning."), T0)
    link = review_link.create(store, config, expires=timedelta(hours=72), who="editor", reviewer="Dr Gleiber",
                              now=T0)
    # After the link: a new post, and an edit of a covered one.
    store.add_post(ACCOUNT, new_post("later", "Written after the link was made."), T0)
    with store.engine.begin() as conn:
        import sqlalchemy as sa

        conn.execute(sa.text("UPDATE posts SET text = 'Stretch, then run a marathon.', "
                             "parts = '[\"Stretch, then run a marathon.\"]' WHERE post_id = 'edited'"))

    page = requests.get(base + path_of(link), timeout=10)
    assert page.status_code == 200
    assert "Walk ten minutes" in page.text
    assert "Written after the link" not in page.text and "marathon" not in page.text
    assert 'name="reviewer"' not in page.text and "logged as Dr Gleiber" in page.text
    # The image itself, inline, as exactly its bytes; the page's policy allows data: images and no script.
    import base64

    assert f'src="data:image/png;base64,{base64.b64encode(PNG).decode()}"' in page.text
    policy = page.headers["Content-Security-Policy"]
    assert "img-src 'self' data:" in policy and "script-src" not in policy and "default-src 'none'" in policy

    fields = form_fields(page.text)
    later_hash = review.item(store, config, "later", T0).content_hash
    edited_hash = review.item(store, config, "edited", T0).content_hash
    for extra in ({"decision-later": "approve", "hash-later": later_hash},
                  {"decision-edited": "approve", "hash-edited": edited_hash}):
        refused = requests.post(base + path_of(link), data={**fields, **extra}, timeout=10)
        assert refused.status_code == 400 and "does not cover" in refused.text
        assert review.item(store, config, "later", T0).status == "awaiting review"
        assert review.item(store, config, "edited", T0).status == "awaiting review"

    # Still usable: approve what it covers; the name typed (if any) is ignored, the link's reviewer is logged.
    done = requests.post(base + path_of(link), data={**fields, "decision-early": "approve", "reviewer": "Mallory"},
                         timeout=10)
    assert done.status_code == 200, done.text
    assert review.item(store, config, "early", T0).status == "approved"
    [entry] = [e for e in review.log(store, config, post_id="early") if e.action == "approved"]
    assert entry.actor == f"Dr Gleiber (link {link.link_id})"


def test_a_link_without_a_reviewer_or_with_nothing_waiting_is_refused(store):
    from scheduler.review import links as review_link
    from scheduler.domain.errors import ReviewError
    from tests.test_review_link import T0, make_config

    config = make_config()
    with pytest.raises(ReviewError, match="nothing awaits review"):
        review_link.create(store, config, expires=timedelta(hours=1), who="editor", reviewer="Dr G", now=T0)
    with pytest.raises(ReviewError, match="name the reviewer"):
        review_link.create(store, config, expires=timedelta(hours=1), who="editor", reviewer="  ", now=T0)


def test_users_and_tokens_made_before_roles_are_admins_and_a_role_is_checked_by_the_database(tmp_path):
    """Nothing breaks for current users: the migration makes every existing user and token an admin."""
    import sqlalchemy as sa

    from scheduler.ledger import migrations as m
    from scheduler.ledger.store import Store
    from tests.test_review import T0

    path = tmp_path / "old.sqlite3"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # the ledger as the release before roles left it
        m.schema_migrations.create(conn)
        for name, migration in m.MIGRATIONS:
            if name.startswith("m012a"):
                break
            migration(conn)
            conn.execute(m.schema_migrations.insert().values(name=name, applied_at=T0))
        now = T0.replace(tzinfo=None)
        conn.exec_driver_sql("INSERT INTO web_users (username, password_hash, updated_at) VALUES ('admin', 'x', ?)",
                             (now,))
        conn.exec_driver_sql("INSERT INTO web_tokens (token_id, name, token_hash, created_at) "
                             "VALUES ('t1', 'ci-bot', ?, ?)", ("a" * 64, now))
    engine.dispose()
    store = Store.open(f"sqlite:///{path}")
    try:
        assert store.user_role("admin") == "admin"
        assert [(t.name, t.role) for t in store.tokens()] == [("ci-bot", "admin")]
        with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE web_tokens SET role = 'owner'")
    finally:
        store.close()
