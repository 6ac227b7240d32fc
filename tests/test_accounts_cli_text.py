"""The CLI's text for a Bluesky or Mastodon account speaks of that network: `history` and `queue show` give each
sent post's address on its own network, `status` says where posts go, and the service's log names the account's
handle (real subprocesses against the three stand-ins)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

import pytest

from scheduler.standins.bluesky import StandinBluesky
from scheduler.standins.mastodon import StandinMastodon
from scheduler.standins.x import StandinX
from tests.test_accounts_service import CONFIG, Three

TEXT = "Stand up and walk for two minutes every half hour: a stiff back loosens."


@pytest.fixture
def three(tmp_path):
    with StandinX() as x, StandinBluesky() as bsky, StandinMastodon() as masto:
        yield Three(tmp_path, x, bsky, masto)


def _serve_until_empty(three: Three) -> str:
    result = subprocess.run([sys.executable, "-m", "scheduler", "serve", "--until-empty", "--log-level", "debug"], env=three.env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_history_queue_show_status_and_log_speak_of_each_accounts_network(three):
    ids = {}
    for name in ("x", "bsky", "masto"):
        added = three.cli("queue", "add", f"{name}: {TEXT}", "--now", "--account", name).stdout
        ids[name] = re.search(r"queued (\S+) ", added).group(1)
    log = _serve_until_empty(three)

    bsky_handle = three.bsky.default_account.handle
    rkey = three.bsky.posts()[0]["rkey"]
    masto_user = three.masto.default_account.username
    masto_id = three.masto.statuses()[0]["id"]
    x_id = three.x.timeline()[0]["id"]
    expected = {
        "x": f"https://x.com/{three.x.default_account.username}/status/{x_id}",
        "bsky": f"https://bsky.app/profile/{bsky_handle}/post/{rkey}",
        "masto": f"{three.masto.url}/@{masto_user}/{masto_id}",
    }
    network = {"x": "X", "bsky": "Bluesky", "masto": "Mastodon"}
    for name, url in expected.items():
        history = three.cli("history", "--account", name).stdout
        shown = three.cli("queue", "show", ids[name], "--account", name).stdout
        status = three.cli("status", "--account", name).stdout
        for text in (history, shown):
            assert url in text, (name, text)
            assert "outbox" not in text and (name == "x" or "x.com" not in text), (name, text)
        assert f"Posts go:  to {network[name]}\n" in status, (name, status)
        assert re.search(rf"publication post_id={re.escape(ids[name])} .*outcome=sent url={re.escape(url)}", log), log
    # The Bluesky account's handle, DID and server are not secrets: the log keeps them; its tokens never show.
    assert "~***" not in log and "/profile/***/" not in log, log
    assert three.bsky.default_account.password not in log
    session = (three.tmp / "home" / "bluesky-session-bsky.json").read_text(encoding="utf-8").strip().split(":::")
    access_jwt, refresh_jwt = session[2:4]
    assert access_jwt not in log and refresh_jwt not in log


def test_status_says_posts_go_to_the_outbox_not_to_the_accounts_network(three):
    del three.env["CLINIC_BSKY_APP_PASSWORD"]
    three.config.write_text(three.config.read_text().replace('kind = "x"', 'kind = "auto"'), encoding="utf-8")
    status = three.cli("status", "--account", "bsky").stdout
    assert re.search(r"Posts go:  to the outbox file \S+outbox-bsky\.jsonl, NOT to Bluesky \(no Bluesky credentials",
                     status), status


def test_an_accounts_unusable_credentials_file_pauses_that_account_only_and_says_how_to_fix_it(three):
    """One account's credentials file missing, then readable by others: the service starts, the other accounts
    publish, that account is paused with a reason naming it and the fix; fixed, a SIGHUP and a resume send its post."""
    secret = three.tmp / "masto.secret"
    secret.unlink()
    for name in ("x", "bsky", "masto"):
        three.cli("queue", "add", f"{name}: {TEXT}", "--now", "--account", name)
    proc = three.serve("serve")
    three.wait(lambda: len(three.x.timeline()) == 1 and len(three.bsky.posts()) == 1)
    masto = json.loads(three.cli("status", "--account", "masto", "--json").stdout)
    assert masto["paused"], masto
    reason = masto["paused_reason"]
    assert (f"account 'masto' (Mastodon) cannot use its credentials: {secret}: no such file; write it (mode 0600) "
            f"with ACCESS_TOKEN as KEY=VALUE lines, or take credentials_file out of the account in {three.config}"
            ) in reason, reason
    assert "scheduler queue resume --account masto" in reason
    status = three.cli("status", "--account", "masto").stdout
    needs = status.split("Needs you:", 1)[1]
    assert f"account 'masto' (Mastodon) cannot use its credentials: {secret}: no such file" in needs, status
    assert "keeps this account paused (the others publish)" in needs
    # The other accounts' status is not about the Mastodon file, and they are not paused.
    for name in ("x", "bsky"):
        assert "masto.secret" not in three.cli("status", "--account", name).stdout
        assert not json.loads(three.cli("status", "--account", name, "--json").stdout)["paused"]

    secret.write_text(f"ACCESS_TOKEN={three.masto.token}\n", encoding="utf-8")
    secret.chmod(0o644)
    proc.send_signal(signal.SIGHUP)  # reloaded: still unusable, still paused, now saying why
    three.wait(lambda: "readable by other users" in three.cli("status", "--account", "masto").stdout)
    status = three.cli("status", "--account", "masto").stdout
    assert f"chmod 600 {secret}" in status and three.masto.token not in status

    secret.chmod(0o600)
    proc.send_signal(signal.SIGHUP)
    three.wait(lambda: (three.tmp / "serve.log").read_text().count("configuration reloaded") == 2)
    three.cli("queue", "resume", "--account", "masto")
    three.wait(lambda: len(three.masto.statuses()) == 1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert three.texts() == {name: [f"{name}: {TEXT}"] for name in ("x", "bsky", "masto")}  # each once
    log = (three.tmp / "serve.log").read_text()
    assert three.masto.token not in log


def test_with_one_account_an_unusable_credentials_file_stops_the_service_from_starting(tmp_path):
    with StandinX() as x, StandinBluesky() as bsky, StandinMastodon() as masto:
        config = CONFIG.replace('default_account = "x"\n', "")
        config = config[:config.index("[[accounts]]")] + config[config.index('[[accounts]]\nname = "masto"'):]
        one = Three(tmp_path, x, bsky, masto, config=config)
        (tmp_path / "masto.secret").chmod(0o644)
        serve = subprocess.run([sys.executable, "-m", "scheduler", "serve", "--until-empty"], env=one.env,
                               capture_output=True, text=True, timeout=120)
    assert serve.returncode != 0
    assert "account 'masto' (Mastodon) cannot use its credentials" in serve.stderr
    assert f"chmod 600 {tmp_path / 'masto.secret'}" in serve.stderr and masto.token not in serve.stderr


def _unknown(three: Three, account: str, text: str) -> str:
    """A post of the account whose outcome is unknown (as after a lost answer that no look-up settled)."""
    from datetime import UTC, datetime

    from scheduler.ledger.store import Store

    post_id = re.search(r"queued (\S+) ", three.cli("queue", "add", text, "--account", account).stdout).group(1)
    store = Store.open(f"sqlite:///{three.tmp / 'home' / 'ledger.sqlite3'}")
    try:
        now = datetime.now(UTC)
        assert store.claim_post(post_id, "test-instance", now, now) is not None
        store.mark_unknown(post_id, "test-instance", "the answer was lost and the look-up could not read", now)
    finally:
        store.close()
    return post_id


@pytest.mark.parametrize("account", ["bsky", "masto"])
def test_resolve_sent_takes_the_posts_id_or_address_on_the_accounts_network(three, account):
    if account == "bsky":
        remote_id = "3lbq5wmxqez2k"  # a record key (TID): not digits
        address = f"https://bsky.app/profile/{three.bsky.default_account.handle}/post/{remote_id}"
        foreign = f"https://bsky.app/profile/someone.bsky.social/post/{remote_id}"
    else:
        remote_id = "113542778410046655"
        address = f"{three.masto.url}/@{three.masto.default_account.username}/{remote_id}"
        foreign = f"https://other.example/@someone/{remote_id}"
    by_id = _unknown(three, account, f"{account}: a post settled by its id.")
    by_address = _unknown(three, account, f"{account}: a post settled by its address.")
    refused = subprocess.run([sys.executable, "-m", "scheduler", "resolve", by_address, "--sent", foreign,
                              "--account", account], env=three.env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "is not a post of this" in refused.stderr, refused.stderr

    assert f"recorded as sent ({remote_id})" in three.cli("resolve", by_id, "--sent", remote_id,
                                                          "--account", account).stdout
    three.cli("resolve", by_address, "--sent", address, "--account", account)
    history = {row["post_id"]: row for row in json.loads(three.cli("history", "--account", account, "--json").stdout)}
    for post_id in (by_id, by_address):
        assert (history[post_id]["state"], history[post_id]["tweet_id"]) == ("sent", remote_id)
        assert history[post_id]["url"] == address


def test_a_repeated_text_on_bluesky_is_refused_for_the_window_not_as_x_would(three):
    three.cli("queue", "add", TEXT, "--account", "bsky")
    again = subprocess.run([sys.executable, "-m", "scheduler", "queue", "add", TEXT, "--account", "bsky"],
                           env=three.env, capture_output=True, text=True, timeout=60)
    assert again.returncode != 0
    assert "once within [queue] duplicate_window" in again.stderr, again.stderr
    assert "X refuses duplicate posts" not in again.stderr


def _run(three: Three, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scheduler", *args], env=three.env, capture_output=True, text=True,
                          timeout=60)


def test_an_image_the_accounts_network_would_refuse_is_refused_when_queued(three):
    # 1.2 MB: within X's 5 MB, over Bluesky's 1,000,000 bytes per image (its publisher refuses it at upload).
    big = three.tmp / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(1_200_000))
    refused = _run(three, "queue", "add", "Our new stretching corner.", "--media", str(big), "--account", "bsky")
    assert refused.returncode != 0
    assert f"{big}: 1,200,008 bytes is over Bluesky's limit of 1,000,000 bytes per image" in refused.stderr
    assert json.loads(three.cli("queue", "list", "--json", "--account", "bsky").stdout) == []
    for account in ("x", "masto"):
        assert "queued " in three.cli("queue", "add", f"Our new stretching corner ({account}).", "--media", str(big),
                                      "--account", account).stdout

    # 6 MB: over X's 5 MB, within a stock Mastodon server's 16 MiB (its /api/v2/instance image_size_limit);
    # 17 MB: over that too.
    six = three.tmp / "six.png"
    six.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(6_000_000))
    refused = _run(three, "queue", "add", "Six megabytes.", "--media", str(six), "--account", "x")
    assert refused.returncode != 0 and "over X's 5 MB limit for image/png" in refused.stderr, refused.stderr
    assert "queued " in three.cli("queue", "add", "Six megabytes.", "--media", str(six), "--account", "masto").stdout
    huge = three.tmp / "huge.png"
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(17_000_000))
    refused = _run(three, "queue", "add", "Seventeen megabytes.", "--media", str(huge), "--account", "masto")
    assert refused.returncode != 0
    assert (f"{huge}: 17,000,008 bytes is over Mastodon's limit of 16,777,216 bytes per image; attach a smaller "
            "image") in refused.stderr, refused.stderr

    small = [three.tmp / f"small-{n}.png" for n in range(5)]
    for path in small:
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    five = [arg for path in small for arg in ("--media", str(path))]
    for account in ("x", "bsky", "masto"):
        refused = _run(three, "queue", "add", f"Five photos ({account}).", *five, "--account", account)
        assert refused.returncode != 0 and "5 images: a post holds at most 4" in refused.stderr, refused.stderr
        assert "queued " in three.cli("queue", "add", f"Four photos ({account}).", *five[:8], "--account",
                                      account).stdout
