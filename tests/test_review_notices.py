"""Notices reach a real local SMTP server (aiosmtpd) and a real local HTTP receiver; a failing one is
logged, retried with a doubling delay and finally kept as failed; none of it holds up publishing."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from scheduler.review import policy as review
from scheduler.config import parse_config
from scheduler.review.notices import deliver_due, safe_url
from scheduler.review.watcher import ReviewWatcher
from tests.helpers_ledger import ACCOUNT, new_post

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
NINE = T0.replace(hour=9)


class SMTPServer:
    """aiosmtpd on 127.0.0.1: every message it accepts lands in ``messages``."""

    def __init__(self, *, login: tuple[str, str] | None = None) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages: list = []
        self.logins: list[str] = []
        outer = self

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = login is not None and (auth_data.login.decode(), auth_data.password.decode()) == login
            if ok:
                outer.logins.append(auth_data.login.decode())
            return AuthResult(success=ok)

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                from email import message_from_bytes, policy

                outer.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
                return "250 OK"

        auth = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False) if login else {}
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=free_port(), **auth)
        self.controller.start()
        self.port = self.controller.port

    def stop(self) -> None:
        self.controller.stop()


class Receiver:
    """A webhook receiver on 127.0.0.1 answering ``status`` (changeable), after ``delay`` seconds."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.status, self.delay, self.bodies = status, delay, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(outer.delay)
                outer.bodies.append(json.loads(body))
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/review?secret=s3cr3t"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    server = SMTPServer()
    yield server
    server.stop()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


def make_config(*, smtp_port: int | None = None, webhook: str = "", extra: str = ""):
    smtp = f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp_port}\nsmtp_security = "none"\n' if smtp_port else ""
    text = f"""
[account]
handle = "{ACCOUNT}"
timezone = "UTC"

[calendar]
slots = ["daily 09:00"]
series_gap = "0s"

[quota]
daily = 0
monthly = 0

[review]
required = true

[notify]
reviewers = ["surgeon@example.com", "editor@example.com"]
authors = ["writer@example.com"]
webhook = "{webhook}"
retry = "1m"
max_attempts = 3
timeout = "2s"
{smtp}{extra}
"""
    return parse_config(text, source=None)


def test_posts_awaiting_review_reach_the_reviewers_by_email_and_webhook_once(store, smtp, receiver):
    config = make_config(smtp_port=smtp.port, webhook=receiver.url)
    store.add_post(ACCOUNT, new_post("p1", "Walk after meals."), T0)
    store.add_post(ACCOUNT, new_post("p2", "Take 400 mg of something."), T0)
    watcher = ReviewWatcher()
    assert watcher.check(store, config, T0) == 4  # two posts, two channels
    delivered = deliver_due(store, config, T0)
    assert sorted((d.channel, d.kind, d.count, d.error) for d in delivered) == [
        ("email", "awaiting review", 2, None), ("webhook", "awaiting review", 2, None)]

    [(recipients, message)] = smtp.messages
    assert recipients == ["surgeon@example.com", "editor@example.com"]
    assert message["Subject"] == f"[tip-scheduler] 2 posts for @{ACCOUNT} await review"
    body = message.get_content()
    assert "Walk after meals." in body and "p2" in body and "[block] dosage" in body
    assert "would go out at 2026-03-02T09:00:00+00:00 if approved now" in body

    [hook] = receiver.bodies
    assert hook["event"] == "awaiting review" and hook["account"] == ACCOUNT
    assert [p["post_id"] for p in hook["posts"]] == ["p1", "p2"]
    assert hook["posts"][0]["parts"] == ["Walk after meals."]

    # Told once: the same posts, unchanged, are not told again; an edited one is.
    assert watcher.check(store, config, T0 + timedelta(seconds=30)) == 0
    with store.engine.begin() as conn:
        import sqlalchemy as sa

        conn.execute(sa.text("UPDATE posts SET parts = '[\"Walk after every meal.\"]' WHERE post_id = 'p1'"))
    assert watcher.check(store, config, T0 + timedelta(minutes=1)) == 2
    deliver_due(store, config, T0 + timedelta(minutes=1))
    assert len(smtp.messages) == 2 and len(receiver.bodies) == 2
    assert all(n.state == "sent" for n in store.notices(ACCOUNT))


def test_changes_requested_goes_to_the_authors(store, smtp):
    config = make_config(smtp_port=smtp.port)
    store.add_post(ACCOUNT, new_post("p", "Massage cures back pain."), T0)
    review.request_changes(store, config, ["p"], who="Dr G", role="reviewer", comment="Say it may help.", now=T0)
    deliver_due(store, config, T0)
    [(recipients, message)] = smtp.messages
    assert recipients == ["writer@example.com"]
    assert "Changes requested on 1 post" in message["Subject"]
    assert "Dr G asks: Say it may help." in message.get_content()


def test_a_draft_that_misses_its_slot_is_told(store, receiver):
    config = make_config(webhook=receiver.url)
    store.add_post(ACCOUNT, new_post("late", "Not approved in time."), T0)
    watcher = ReviewWatcher()
    watcher.check(store, config, T0)  # it would go at 09:00 if approved
    deliver_due(store, config, T0)
    assert [b["event"] for b in receiver.bodies] == ["awaiting review"]
    watcher.check(store, config, NINE + timedelta(minutes=20))  # 09:00 came and went, past grace
    deliver_due(store, config, NINE + timedelta(minutes=20))
    assert [b["event"] for b in receiver.bodies] == ["awaiting review", "missed slot"]
    assert receiver.bodies[1]["posts"][0]["slot"] == NINE.isoformat()
    # The next slot is another deadline: told again only when that one is missed.
    watcher.check(store, config, NINE + timedelta(minutes=21))
    assert deliver_due(store, config, NINE + timedelta(minutes=21)) == []


def test_a_failing_webhook_is_logged_retried_with_backoff_then_given_up(store, receiver, caplog):
    receiver.status = 500
    config = make_config(webhook=receiver.url)
    store.add_post(ACCOUNT, new_post("p", "Words."), T0)
    ReviewWatcher().check(store, config, T0)
    with caplog.at_level(logging.WARNING, logger="scheduler.notices"):
        [failed] = deliver_due(store, config, T0)
    assert "HTTP 500" in failed.error
    assert "s3cr3t" not in caplog.text and "s3cr3t" not in failed.error  # the URL's query is a secret
    [notice] = store.notices(ACCOUNT)
    assert (notice.state, notice.attempts, notice.next_attempt_at) == ("pending", 1, T0 + timedelta(minutes=1))
    assert deliver_due(store, config, T0 + timedelta(seconds=59)) == []  # not due yet
    deliver_due(store, config, T0 + timedelta(minutes=1))
    [notice] = store.notices(ACCOUNT)
    assert (notice.attempts, notice.next_attempt_at) == (2, T0 + timedelta(minutes=3))  # doubled
    deliver_due(store, config, T0 + timedelta(minutes=3))
    [notice] = store.notices(ACCOUNT)
    assert (notice.state, notice.attempts) == ("failed", 3)
    assert len(receiver.bodies) == 3
    assert "given up" in caplog.text or deliver_due(store, config, T0 + timedelta(days=1)) == []


def test_a_webhook_that_recovers_gets_the_notice(store, receiver):
    receiver.status = 503
    config = make_config(webhook=receiver.url)
    store.add_post(ACCOUNT, new_post("p", "Words."), T0)
    ReviewWatcher().check(store, config, T0)
    deliver_due(store, config, T0)
    receiver.status = 204
    [ok] = deliver_due(store, config, T0 + timedelta(minutes=1))
    assert ok.error is None
    assert [n.state for n in store.notices(ACCOUNT)] == ["sent"]


def test_an_unreachable_smtp_server_is_retried(store, caplog):
    config = make_config(smtp_port=free_port())  # nothing listens there
    store.add_post(ACCOUNT, new_post("p", "Words."), T0)
    ReviewWatcher().check(store, config, T0)
    with caplog.at_level(logging.WARNING, logger="scheduler.notices"):
        [failed] = deliver_due(store, config, T0)
    assert failed.channel == "email" and "127.0.0.1" in failed.error
    assert "retrying at" in caplog.text
    assert store.notices(ACCOUNT)[0].state == "pending"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login_takes_the_password_from_the_environment_and_never_shows_it(store, monkeypatch):
    server = SMTPServer(login=("mailer", "hunter2-secret"))
    try:
        config = make_config(smtp_port=server.port,
                             extra='smtp_username = "mailer"\nsmtp_password_env = "TEST_SMTP_PW"')
        store.add_post(ACCOUNT, new_post("p", "Words."), T0)
        ReviewWatcher().check(store, config, T0)
        monkeypatch.delenv("TEST_SMTP_PW", raising=False)
        [failed] = deliver_due(store, config, T0)
        assert "no SMTP password: set $TEST_SMTP_PW" in failed.error
        monkeypatch.setenv("TEST_SMTP_PW", "wrong-password")
        [failed] = deliver_due(store, config, T0 + timedelta(minutes=1))
        assert "wrong-password" not in failed.error and server.messages == []
        monkeypatch.setenv("TEST_SMTP_PW", "hunter2-secret")
        [ok] = deliver_due(store, config, T0 + timedelta(minutes=3))
        assert ok.error is None and server.logins == ["mailer"] and len(server.messages) == 1
        assert all("hunter2" not in (n.last_error or "") for n in store.notices(ACCOUNT))
    finally:
        server.stop()


def test_safe_url_drops_what_may_be_secret():
    assert safe_url("https://user:pw@hooks.example.com:8443/a/b?token=x#f") == "https://hooks.example.com:8443/a/b"


def test_review_off_tells_nothing(store, receiver):
    config = parse_config(f'[account]\nhandle = "{ACCOUNT}"\n[notify]\nwebhook = "{receiver.url}"\n', source=None)
    store.add_post(ACCOUNT, new_post("p", "Words."), T0)
    assert ReviewWatcher().check(store, config, T0) == 0
    assert store.notices(ACCOUNT) == []


def test_the_webhook_names_the_account_and_its_network_as_the_api_does(store, receiver):
    """``account`` is the account's name (as every --json output and the API give it), not its ledger key (the
    handle, or handle@server on Mastodon); ``network`` says where it posts."""
    root = parse_config(f"""
[calendar]
slots = ["daily 09:00"]
series_gap = "0s"

[review]
required = true

[notify]
webhook = "{receiver.url}"
timeout = "2s"

[[accounts]]
name = "clinic"
handle = "{ACCOUNT}"
timezone = "UTC"

[[accounts]]
name = "masto"
network = "mastodon"
handle = "{ACCOUNT}"
instance = "https://social.example"
timezone = "UTC"
""", source=None)
    for name, network in (("clinic", "x"), ("masto", "mastodon")):
        config = root.for_account(name)
        store.add_post(config.account, new_post(f"p-{name}", "Walk after meals."), T0)
        ReviewWatcher().check(store, config, T0)
        [delivered] = deliver_due(store, config, T0)
        assert delivered.error is None
        hook = receiver.bodies[-1]
        assert (hook["account"], hook["network"], hook["handle"]) == (name, network, ACCOUNT)
        assert hook["event"] == "awaiting review" and [p["post_id"] for p in hook["posts"]] == [f"p-{name}"]
        assert set(hook) == {"event", "account", "network", "handle", "posts", "text"}
