"""Fixtures for the dashboard's tests: a real ledger file, the seed's posts, and the app in-process.

web        a WebEnv: config and Store on a SQLite file in tmp_path, posts/ imported, a fixed clock
           (Monday 2026-11-30 00:00 in New York), and ``client()`` for Starlette's TestClient aimed
           at http://127.0.0.1 (the host the open, password-less mode answers to)
serving    a context manager: an app on uvicorn in a thread on a free 127.0.0.1 port, yielding its base URL
"""

from __future__ import annotations

import json
import socket
import threading
import time
import warnings
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler.config import load_config
from scheduler.ledger.store import Store

REPO = Path(__file__).parents[1]
POSTS = REPO / "posts"
TIP_IDS = [f"massage-therapy-for-back-pain-{n}" for n in range(1, 6)]
NOW = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
# The peer TestClient reports (its default, "testclient", is no address): the password-less dashboard answers
# loopback peers only.
LOOPBACK_CLIENT = ("127.0.0.1", 50000)  # 00:00 in New York, a Monday

CONFIG = """\
[account]
handle = "GleiberMD"
timezone = "America/New_York"

[calendar]
slots = ["mon-fri 09:00", "sat 11:30"]

[quota]
daily = 0
monthly = 0

[publisher]
kind = "outbox"

[service]
heartbeat = "1s"
watch_interval = "1s"
"""


# The accounts of the multi-account dashboard tests: one on X, one on Bluesky, one on Mastodon (whose server URL
# the test gives: a stand-in on 127.0.0.1).
_ACCOUNT_TABLES = {
    "clinic": 'name = "clinic"\nhandle = "GleiberMD"\ntimezone = "America/New_York"\n',
    "sky": 'name = "sky"\nnetwork = "bluesky"\nhandle = "clinic.bsky.social"\ntimezone = "{sky_timezone}"\n',
    "toot": 'name = "toot"\nnetwork = "mastodon"\nhandle = "clinic"\ninstance = "{instance}"\n'
            'timezone = "America/New_York"\n',
}


def accounts_config(*names: str, instance: str = "", sky_timezone: str = "Europe/Berlin",
                    slots: tuple[str, ...] = ("mon-fri 09:00", "sat 11:30"), head: str = "",
                    service: bool = False) -> str:
    """A scheduler.toml with the named accounts (of clinic, sky, toot), publishing to the outbox, no quota."""
    text = (head + "\n\n" if head else "") + f"[calendar]\nslots = {json.dumps(list(slots))}\n\n"
    text += '[quota]\ndaily = 0\nmonthly = 0\n\n[publisher]\nkind = "outbox"\n'
    if service:
        text += '\n[service]\nheartbeat = "1s"\nwatch_interval = "1s"\n'
    for name in names:
        text += "\n[[accounts]]\n" + _ACCOUNT_TABLES[name].format(instance=instance, sky_timezone=sky_timezone)
    return text

class WebEnv:
    def __init__(self, tmp: Path, monkeypatch):
        self.tmp = tmp
        self.home = tmp / "home"
        self.config_path = tmp / "scheduler.toml"
        self.config_path.write_text(CONFIG, encoding="utf-8")
        monkeypatch.setenv("SCHEDULER_HOME", str(self.home))
        monkeypatch.delenv("SCHEDULER_DATABASE_URL", raising=False)
        self.config = load_config(str(self.config_path))
        self.store = Store.open(self.config.database_url)
        self.now = NOW

    def clock(self) -> datetime:
        return self.now

    def import_posts(self) -> None:
        from scheduler.articles.library import import_articles

        import_articles(self.store, self.config, [POSTS], self.now)

    def app(self, *, local_only: bool = True):
        from scheduler.web.app import create_app

        return create_app(self.config, self.store, local_only=local_only, clock=self.clock)

    def client(self, *, local_only: bool = True, base_url: str = "http://127.0.0.1"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from starlette.testclient import TestClient

        return TestClient(self.app(local_only=local_only), base_url=base_url, client=LOOPBACK_CLIENT)

    def queue_ids(self) -> list[str]:
        return [p.post_id for p in self.store.queue_page(self.config.account, limit=1000)]

    def token(self, name: str = "script") -> str:
        from scheduler.app.access import create_token

        return create_token(self.store, name, self.now).secret

    def set_password(self, password: str = "correct horse battery", user: str = "admin") -> None:
        from scheduler.app.access import hash_password

        self.store.set_password(user, hash_password(password), self.now)


@pytest.fixture
def web(tmp_path, monkeypatch):
    env = WebEnv(tmp_path, monkeypatch)
    env.import_posts()
    yield env
    env.store.close()


@pytest.fixture
def web_with_review(tmp_path, monkeypatch):
    """``web`` with ``[review] required = true``: the seed imported, every post awaiting review."""
    env = WebEnv(tmp_path, monkeypatch)
    env.config_path.write_text(env.config_path.read_text() + "\n[review]\nrequired = true\n", encoding="utf-8")
    env.config = load_config(str(env.config_path))
    env.import_posts()
    yield env
    env.store.close()


@contextmanager
def serving(app):
    """``app`` served by uvicorn (as `scheduler web` serves it) on 127.0.0.1, in a thread of this process."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def csrf_of(html: str) -> str:
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser").find("meta", attrs={"name": "csrf-token"})["content"]
