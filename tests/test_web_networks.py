"""Post cards as each account's network shows its posts, in-process on a real ledger file, with an X, a Bluesky and a
Mastodon account (the Mastodon server a real stand-in on 127.0.0.1 whose instance limit is 1,000): who posts, the
text with links, mentions and hashtags as that network finds and shows them, the length and limit by the network's
one rule (scheduler.text.limits), the editor's counter, and sent posts linked to where they are on their network."""

from __future__ import annotations

import html
import re
import warnings
from datetime import datetime

import pytest
from bs4 import BeautifulSoup
from hypothesis import given
from hypothesis import strategies as st

from scheduler.text import bluesky_length
from scheduler.text import mastodon_length
from scheduler.text import x_length as tweet_length
from scheduler.standins.mastodon import StandinMastodon
from tests.helpers_web import LOOPBACK_CLIENT, POSTS, WebEnv, accounts_config, csrf_of

MASTODON_LIMIT = 1000

LONG_LINK = "https://example.com/blog/massage-therapy-for-lower-back-pain-what-the-studies-say"


class Networks(WebEnv):
    def __init__(self, tmp, monkeypatch, instance: str):
        super().__init__(tmp, monkeypatch)
        self.config_path.write_text(accounts_config("clinic", "sky", "toot", instance=instance), encoding="utf-8")
        from scheduler.config import load_config
        from scheduler.articles.library import import_articles

        self.config = load_config(str(self.config_path))
        for each in self.config.each_account():
            import_articles(self.store, each, [POSTS], self.now)
        self.by_name = {name: self.config.for_account(name) for name in ("clinic", "sky", "toot")}

    def ids(self, name: str) -> list[str]:
        return [p.post_id for p in self.store.queue_page(self.by_name[name].account, limit=1000)]

    def client(self, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from starlette.testclient import TestClient
        return TestClient(self.app(), base_url="http://127.0.0.1", client=LOOPBACK_CLIENT, follow_redirects=False,
                          **kwargs)

    def add(self, name: str, text: str) -> str:
        from scheduler.web.actions import Actions

        return Actions(self.store, self.by_name[name], "local", self.clock).add(text, None).post_id


@pytest.fixture
def mastodon():
    with StandinMastodon(username="clinic", max_characters=MASTODON_LIMIT) as server:
        yield server


@pytest.fixture
def three(tmp_path, monkeypatch, mastodon):
    env = Networks(tmp_path, monkeypatch, mastodon.url)
    yield env
    env.store.close()


def page(response) -> BeautifulSoup:
    assert response.status_code == 200, response.text[:500]
    return BeautifulSoup(response.text, "html.parser")


def card_of(html_page: BeautifulSoup, post_id: str):
    return html_page.select_one(f'li[data-post-id="{post_id}"] .tweet')


EXPECTED = {  # account: (network, handle as the network writes it, limit, how it counts)
    "clinic": ("x", "@GleiberMD", 280, tweet_length.weighted_length),
    "sky": ("bluesky", "@clinic.bsky.social", 300, bluesky_length.length),
    "toot": ("mastodon", "@clinic@127.0.0.1", MASTODON_LIMIT,
             lambda text: mastodon_length.length(text, mastodon_length.Limits(MASTODON_LIMIT))),
}


@pytest.mark.parametrize("name", EXPECTED)
def test_each_card_shows_the_post_as_its_network_does(three, name):
    network, handle, limit, measure = EXPECTED[name]
    queue = page(three.client().get(f"/queue?account={name}"))
    cards = queue.select("#queue-list .tweet")
    assert len(cards) == len(three.ids(name)) == 5
    for post_id in three.ids(name):
        post = three.store.get(post_id)
        card = card_of(queue, post_id)
        assert card["data-network"] == network
        assert card.select_one(".handle").get_text() == handle
        assert card.select_one(".network").get_text() == {"x": "X", "bluesky": "Bluesky", "mastodon": "Mastodon"}[network]
        assert card.select_one(".len").get_text() == f"{measure(post.text)}/{limit}"
        # The editor's counter starts where the live counter (/compose/count) would: same rule, same output.
        counter = queue.find(id=f"count-{post_id}").output
        assert counter.get_text() == f"{measure(post.text)}/{limit}"
    assert "/280" not in queue.get_text() or network == "x"
    assert f"Length as {card.select_one('.network').get_text()} counts it" in queue.get_text()


def test_a_bluesky_card_shows_links_shortened_as_the_app_does(three):
    text = f"Read {LONG_LINK} and ask @physio.bsky.social about it #backpain"
    post_id = three.add("sky", text)
    card = card_of(page(three.client().get("/queue?account=sky")), post_id)
    sent = bluesky_length.rich_text(text)
    assert card.select_one(".text").get_text() == sent.text  # exactly the text Bluesky receives
    link = card.select_one(".link")
    assert link.get_text() == "example.com/blog/massage..." and link["title"] == LONG_LINK
    assert card.select_one(".mention").get_text() == "@physio.bsky.social"
    assert card.select_one(".hashtag").get_text() == "#backpain"
    assert card.select_one(".len").get_text() == f"{bluesky_length.graphemes(sent.text)}/300"


def test_a_mastodon_card_shows_links_as_mastodon_does_and_counts_them_23(three):
    text = f"Read {LONG_LINK} and ask @physio@mastodon.social about it #backpain"
    post_id = three.add("toot", text)
    card = card_of(page(three.client().get("/queue?account=toot")), post_id)
    link = card.select_one(".link")
    assert link.get_text() == "example.com/blog/massage-thera…" and link["title"] == LONG_LINK
    assert card.select_one(".mention").get_text() == "@physio@mastodon.social"
    assert card.select_one(".hashtag").get_text() == "#backpain"
    # 23 for the link, whatever its length; the rest as graphemes.
    assert card.select_one(".len").get_text() == f"{len(text) - len(LONG_LINK) + 23}/{MASTODON_LIMIT}"


def test_an_x_card_shows_links_whole_and_counts_them_23(three):
    text = f"Read {LONG_LINK} and ask @physio about it #backpain"
    post_id = three.add("clinic", text)
    card = card_of(page(three.client().get("/queue?account=clinic")), post_id)
    assert card.select_one(".link").get_text() == LONG_LINK
    assert card.select_one(".mention").get_text() == "@physio"
    assert card.select_one(".len").get_text() == f"{len(text) - len(LONG_LINK) + 23}/280"


def test_the_live_counter_uses_each_networks_limit(three):
    client = three.client()
    token = csrf_of(client.get("/queue?account=toot").text)
    text = "a" * 600  # over X's 280 and Bluesky's 300, within this Mastodon server's 1,000
    answers = {name: BeautifulSoup(client.post(f"/compose/count?account={name}", data={"csrf": token, "text": text})
                                   .text, "html.parser").output for name in EXPECTED}
    assert answers["toot"].get_text() == "600/1000" and "over" not in answers["toot"]["class"]
    assert answers["sky"].get_text().startswith("600/300: 300 too many") and "over" in answers["sky"]["class"]
    assert answers["clinic"].get_text().startswith("600/280: 320 too many")


SENT_IDS = {"clinic": "1864000000000000001", "sky": "3lbq5wmxqez2k", "toot": "113542778410046655"}


def sent_urls(three, mastodon) -> dict[str, str]:
    return {"clinic": f"https://x.com/GleiberMD/status/{SENT_IDS['clinic']}",
            "sky": f"https://bsky.app/profile/clinic.bsky.social/post/{SENT_IDS['sky']}",
            "toot": f"{mastodon.url}/@clinic/{SENT_IDS['toot']}"}


@pytest.mark.parametrize("name", EXPECTED)
def test_a_sent_post_links_to_it_on_its_network(three, mastodon, name):
    post_id = three.ids(name)[0]
    slot = datetime.fromisoformat("2026-11-30T09:00:00-05:00")
    assert three.store.claim(post_id, "test-instance", slot, three.now)
    three.store.mark_sent(post_id, "test-instance", [SENT_IDS[name]], three.now)
    three.now = datetime.fromisoformat("2026-11-30T12:00:00-05:00")
    client = three.client()
    url = sent_urls(three, mastodon)[name]
    network = {"clinic": "X", "sky": "Bluesky", "toot": "Mastodon"}[name]
    calendar = page(client.get(f"/calendar?view=week&date=2026-11-30&account={name}"))
    link = calendar.select_one(f'.card.sent[data-post-id="{post_id}"] a.on-network')
    assert (link["href"], link.get_text()) == (url, f"View on {network}")
    history = page(client.get(f"/history?account={name}"))
    link = history.select_one(f'li[data-post-id="{post_id}"] a.on-network')
    assert (link["href"], link.get_text()) == (url, f"View on {network}")
    api = three.client(headers={"Authorization": f"Bearer {three.token()}"})
    assert api.get("/api/v1/history", params={"account": name}).json()[0]["url"] == url


def test_the_links_are_the_publishers_own(three, mastodon, tmp_path):
    """The pages' addresses (scheduler.networks.post_links) are those the publishers log for the posts they send."""
    from scheduler.networks.post_links import post_url
    from scheduler.networks.bluesky.publisher import BlueskyPublisher
    from scheduler.networks.mastodon.publisher import MastodonPublisher
    from scheduler.networks.x.publisher import XPublisher  # noqa: F401  (its post_url is x.com/HANDLE/status/ID)

    bluesky = BlueskyPublisher(handle="clinic.bsky.social", app_password="unused", session_file=tmp_path / "s")
    toot = MastodonPublisher(access_token="unused", instance_url=mastodon.url, handle="clinic")
    try:
        assert post_url(three.by_name["sky"], SENT_IDS["sky"]) == bluesky.post_url(SENT_IDS["sky"])
        assert post_url(three.by_name["toot"], SENT_IDS["toot"]) == toot.post_url(SENT_IDS["toot"])
    finally:
        bluesky.close()
        toot.close()
    for name in EXPECTED:
        assert post_url(three.by_name[name], "outbox-7") == "outbox:outbox-7"  # not a web address: no link


@pytest.mark.parametrize("name", EXPECTED)
def test_an_unknown_post_is_settled_with_its_address_or_id_on_its_network(three, mastodon, name):
    post_id = three.ids(name)[0]
    slot = datetime.fromisoformat("2026-11-30T09:00:00-05:00")
    three.store.claim(post_id, "gone-instance", slot, three.now)
    three.store.mark_unknown(post_id, "gone-instance", "no answer and not found", three.now)
    client = three.client()
    history = page(client.get(f"/history?account={name}"))
    network = {"clinic": "X", "sky": "Bluesky", "toot": "Mastodon"}[name]
    assert history.select_one(f'label[for="tid-{post_id}"]').get_text() == f"It went out: its address or id on {network}"
    token = csrf_of(client.get(f"/history?account={name}").text)
    wrong = client.post(f"/history/{post_id}/resolve?account={name}", data={"csrf": token, "tweet_id": "not an id!"})
    assert wrong.status_code >= 400 and f"not a {'post id on X' if name == 'clinic' else network + ' post'}" in wrong.text
    assert three.store.get(post_id).state.value == "unknown"
    done = client.post(f"/history/{post_id}/resolve?account={name}",
                       data={"csrf": token, "tweet_id": sent_urls(three, mastodon)[name]})
    assert done.status_code == 303
    assert (three.store.get(post_id).state.value, three.store.get(post_id).tweet_id) == ("sent", SENT_IDS[name])
    row = page(client.get(f"/history?account={name}")).select_one("table.audit tbody tr")
    assert [td.get_text() for td in row.find_all("td")][2:] == ["resolve", post_id, f"sent as {SENT_IDS[name]}"]


def _unmarked(rendered: str, keep_titles: bool) -> str:
    """The text of rendered HTML: spans taken away (a link replaced by its title when ``keep_titles``)."""
    if keep_titles:
        rendered = re.sub(r'<span class="link" title="([^"]*)">[^<]*</span>', r"\1", rendered)
    stripped = re.sub(r'<span class="(?:link|mention|hashtag)"(?: title="[^"]*")?>|</span>', "", rendered)
    assert "<" not in stripped and ">" not in stripped  # nothing of the text became markup
    return html.unescape(stripped)


@given(st.text(max_size=300) | st.sampled_from([f"see {LONG_LINK} #tag @a.bsky.social <b>", "@x@y.z #1 #a1 <script>"]))
def test_bluesky_text_is_escaped_and_is_what_is_sent(text):
    from scheduler.web.render import post_html

    assert _unmarked(str(post_html(text, "bluesky")), keep_titles=False) == bluesky_length.rich_text(text).text


@given(st.text(max_size=300) | st.sampled_from([f"see {LONG_LINK}. #tag @a@b.social <b>", "http://x.y/\"><script>"]))
def test_mastodon_text_is_escaped_and_its_links_keep_their_address(text):
    import unicodedata

    from scheduler.web.render import post_html

    assert _unmarked(str(post_html(text, "mastodon")), keep_titles=True) == unicodedata.normalize("NFC", text)


def test_each_part_of_a_thread_shows_its_own_length_on_its_network(three):
    from scheduler.app import editing

    post_id = three.ids("sky")[0]
    parts = ["First: stretch every morning. " + "é" * 250, f"Then read {LONG_LINK} #backpain"]
    editing.edit_text(three.store, three.by_name["sky"], post_id, parts, three.now)
    card = card_of(page(three.client().get("/queue?account=sky")), post_id)
    assert card.select_one(".len").get_text() == "280/300"  # 30 + 250 graphemes
    reply = card.select_one(".text.reply")
    assert reply.select_one(".part").get_text().startswith("2/2")
    assert reply.select_one(".part-len").get_text() == "47/300"  # "Then read " 10 + shortened link 27 + " #backpain" 10
    assert reply.select_one(".link").get_text() == "example.com/blog/massage..."


@pytest.fixture(scope="module")
def configs(tmp_path_factory):
    """The three accounts' configurations (no ledger: post_links is pure)."""
    from scheduler.config import load_config

    path = tmp_path_factory.mktemp("links") / "scheduler.toml"
    path.write_text(accounts_config("clinic", "sky", "toot", instance="https://mastodon.example"), encoding="utf-8")
    config = load_config(str(path))
    return {name: config.for_account(name) for name in ("clinic", "sky", "toot")}


@given(value=st.text(max_size=80) | st.sampled_from(["https://x.com/a/status/12", "bsky.app/profile/a.b/post/3k",
                                                     "https://mastodon.example/@clinic/77", "..", "12"]))
def test_a_settled_posts_id_is_read_from_any_text_or_refused_with_a_message(configs, value):
    from scheduler.networks.post_links import post_url, remote_id_from

    for name, config in configs.items():
        try:
            remote_id = remote_id_from(config, value)
        except ValueError as exc:
            assert {"clinic": "X", "sky": "Bluesky", "toot": "Mastodon"}[name] in str(exc)
            continue
        assert remote_id and remote_id.strip() == remote_id
        # What was read is what the post's own address gives back.
        assert remote_id_from(config, post_url(config, remote_id)) == remote_id


def test_an_address_of_another_account_is_refused(configs):
    from scheduler.networks.post_links import remote_id_from

    with pytest.raises(ValueError, match="not a post of this Bluesky account: its posts' addresses begin "
                                         "https://bsky.app/profile/clinic.bsky.social/post/"):
        remote_id_from(configs["sky"], "https://bsky.app/profile/someone.bsky.social/post/3lbq5wmxqez2k")
    with pytest.raises(ValueError, match="https://mastodon.example/@clinic/"):
        remote_id_from(configs["toot"], "https://other.example/@clinic/113542778410046655")
    assert remote_id_from(configs["toot"], "mastodon.example/@Clinic/113542778410046655") == "113542778410046655"


@pytest.mark.parametrize("name", ["clinic", "sky", "toot"])
def test_an_articles_variants_are_composed_for_the_accounts_network(three, name):
    """The Articles page shows each tip's wordings as this account would get them: its network's templates and
    length rule. The wording the import queued for the account is among them, word for word up to its link
    (which each network shows in its own way)."""
    config = three.by_name[name]
    queued = {p.tip: p.text for p in three.store.queue_page(config.account, limit=1000) if p.tip is not None}
    key = next(p.article_key for p in three.store.queue_page(config.account, limit=1) if p.article_key)
    shown = page(three.client().get(f"/articles/{key}?account={name}")).get_text()
    flat = " ".join(shown.split())
    for tip, text in queued.items():
        prose = " ".join(text.split("http")[0].split())
        assert len(prose.split()) >= 10 and prose in flat, f"tip {tip} of {name} not shown as queued"
