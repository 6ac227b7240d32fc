"""Credentials: loading, file permissions, atomic token storage, the single-use refresh chain, no leaks."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import stat
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from scheduler.networks.x.credentials import (
    OAuth1Credentials,
    OAuth2Credentials,
    OAuth2Tokens,
    load_credentials,
    read_tokens,
    secret_values,
    store_tokens,
)
from scheduler.domain.errors import CredentialsError
from scheduler.networks.x.oauth2 import endpoints_for, ensure_fresh_access_token, finish_login, run_login, start_login
from scheduler.networks.x.publisher import XPublisher
from tests.conftest_standin import TEST_TIMEOUT

ENV = {
    "X_API_KEY": "key-AAAA1111",
    "X_API_SECRET": "secret-BBBB2222",
    "X_ACCESS_TOKEN": "token-CCCC3333",
    "X_ACCESS_TOKEN_SECRET": "tsecret-DDDD4444",
}


def private_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def expire_soon(path: Path) -> datetime:
    """The moment the stored access token is 1 minute from expiry (so it must be refreshed)."""
    return read_tokens(path).expires_at - timedelta(minutes=1)


# -- loading --------------------------------------------------------------------------------------


def test_oauth1_from_env(tmp_path):
    creds = load_credentials(ENV, tmp_path / "tokens.json")
    assert creds == OAuth1Credentials("key-AAAA1111", "secret-BBBB2222", "token-CCCC3333", "tsecret-DDDD4444")


def test_missing_names_are_listed_without_values(tmp_path):
    env = {"X_API_KEY": ENV["X_API_KEY"], "X_ACCESS_TOKEN": ENV["X_ACCESS_TOKEN"]}
    with pytest.raises(CredentialsError) as caught:
        load_credentials(env, tmp_path / "tokens.json")
    message = str(caught.value)
    assert "X_API_SECRET" in message and "X_ACCESS_TOKEN_SECRET" in message
    assert ENV["X_API_KEY"] not in message and ENV["X_ACCESS_TOKEN"] not in message


def test_nothing_configured_means_none(tmp_path):
    assert load_credentials({}, tmp_path / "tokens.json") is None


@pytest.mark.parametrize(
    "text",
    [
        "\n".join(f"{k}={v}" for k, v in ENV.items()),
        "\n".join(f'{k.lower().removeprefix("x_")} = "{v}"' for k, v in ENV.items()),
        "# comment\n" + "\n".join(f"export {k}='{v}'" for k, v in ENV.items()),
    ],
    ids=["key-value", "toml", "shell"],
)
def test_credentials_file(tmp_path, text):
    path = private_file(tmp_path / "x.env", text)
    creds = load_credentials({"X_CREDENTIALS_FILE": str(path)}, tmp_path / "tokens.json")
    assert secret_values(creds) == list(ENV.values())


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_shared_credentials_file_is_refused_with_chmod_hint(tmp_path, mode):
    path = private_file(tmp_path / "x.env", "X_API_KEY=k", mode)
    with pytest.raises(CredentialsError) as caught:
        load_credentials({"X_CREDENTIALS_FILE": str(path)}, tmp_path / "tokens.json")
    assert f"(mode {mode:04o}); run: chmod 600 {path}" in str(caught.value)


def test_shared_token_file_is_refused(tmp_path):
    path = private_file(tmp_path / "tokens.json", json.dumps({"access_token": "a", "client_id": "c"}), 0o644)
    with pytest.raises(CredentialsError, match=r"tokens.json is readable by other users \(mode 0644\); run: chmod 600"):
        load_credentials({}, path)


def test_oauth2_tokens_from_token_file(tmp_path):
    path = private_file(
        tmp_path / "tokens.json",
        json.dumps({"access_token": "acc-1234", "refresh_token": "ref-5678", "expires_at": 1800000000,
                    "client_id": "cid", "scope": "tweet.write"}),
    )
    creds = load_credentials({}, path)
    assert isinstance(creds, OAuth2Credentials)
    assert creds.tokens.expires_at == datetime.fromtimestamp(1800000000, timezone.utc)
    assert secret_values(creds) == ["acc-1234", "ref-5678"]


def test_repr_never_shows_secrets(tmp_path):
    creds = OAuth1Credentials(*ENV.values())
    tokens = OAuth2Tokens("acc-1234", "ref-5678", None, "cid", "tweet.write")
    texts = [repr(creds), str(creds), repr(tokens), repr(OAuth2Credentials(tmp_path / "t.json", tokens)),
             f"{creds}", repr([creds])]
    for text in texts:
        for value in [*ENV.values(), "acc-1234", "ref-5678"]:
            assert value not in text
    assert repr(creds) == "OAuth1Credentials(api_key='***', api_secret='***', access_token='***', access_token_secret='***')"


# -- storing --------------------------------------------------------------------------------------


def test_store_tokens_is_atomic_and_private(tmp_path):
    path = tmp_path / "state" / "tokens.json"
    tokens = OAuth2Tokens("acc", "ref", datetime(2026, 1, 1, tzinfo=timezone.utc), "cid", "s")
    old_umask = os.umask(0o022)
    try:
        store_tokens(path, tokens)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_tokens(path).refresh_token == "ref"
    store_tokens(path, OAuth2Tokens("acc2", "ref2", None, "cid", "s"))
    assert read_tokens(path).access_token == "acc2"
    assert [p.name for p in path.parent.iterdir()] == ["tokens.json"]  # no temp files left


def test_failed_store_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "tokens.json"
    store_tokens(path, OAuth2Tokens("old", "old-ref", None, "cid", "s"))

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store_tokens(path, OAuth2Tokens("new", "new-ref", None, "cid", "s"))
    assert read_tokens(path).refresh_token == "old-ref"
    assert [p.name for p in tmp_path.iterdir()] == ["tokens.json"]


# -- login ----------------------------------------------------------------------------------------


def test_pkce_login_against_the_standin(standin, tmp_path):
    endpoints = endpoints_for(standin.url)
    redirect = "http://127.0.0.1:1/callback"
    url, state, verifier = start_login(standin.oauth2_client_id, redirect, auth_base_url=endpoints.authorize_url)
    assert "offline.access" in url and "media.write" in url and "code_challenge_method=S256" in url
    callback = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    token_file = tmp_path / "tokens.json"
    now = datetime(2026, 5, 1, tzinfo=timezone.utc)
    tokens = finish_login(callback, state=state, code_verifier=verifier, client_id=standin.oauth2_client_id,
                          redirect_uri=redirect, token_url=endpoints.token_url, token_file=token_file, now=now)
    assert tokens.expires_at == now + timedelta(hours=2)
    assert read_tokens(token_file).refresh_token == tokens.refresh_token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_login_with_a_forged_state_is_refused(standin, tmp_path):
    endpoints = endpoints_for(standin.url)
    url, _, verifier = start_login(standin.oauth2_client_id, "http://127.0.0.1:1/cb", auth_base_url=endpoints.authorize_url)
    callback = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    with pytest.raises(CredentialsError, match="state"):
        finish_login(callback, state="other", code_verifier=verifier, client_id=standin.oauth2_client_id,
                     redirect_uri="http://127.0.0.1:1/cb", token_url=endpoints.token_url,
                     token_file=tmp_path / "t.json", now=datetime.now(timezone.utc))


def test_run_login_catches_the_redirect_on_loopback(standin, tmp_path, closed_port_url):
    port = int(closed_port_url.rsplit(":", 1)[1])
    shown: list[str] = []

    def browser(message: str) -> None:  # plays the user: open the URL, let it redirect to us
        shown.append(message)
        url = message.splitlines()[-1]
        threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 5}, daemon=True).start()

    token_file = tmp_path / "tokens.json"
    tokens = run_login(standin.oauth2_client_id, token_file=token_file, api_url=standin.url, port=port,
                       timeout_s=5, clock=lambda: datetime.now(timezone.utc), show=browser)
    assert read_tokens(token_file).access_token == tokens.access_token
    assert "authorize" in shown[0]


# -- refresh --------------------------------------------------------------------------------------


def test_fresh_token_is_returned_without_a_refresh(standin, oauth2_token_file):
    before = read_tokens(oauth2_token_file)
    token_url = endpoints_for(standin.url).token_url
    assert ensure_fresh_access_token(oauth2_token_file, token_url, datetime.now(timezone.utc)) == before.access_token
    assert standin.request_count("token") == 0


def test_refresh_rotates_and_stores_before_use(standin, oauth2_token_file, monkeypatch):
    token_url = endpoints_for(standin.url).token_url
    first = read_tokens(oauth2_token_file)
    stored_when_returned = []
    import scheduler.networks.x.oauth2 as oauth2

    real_store = oauth2.store_tokens

    def watching_store(path, tokens):
        real_store(path, tokens)
        stored_when_returned.append(read_tokens(path).access_token)

    monkeypatch.setattr(oauth2, "store_tokens", watching_store)
    access = ensure_fresh_access_token(oauth2_token_file, token_url, expire_soon(oauth2_token_file))
    assert stored_when_returned == [access]  # on disk before the caller got it
    second = read_tokens(oauth2_token_file)
    assert second.access_token == access != first.access_token
    assert second.refresh_token != first.refresh_token
    # The old refresh token is spent: the stand-in refuses it, as X does.
    reuse = requests.post(token_url, timeout=10, data={"grant_type": "refresh_token", "refresh_token": first.refresh_token,
                                                      "client_id": standin.oauth2_client_id})
    assert reuse.status_code == 400
    # The chain goes on from the stored token.
    third = ensure_fresh_access_token(oauth2_token_file, token_url, expire_soon(oauth2_token_file))
    assert third != access
    publisher = XPublisher(lambda: third, handle="tipbot", api_url=standin.url, timeout=TEST_TIMEOUT)
    assert publisher.create_post("still authorized")


def test_spent_refresh_token_gives_a_clear_error(standin, oauth2_token_file):
    token_url = endpoints_for(standin.url).token_url
    stale = read_tokens(oauth2_token_file)
    ensure_fresh_access_token(oauth2_token_file, token_url, expire_soon(oauth2_token_file))
    store_tokens(oauth2_token_file, stale)  # e.g. a backup restored over the live file
    with pytest.raises(CredentialsError) as caught:
        ensure_fresh_access_token(oauth2_token_file, token_url, expire_soon(oauth2_token_file))
    message = str(caught.value)
    assert "spent or has been revoked" in message and "scheduler auth login" in message
    assert stale.refresh_token not in message


def test_concurrent_refresh_in_threads_keeps_the_chain(standin, oauth2_token_file):
    token_url = endpoints_for(standin.url).token_url
    now = expire_soon(oauth2_token_file)
    results: list[str] = []
    errors: list[BaseException] = []

    def refresh() -> None:
        try:
            results.append(ensure_fresh_access_token(oauth2_token_file, token_url, now))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=refresh) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == [] and len(set(results)) == 1
    assert standin.request_count("token") == 1
    assert ensure_fresh_access_token(oauth2_token_file, token_url, expire_soon(oauth2_token_file))


def _refresh_in_child(path: str, token_url: str, now_ts: float, queue) -> None:
    try:
        now = datetime.fromtimestamp(now_ts, timezone.utc)
        queue.put(("ok", ensure_fresh_access_token(Path(path), token_url, now)))
    except Exception as exc:  # reported to the parent
        queue.put(("error", repr(exc)))


def test_concurrent_refresh_in_processes_keeps_the_chain(standin, oauth2_token_file):
    token_url = endpoints_for(standin.url).token_url
    now_ts = expire_soon(oauth2_token_file).timestamp()
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_refresh_in_child, args=(str(oauth2_token_file), token_url, now_ts, queue))
             for _ in range(3)]
    for p in procs:
        p.start()
    outcomes = [queue.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(10)
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    assert len({token for _, token in outcomes}) == 1
    assert standin.request_count("token") == 1


# -- nothing leaks into logs ----------------------------------------------------------------------


LIBRARY_LOGGERS = ("", "urllib3", "requests", "requests_oauthlib", "oauthlib", "tweepy", "scheduler")


def test_no_credential_reaches_any_log(standin, oauth1_credentials, oauth2_token_file, caplog, tmp_path):
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        image = tmp_path / "a.png"
        image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 8)
        publisher = XPublisher(oauth1_credentials, handle="tipbot", api_url=standin.url, timeout=TEST_TIMEOUT)
        publisher.create_post("oauth1 post", media_ids=(publisher.upload_media(image),))
        publisher.find_post("oauth1 post", since=datetime.now(timezone.utc) - timedelta(hours=1))
        standin.inject("tweets", "unauthorized")
        with pytest.raises(Exception):
            publisher.create_post("refused")

        before = read_tokens(oauth2_token_file)
        clock = lambda: expire_soon(oauth2_token_file)  # noqa: E731 - every call needs a refresh
        oauth2 = XPublisher(OAuth2Credentials(oauth2_token_file, before), handle="tipbot", api_url=standin.url,
                            timeout=TEST_TIMEOUT, clock=clock)
        oauth2.create_post("oauth2 post")
        oauth2.upload_media(image)
        oauth2.find_post("oauth2 post", since=datetime.now(timezone.utc) - timedelta(hours=1))
        after = read_tokens(oauth2_token_file)
    finally:
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
    assert len(caplog.records) > 20  # the libraries did log at DEBUG
    logged = "\n".join(r.getMessage() for r in caplog.records)
    secrets = [*secret_values(oauth1_credentials), *secret_values(before), *secret_values(after)]
    assert after.refresh_token != before.refresh_token  # refreshes happened and were logged about
    assert "Bearer ***" in logged and "oauth_token=***" in logged  # tweepy and oauthlib did try to log them
    for value in secrets:
        assert value not in logged, "a credential reached the logs"
