"""Sign-in limits: each attempt is counted in the ledger before the slow password check (so concurrent tries
cannot all slip under the limit, and every dashboard process shares the count), per client address and per user
name, with exponential back-off that an attacker at one address cannot turn into a lock-out of the real user."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests
from bs4 import BeautifulSoup

from scheduler.ledger.store import Store
from scheduler.app.access import ADDRESS_FREE, USER_FREE, USER_MAX_WAIT, LoginLimiter
from tests.helpers_web import NOW, serving, web  # noqa: F401
from tests.test_web_proxy import reverse_proxy

PASSWORD = "correct horse battery"


def login_form(base: str) -> tuple[dict, str]:
    page = requests.get(f"{base}/login", timeout=30)
    token = BeautifulSoup(page.text, "html.parser").find("input", attrs={"name": "csrf"})["value"]
    return dict(page.cookies), token


def test_sixty_concurrent_wrong_passwords_are_not_all_checked_and_the_user_still_signs_in_elsewhere(
        web, monkeypatch):  # noqa: F811
    import scheduler.app.access as access

    checks = []
    real_verify = access.verify_password

    def counted_verify(password, stored):  # the real check, counted
        checks.append(password)
        return real_verify(password, stored)

    monkeypatch.setattr(access, "verify_password", counted_verify)
    web.set_password(PASSWORD)
    with serving(web.app()) as base:
        cookies, token = login_form(base)
        start = threading.Barrier(60)

        def attempt(n: int) -> requests.Response:
            start.wait(60)
            return requests.post(f"{base}/login", cookies=cookies, allow_redirects=False, timeout=120,
                                 data={"csrf": token, "username": "admin", "password": f"wrong password {n}"})

        with ThreadPoolExecutor(60) as pool:
            answers = list(pool.map(attempt, range(60)))
        statuses = [a.status_code for a in answers]
        assert statuses.count(401) + statuses.count(429) == 60, statuses
        assert statuses.count(401) <= ADDRESS_FREE, statuses  # at most the allowed number were checked
        assert len(checks) <= ADDRESS_FREE
        for refused in (a for a in answers if a.status_code == 429):
            assert int(refused.headers["retry-after"]) >= 1 and "too many failed sign-ins" in refused.text

        # From the attacking address even the right password waits...
        right = {"csrf": token, "username": "admin", "password": PASSWORD}
        assert requests.post(f"{base}/login", cookies=cookies, data=right, allow_redirects=False,
                             timeout=30).status_code == 429
        # ...but the real admin, at another address (through a proxy that says so), signs in at once.
        with reverse_proxy(int(base.rsplit(":", 1)[1]), forwarding={"X-Forwarded-For": "198.51.100.8"}) as proxied:
            admin = requests.Session()
            page = admin.get(f"{proxied}/login", timeout=30)
            form = BeautifulSoup(page.text, "html.parser").find("input", attrs={"name": "csrf"})["value"]
            signed_in = admin.post(f"{proxied}/login", data={**right, "csrf": form}, allow_redirects=False, timeout=30)
            assert signed_in.status_code == 303, signed_in.text


def test_two_processes_share_the_count(ledger_url):
    """Two stores (as two dashboard processes would hold) reserving at once: exactly the allowed number pass."""
    stores = [Store.open(ledger_url), Store.open(ledger_url)]
    try:
        limiters = [LoginLimiter(s) for s in stores]
        start = threading.Barrier(40)

        def attempt(n: int):
            start.wait(60)
            return limiters[n % 2].reserve("203.0.113.5", "admin", NOW)

        with ThreadPoolExecutor(40) as pool:
            waits = list(pool.map(attempt, range(40)))
        assert waits.count(None) == ADDRESS_FREE
        assert all(w is not None and w > timedelta(0) for w in waits if w is not None)
    finally:
        for s in stores:
            s.close()


def test_back_off_doubles_per_address_and_holds_a_user_name_back_briefly(store):
    limiter = LoginLimiter(store)
    now = NOW
    for _ in range(ADDRESS_FREE):
        assert limiter.reserve("203.0.113.5", "admin", now) is None
    assert limiter.reserve("203.0.113.5", "admin", now) == timedelta(seconds=30)
    now += timedelta(seconds=30)
    assert limiter.reserve("203.0.113.5", "admin", now) is None  # one more try, then twice as long
    assert limiter.reserve("203.0.113.5", "admin", now) == timedelta(seconds=60)
    assert limiter.reserve("203.0.113.6", "admin", now) is None  # another address: not held back

    # Many addresses failing for one user name hold it back, but never longer than a minute at a time.
    allowed, n = 0, 0
    while allowed < USER_FREE + 10:
        n += 1
        wait = limiter.reserve(f"198.51.100.{n}", "admin", now)
        assert wait is None or wait <= USER_MAX_WAIT
        allowed += wait is None
        now += wait or timedelta(0)
    assert limiter.reserve("192.0.2.1", "admin", now) == USER_MAX_WAIT
    now += USER_MAX_WAIT
    assert limiter.reserve("192.0.2.1", "admin", now) is None
    limiter.succeeded("192.0.2.1", "admin")  # a success clears its address and user name
    assert limiter.reserve("192.0.2.2", "admin", now) is None

    # IPv6: one /64 is one address.
    for n in range(ADDRESS_FREE):
        assert limiter.reserve(f"2001:db8::{n + 1}", f"user{n}", now) is None
    assert limiter.reserve("2001:db8::ffff", "someone", now) is not None


def limit_rows(store: Store) -> int:
    import sqlalchemy as sa

    from scheduler.ledger import migrations as m

    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(m.web_login_limits)).scalar()


def test_sign_ins_refused_from_a_blocked_address_write_nothing(web):  # noqa: F811
    """A blocked address sending attempts for ever new user names must not fill the ledger: a refused attempt
    neither counts nor leaves a row."""
    import uuid

    web.set_password(PASSWORD)
    client = web.client()
    token = BeautifulSoup(client.get("/login").text, "html.parser").find("input", attrs={"name": "csrf"})["value"]
    for n in range(ADDRESS_FREE):
        assert client.post("/login", data={"csrf": token, "username": f"guess{n}", "password": "wrong password"},
                           follow_redirects=False).status_code == 401
    before = limit_rows(web.store)
    statuses = set()
    for _ in range(500):
        answer = client.post("/login", data={"csrf": token, "username": uuid.uuid4().hex * 3, "password": "x"},
                             follow_redirects=False)
        statuses.add(answer.status_code)
    assert statuses == {429}
    assert limit_rows(web.store) == before == ADDRESS_FREE + 1  # the address, and the names it tried while counted


def test_a_refused_attempt_writes_nothing_even_when_blocked_by_a_concurrent_one(store):
    """Two processes: while one attempt is being counted (and blocks the address), another for a new user name
    waits for it, then is refused, and the row it would have made for its user name is not left behind."""
    limiter = LoginLimiter(store)
    for n in range(ADDRESS_FREE - 1):
        assert limiter.reserve("203.0.113.5", f"user{n}", NOW) is None
    other = Store.open(store.engine.url.render_as_string(hide_password=False))
    try:
        start = threading.Barrier(20)

        def attempt(n: int):
            start.wait(60)
            return LoginLimiter(other if n % 2 else store).reserve("203.0.113.5", f"new{n}", NOW)

        with ThreadPoolExecutor(20) as pool:
            waits = list(pool.map(attempt, range(20)))
    finally:
        other.close()
    assert waits.count(None) == 1  # the fifth counted attempt blocks the address
    assert limit_rows(store) == 1 + ADDRESS_FREE  # the address and the five user names counted; no other row


def test_an_attack_from_ever_new_addresses_does_not_keep_out_a_browser_that_signed_in_before(web):  # noqa: F811
    """The reviewer's attack: wrong passwords for "admin" from a fresh address each time the user name's block ends
    keep the name blocked for good. A browser that has signed in as admin before (its device cookie) is counted on
    its own and gets in every time; a browser that never did waits, as before."""
    web.set_password(PASSWORD)
    with serving(web.app()) as base:

        def sign_in(browser: requests.Session, address: str, password: str, username: str = "admin"):
            # Through a proxy on 127.0.0.1 that names the visitor (uvicorn takes the address from it).
            page = browser.get(f"{base}/login", headers={"X-Forwarded-For": address}, timeout=30)
            token = BeautifulSoup(page.text, "html.parser").find("input", attrs={"name": "csrf"})["value"]
            return browser.post(f"{base}/login", headers={"X-Forwarded-For": address}, allow_redirects=False,
                                timeout=30, data={"csrf": token, "username": username, "password": password})

        admin = requests.Session()
        assert sign_in(admin, "198.51.100.8", PASSWORD).status_code == 303  # once, before the attack
        assert "tdevice" in admin.cookies

        attacker, addresses = requests.Session(), (f"203.0.113.{n}" for n in range(1, 250))
        tries = 0
        while sign_in(attacker, next(addresses), "wrong guess 1").status_code == 401:
            tries += 1
        assert tries == USER_FREE  # the user name is blocked now

        for round in range(6):
            web.now += USER_MAX_WAIT  # the block ends, and at once a fresh address renews it
            assert sign_in(attacker, next(addresses), "wrong guess 2").status_code == 401
            stranger = requests.Session()  # the admin on a browser never signed in with: held back, as before
            assert sign_in(stranger, f"192.0.2.{round + 1}", PASSWORD).status_code == 429
            signed_in = sign_in(admin, f"198.51.100.{round + 9}", PASSWORD)  # the admin's own browser: in
            assert signed_in.status_code == 303, signed_in.text
            assert admin.get(f"{base}/queue", timeout=30).status_code == 200

        # The cookie is for admin only, and cannot be altered to name another user.
        cookie = admin.cookies["tdevice"]
        web.set_password(PASSWORD, user="editor1")
        for _ in range(USER_FREE):
            sign_in(attacker, next(addresses), "wrong guess 3", username="editor1")
        other = requests.Session()
        other.cookies.set("tdevice", cookie)
        assert sign_in(other, "192.0.2.50", PASSWORD, username="editor1").status_code == 429
        import base64

        forged = cookie.split(".")
        forged[1] = base64.urlsafe_b64encode(b"editor1").rstrip(b"=").decode()
        other.cookies.set("tdevice", ".".join(forged))
        assert sign_in(other, "192.0.2.51", PASSWORD, username="editor1").status_code == 429


def test_a_browser_with_a_device_cookie_has_its_own_limit_and_does_not_count_for_the_user_name(web):  # noqa: F811
    web.set_password(PASSWORD)
    client = web.client()

    def attempt(password: str):
        token = BeautifulSoup(client.get("/login").text, "html.parser").find("input", attrs={"name": "csrf"})["value"]
        return client.post("/login", data={"csrf": token, "username": "admin", "password": password},
                           follow_redirects=False)

    assert attempt(PASSWORD).status_code == 303
    for _ in range(ADDRESS_FREE):
        assert attempt("wrong password").status_code == 401
    refused = attempt(PASSWORD)
    assert refused.status_code == 429 and "from this browser" in refused.text
    assert limit_rows(web.store) == 1  # the device's row: the address and the user name were not counted
    web.now += timedelta(seconds=30)
    assert attempt(PASSWORD).status_code == 303


def test_a_signed_cookie_whose_expiry_is_not_ascii_digits_is_ignored_not_a_server_error(web):  # noqa: F811
    """"²" passes str.isdigit() and int() refuses it: a cookie with it is no cookie (the password-less session's and
    the device cookie alike), not a 500."""
    from tests.test_web_proxy import raw_request

    with serving(web.app()) as base:
        assert raw_request(base, b"GET /queue HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: tsid=l1.abc.\xb2.xyz\r\n"
                           b"Connection: close\r\n\r\n").endswith(b" 200 OK")
        web.set_password(PASSWORD)
        cookies, token = login_form(base)
        body = f"csrf={token}&username=admin&password=wrong+password".encode()
        request = (b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                   b"Cookie: tlogin=" + cookies["tlogin"].encode() + b"; tdevice=d1.YWRtaW4.abc.\xb2.xyz\r\n"
                   b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        assert raw_request(base, request).endswith(b" 401 Unauthorized")
