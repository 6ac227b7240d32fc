"""The stand-in X API answers like X_API.md says X does (shapes, statuses, headers, faults)."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from requests_oauthlib import OAuth1

from scheduler.publisher.transport import mount
from scheduler.standin import StandinX

X = "https://api.twitter.com"  # what clients sign; the mounted adapter sends it to the stand-in


@pytest.fixture
def api(standin: StandinX) -> requests.Session:
    """A session that signs OAuth 1.0a for X's URL and is routed to the stand-in, as tweepy's is."""
    session = requests.Session()
    mount(session, standin.url, timeout=(1, 2))
    account = standin.default_account
    session.auth = OAuth1(standin.consumer_key, standin.consumer_secret, account.access_token, account.access_token_secret)
    return session


def post(api: requests.Session, **body) -> requests.Response:
    return api.post(f"{X}/2/tweets", json=body)


def test_create_returns_201_with_id_text_and_edit_history(api, standin):
    r = post(api, text="hello")
    assert r.status_code == 201
    data = r.json()["data"]
    assert data["text"] == "hello" and data["id"].isdigit() and len(data["id"]) >= 18
    assert data["edit_history_tweet_ids"] == [data["id"]]
    [stored] = standin.timeline()
    assert stored["id"] == data["id"] and stored["created_at"].tzinfo is not None


def test_ids_increase_with_time(api):
    first = post(api, text="one").json()["data"]["id"]
    second = post(api, text="two").json()["data"]["id"]
    assert int(second) > int(first)


def test_unknown_field_is_400(api):
    assert post(api, text="x", nullcast=True).status_code == 400


def test_too_long_is_400_with_message(api, standin):
    r = post(api, text="a" * 281)
    assert r.status_code == 400
    assert r.json()["detail"].startswith("Your Tweet text is too long")
    assert standin.timeline() == []


def test_duplicate_text_is_403_with_xs_body(api):
    post(api, text="same")
    r = post(api, text="same")
    assert r.status_code == 403
    assert r.json() == {
        "detail": "You are not allowed to create a Tweet with duplicate content.",
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
    }


def test_reply_to_unknown_post_is_400_and_to_own_post_works(api, standin):
    assert post(api, text="orphan", reply={"in_reply_to_tweet_id": "123"}).status_code == 400
    parent = post(api, text="parent").json()["data"]["id"]
    assert post(api, text="child", reply={"in_reply_to_tweet_id": parent}).status_code == 201
    assert standin.timeline()[-1]["reply_to"] == parent


def test_missing_or_wrong_credentials_are_401(standin, api):
    anonymous = requests.Session()
    mount(anonymous, standin.url)
    r = anonymous.post(f"{X}/2/tweets", json={"text": "x"})
    assert r.status_code == 401 and r.json()["title"] == "Unauthorized"
    account = standin.default_account
    anonymous.auth = OAuth1(standin.consumer_key, "wrong-secret", account.access_token, account.access_token_secret)
    assert anonymous.post(f"{X}/2/tweets", json={"text": "x"}).status_code == 401


def test_signature_must_be_for_xs_url(standin):
    """Signing the stand-in's own URL passes too, but a different path's signature does not."""
    account = standin.default_account
    auth = OAuth1(standin.consumer_key, standin.consumer_secret, account.access_token, account.access_token_secret)
    assert requests.get(f"{standin.url}/2/users/me", auth=auth, timeout=2).status_code == 200
    signed = requests.Request("GET", f"{X}/2/users/other", auth=auth).prepare()
    r = requests.get(f"{standin.url}/2/users/me", headers={"Authorization": signed.headers["Authorization"]}, timeout=2)
    assert r.status_code == 401


def test_me_and_timeline_shapes(api, standin):
    me = api.get(f"{X}/2/users/me").json()["data"]
    assert me == {"id": standin.default_account.user_id, "name": "Tipbot", "username": "tipbot"}
    first = post(api, text="first").json()["data"]["id"]
    post(api, text="second", reply={"in_reply_to_tweet_id": first})
    r = api.get(
        f"{X}/2/users/{me['id']}/tweets",
        params={"max_results": 5, "tweet.fields": "created_at,referenced_tweets,in_reply_to_user_id"},
    )
    body = r.json()
    assert [t["text"] for t in body["data"]] == ["second", "first"]  # newest first
    assert body["data"][0]["referenced_tweets"] == [{"type": "replied_to", "id": first}]
    assert body["data"][0]["in_reply_to_user_id"] == me["id"]
    assert body["data"][1]["created_at"].endswith("Z") and "referenced_tweets" not in body["data"][1]
    assert body["meta"]["result_count"] == 2


def test_timeline_start_time_and_pagination(api, standin):
    uid = standin.default_account.user_id
    for n in range(7):
        post(api, text=f"post {n}")
    page = api.get(f"{X}/2/users/{uid}/tweets", params={"max_results": 5}).json()
    assert page["meta"]["result_count"] == 5 and "next_token" in page["meta"]
    rest = api.get(
        f"{X}/2/users/{uid}/tweets", params={"max_results": 5, "pagination_token": page["meta"]["next_token"]}
    ).json()
    assert [t["text"] for t in rest["data"]] == ["post 1", "post 0"]
    future = (datetime.now(timezone.utc) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    empty = api.get(f"{X}/2/users/{uid}/tweets", params={"max_results": 5, "start_time": future}).json()
    assert empty == {"meta": {"result_count": 0}}  # X omits "data" when nothing matches


def test_read_access_off_gives_client_forbidden(api, standin):
    standin.set_read_access(False)
    r = api.get(f"{X}/2/users/{standin.default_account.user_id}/tweets")
    assert r.status_code == 403 and r.json()["type"].endswith("client-forbidden")


@pytest.mark.parametrize(
    ("kind", "status", "type_suffix"),
    [
        ("unauthorized", 401, "about:blank"),
        ("permission", 403, "oauth1-permissions"),
        ("client_forbidden", 403, "client-forbidden"),
        ("payment_required", 402, "about:blank"),
        ("server_error", 500, "about:blank"),
        ("bad_gateway", 502, "about:blank"),
        ("unavailable", 503, "about:blank"),
    ],
)
def test_injected_error_statuses(api, standin, kind, status, type_suffix):
    standin.inject("tweets", kind)
    r = post(api, text="x")
    assert r.status_code == status and r.json()["type"].endswith(type_suffix)
    assert standin.timeline() == []
    assert post(api, text="x").status_code == 201  # only the next request was faulted


def test_rate_limited_429_has_headers(api, standin):
    standin.inject("tweets", "rate_limited", reset_in=60, times=2)
    for _ in range(2):
        r = post(api, text="x")
        assert r.status_code == 429
        assert r.headers["x-rate-limit-remaining"] == "0" and r.headers["x-rate-limit-limit"]
        assert abs(int(r.headers["x-rate-limit-reset"]) - (time.time() + 60)) < 5
    assert post(api, text="x").status_code == 201


def test_slow_reply_still_creates(api, standin):
    standin.inject("tweets", "slow", seconds=0.5)
    start = time.monotonic()
    assert post(api, text="slow").status_code == 201
    assert time.monotonic() - start >= 0.5


def test_create_then_drop_stores_the_post_and_sends_nothing(api, standin):
    standin.inject("tweets", "create_then_drop")
    with pytest.raises(requests.ConnectionError):
        post(api, text="lost answer")
    assert [p["text"] for p in standin.timeline()] == ["lost answer"]
    assert standin.request_log()[-1]["status"] is None


def test_latency_applies_to_every_request(api, standin):
    standin.set_latency(200)
    start = time.monotonic()
    api.get(f"{X}/2/users/me")
    assert time.monotonic() - start >= 0.2


def test_random_faults_are_seeded_and_counted(api, standin):
    standin.set_fault_rate(0.5, kinds=["unavailable"], seed=7)
    statuses = [post(api, text=f"n{i}").status_code for i in range(20)]
    assert set(statuses) == {201, 503}
    assert len(standin.timeline()) == statuses.count(201)
    assert standin.request_count("tweets") == 20


def test_media_upload_and_attach(api, standin):
    r = api.post(
        f"{X}/2/media/upload",
        files={"media": ("a.png", b"\x89PNG\r\n\x1a\n0000", "image/png")},
        data={"media_category": "tweet_image"},
    )
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["media_key"] == f"3_{data['id']}" and data["expires_after_secs"] == 86400
    assert post(api, text="pic", media={"media_ids": [data["id"]]}).status_code == 201
    assert post(api, text="bad pic", media={"media_ids": ["999"]}).status_code == 400
    assert standin.timeline()[0]["media_ids"] == [data["id"]]


def test_oauth2_pkce_flow_and_single_use_refresh(standin):
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = "http://127.0.0.1:1/callback"
    query = {
        "response_type": "code",
        "client_id": standin.oauth2_client_id,
        "redirect_uri": redirect,
        "scope": "tweet.read tweet.write users.read offline.access",
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    r = requests.get(f"{standin.url}/i/oauth2/authorize?{urlencode(query)}", allow_redirects=False, timeout=2)
    assert r.status_code == 302
    params = parse_qs(urlsplit(r.headers["Location"]).query)
    assert params["state"] == ["s1"]
    token_url = f"{standin.url}/2/oauth2/token"
    form = {"grant_type": "authorization_code", "code": params["code"][0], "redirect_uri": redirect,
            "client_id": standin.oauth2_client_id}
    assert requests.post(token_url, data=dict(form, code_verifier="wrong" * 10), timeout=2).status_code == 400
    # A failed exchange spends the code, as a real authorization server may; start again.
    r = requests.get(f"{standin.url}/i/oauth2/authorize?{urlencode(query)}", allow_redirects=False, timeout=2)
    form["code"] = parse_qs(urlsplit(r.headers["Location"]).query)["code"][0]
    tokens = requests.post(token_url, data=dict(form, code_verifier=verifier), timeout=2).json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 7200 and tokens["refresh_token"]
    me = requests.get(f"{standin.url}/2/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=2)
    assert me.json()["data"]["username"] == "tipbot"

    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": standin.oauth2_client_id}
    fresh = requests.post(token_url, data=refresh, timeout=2).json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    reused = requests.post(token_url, data=refresh, timeout=2)
    assert reused.status_code == 400
    assert reused.json() == {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}


def test_control_endpoints_steer_a_running_server(api, standin):
    requests.post(f"{standin.url}/_standin/fault", json={"endpoint": "tweets", "kind": "unavailable"}, timeout=2)
    assert post(api, text="x").status_code == 503
    assert post(api, text="x").status_code == 201
    timeline = requests.get(f"{standin.url}/_standin/timeline", timeout=2).json()["data"]
    assert [p["text"] for p in timeline] == ["x"]
    stats = requests.get(f"{standin.url}/_standin/stats", timeout=2).json()
    assert stats["by_endpoint"]["tweets"] == 2
    bad = requests.post(f"{standin.url}/_standin/fault", json={"endpoint": "tweets", "kind": "nope"}, timeout=2)
    assert bad.status_code == 400


def test_module_runs_in_foreground_and_exits_0_on_sigterm():
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler.standin", "--port", "0", "--latency-ms", "10"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(f"{url}/2/users/me", timeout=2).status_code == 401
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
