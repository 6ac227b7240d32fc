"""Whatever a tip holds, every post composed for Bluesky or Mastodon fits that network, is measured as the
network counts, and stays faithful: the X property test (test_compose_properties) for the other networks.

Judges that are not the composer's measure: pyuegc counts Bluesky's graphemes of the text as sent (links
shortened by bluesky_length.rich_text) and its UTF-8 bytes are counted here; Mastodon's count is
mastodon_length's, proven against the reference twitter-text in test_mastodon_length.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyuegc import EGC

from scheduler import bluesky_length, mastodon_length
from scheduler.compose import compose_tip, unfaithful_words
from scheduler.models import Tip
from scheduler.post_length import bluesky_rule, mastodon_rule
from scheduler.templates import load_templates
from tests.test_compose_properties import ARTICLE, HANDLE, HASHTAGS, TEXTS

BLUESKY = bluesky_rule()
# A stock server, and one with a small limit and long links, where cutting matters more.
MASTODONS = [mastodon_rule(mastodon_length.Limits()), mastodon_rule(mastodon_length.Limits(120, 40))]


def _post(rule, headline: str, body: str, number: int, variant: int, avoid: bool):
    tip = Tip(number, headline, body)
    title = "7 Habits That Make Back Pain Worse" if avoid else ARTICLE.title
    article = replace(ARTICLE, tips=(tip,), title=title)
    templates = load_templates()
    post = compose_tip(article, tip, handle=HANDLE, hashtags=HASHTAGS, variant=variant, env=templates, rule=rule)
    source = (templates.directory / post.template).read_text(encoding="utf-8")
    for part in post.parts:
        assert not unfaithful_words(part, tip, article, source, handle=HANDLE, hashtags=HASHTAGS), repr(part)
    return post


COMMON = dict(headline=TEXTS, body=TEXTS, number=st.integers(0, 10_000), variant=st.integers(0, 5),
              avoid=st.booleans())


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(**COMMON)
def test_every_bluesky_post_fits_300_graphemes_and_3000_bytes_as_sent(headline, body, number, variant, avoid):
    post = _post(BLUESKY, headline, body, number, variant, avoid)
    for part in post.parts:
        sent = bluesky_length.rich_text(part).text
        assert sent.strip()
        assert len(EGC(sent)) <= 300, repr(part)
        assert len(sent.encode("utf-8")) <= 3000, repr(part)
    assert post.weighted_length == len(EGC(bluesky_length.rich_text(post.text).text))


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(**COMMON, server=st.sampled_from(MASTODONS))
def test_every_mastodon_post_fits_the_servers_limit(headline, body, number, variant, avoid, server):
    post = _post(server, headline, body, number, variant, avoid)
    for part in post.parts:
        assert part.strip() and server.measure(part) <= server.limit, repr(part)
    assert post.weighted_length == server.measure(post.text)


def test_a_network_with_more_room_gets_more_of_the_tip():
    body = " ".join(f"Step {n}: keep your back straight and breathe out slowly while you count to ten." for n in range(9))
    tip = Tip(1, "Stretch your hamstrings every morning", body)
    article = replace(ARTICLE, tips=(tip,))
    from scheduler.post_length import X

    lengths = {rule.network: len(compose_tip(article, tip, handle=HANDLE, hashtags=(), variant=0, rule=rule).text)
               for rule in (X, BLUESKY, MASTODONS[0])}
    assert lengths["mastodon"] > lengths["x"]
