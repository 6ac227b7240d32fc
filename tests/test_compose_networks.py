"""Whatever a tip holds, every post composed for Bluesky or Mastodon with that network's bundled templates fits
the network, is measured as the network counts, and stays faithful: the X property test (test_compose_properties)
for the other networks. Also: which templates an account gets, and each network's hashtag conventions.

Judges that are not the composer's measure: pyuegc counts Bluesky's graphemes of the text as sent (links
shortened by bluesky_length.rich_text) and its UTF-8 bytes are counted here; Mastodon's count is
mastodon_length's, proven against the reference twitter-text in test_mastodon_length.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pyuegc import EGC

from scheduler.text import bluesky_length
from scheduler.text import mastodon_length
from scheduler.compose.composer import compose_tip
from scheduler.compose.faithfulness import unfaithful_words
from scheduler.domain.models import Tip
from scheduler.text.limits import bluesky_rule, mastodon_rule
from scheduler.compose.templates import TemplateSet, load_templates
from tests.test_compose_properties import ARTICLE, HANDLE, HASHTAGS, TEXTS, USER_TEMPLATES

BLUESKY = bluesky_rule()
# A stock server, and one with a small limit and long links, where cutting matters more.
MASTODONS = [mastodon_rule(mastodon_length.Limits()), mastodon_rule(mastodon_length.Limits(120, 40))]


@pytest.fixture(scope="module")
def user_templates(tmp_path_factory: pytest.TempPathFactory) -> TemplateSet:
    """A person's own folder (one for every network): a post of everything, a thread, the body first."""
    root = tmp_path_factory.mktemp("templates")
    (root / "tip").mkdir()
    for name, source in USER_TEMPLATES.items():
        (root / "tip" / f"{name}.j2").write_text(source, encoding="utf-8")
    return load_templates(root)


def _post(rule, headline: str, body: str, number: int, variant: int, avoid: bool, user: TemplateSet | None = None):
    tip = Tip(number, headline, body)
    title = "7 Habits That Make Back Pain Worse" if avoid else ARTICLE.title
    article = replace(ARTICLE, tips=(tip,), title=title)
    templates = user or load_templates(network=rule.network)  # the network's own bundled set
    assert user or templates.directory.name == rule.network
    post = compose_tip(article, tip, handle=HANDLE, hashtags=HASHTAGS, variant=variant, env=templates, rule=rule)
    source = (templates.directory / post.template).read_text(encoding="utf-8")
    for part in post.parts:
        assert not unfaithful_words(part, tip, article, source, handle=HANDLE, hashtags=HASHTAGS), repr(part)
    return post


COMMON = dict(headline=TEXTS, body=TEXTS, number=st.integers(0, 10_000), variant=st.integers(0, 5),
              avoid=st.booleans(), user=st.booleans())
FIXTURES = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


@settings(suppress_health_check=FIXTURES, deadline=None)
@given(**COMMON)
def test_every_bluesky_post_fits_300_graphemes_and_3000_bytes_as_sent(user_templates, headline, body, number,
                                                                       variant, avoid, user):
    post = _post(BLUESKY, headline, body, number, variant, avoid, user_templates if user else None)
    for part in post.parts:
        sent = bluesky_length.rich_text(part).text
        assert sent.strip()
        assert len(EGC(sent)) <= 300, repr(part)
        assert len(sent.encode("utf-8")) <= 3000, repr(part)
    assert post.weighted_length == len(EGC(bluesky_length.rich_text(post.text).text))


@settings(suppress_health_check=FIXTURES, deadline=None)
@given(**COMMON, server=st.sampled_from(MASTODONS))
def test_every_mastodon_post_fits_the_servers_limit(user_templates, headline, body, number, variant, avoid, user,
                                                    server):
    post = _post(server, headline, body, number, variant, avoid, user_templates if user else None)
    for part in post.parts:
        assert part.strip() and server.measure(part) <= server.limit, repr(part)
    assert post.weighted_length == server.measure(post.text)


def test_a_network_with_more_room_gets_more_of_the_tip():
    body = " ".join(f"Step {n}: keep your back straight and breathe out slowly while you count to ten." for n in range(9))
    tip = Tip(1, "Stretch your hamstrings every morning", body)
    article = replace(ARTICLE, tips=(tip,))
    from scheduler.text.limits import X

    lengths = {rule.network: len(compose_tip(article, tip, handle=HANDLE, hashtags=(), variant=0, rule=rule).text)
               for rule in (X, BLUESKY, MASTODONS[0])}
    assert lengths["mastodon"] > lengths["x"]


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(tags=st.lists(st.text(alphabet=st.sampled_from("abcXYZé -_#"), min_size=1, max_size=20), max_size=5),
       variant=st.integers(0, 5))
@example(tags=["Xa", "X-a"], variant=0)  # the same tag twice but for case: shown once, as first written
def test_hashtags_follow_each_networks_conventions(tags, variant):
    """Bluesky shows at most two (each is a facet); Mastodon writes each in CamelCase, which screen readers read
    word by word; both only ever from the tags given, and faithful."""
    tip = Tip(1, "Stretch your hamstrings every morning", "Hold each stretch for thirty seconds, twice a day.")
    article = replace(ARTICLE, tips=(tip,))
    given_words = {"".join(w for w in regex_words(t)).casefold() for t in tags}
    for rule in (BLUESKY, MASTODONS[0]):
        templates = load_templates(network=rule.network)
        post = compose_tip(article, tip, handle=HANDLE, hashtags=tags, variant=variant, env=templates, rule=rule)
        shown = [t[1:] for t in post.text.split() if t.startswith("#")]
        assert all(regex_words(t) for t in shown), post.text  # no hashtag without a letter or digit ("#-")
        assert {"".join(regex_words(t)).casefold() for t in shown} <= given_words, (tags, post.text)
        source = (templates.directory / post.template).read_text(encoding="utf-8")
        assert not unfaithful_words(post.text, tip, article, source, handle=HANDLE, hashtags=tags), post.text
        if rule is BLUESKY:
            assert len(shown) <= 2
        else:
            assert all(t[:1].isupper() for t in shown if t[:1].isalpha()), post.text
            earlier = set()  # a tag equal to an earlier one but for case and separators shows as that one
            for tag in tags:  # "back pain" -> #BackPain: every word starts upper case
                parts = [w for w in re.split(r"[\s_#-]+", tag) if w]
                joined = "".join(w[:1].upper() + w[1:] for w in parts)
                first = joined.casefold() not in earlier
                earlier.add(joined.casefold())
                if first and len(parts) > 1 and joined.isalpha() and joined.casefold() in {t.casefold() for t in shown}:
                    assert joined in shown, (tag, post.text)


def regex_words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text)


def test_an_account_gets_its_networks_templates_unless_it_names_its_own(tmp_path):
    from scheduler.config import parse_config
    from scheduler.compose.templates import templates_for

    def config(extra: str = "", network: str = "bluesky"):
        handle = {"bluesky": "clinic.bsky.social", "mastodon": "clinic", "x": "Clinic"}[network]
        instance = "instance = 'http://127.0.0.1:9'\n" if network == "mastodon" else ""
        return parse_config(f"[[accounts]]\nname = 'a'\nnetwork = '{network}'\nhandle = '{handle}'\n{instance}{extra}",
                            source=tmp_path / "scheduler.toml", env={"SCHEDULER_HOME": str(tmp_path)})

    bundled = {n: templates_for(config(network=n)).directory for n in ("x", "bluesky", "mastodon")}
    assert bundled["bluesky"].name == "bluesky" and bundled["mastodon"].name == "mastodon"
    assert bundled["x"] == bundled["bluesky"].parent  # X's set is the top level, as before
    # A folder of one's own without network folders serves every network (the layout users already have).
    flat = tmp_path / "mine"
    (flat / "tip").mkdir(parents=True)
    (flat / "tip" / "1.j2").write_text("{{ tip.headline }} {{ tip.point }}\n{{ article.url }}", encoding="utf-8")
    for network in ("x", "bluesky", "mastodon"):
        assert templates_for(config("templates = 'mine'\n", network)).directory == flat.resolve()
    # With a folder for a network, that network's accounts use it; the others the top level.
    (flat / "mastodon" / "tip").mkdir(parents=True)
    (flat / "mastodon" / "tip" / "1.j2").write_text("Long form: {{ tip.headline }}", encoding="utf-8")
    assert templates_for(config("templates = 'mine'\n", "mastodon")).directory == (flat / "mastodon").resolve()
    assert templates_for(config("templates = 'mine'\n", "bluesky")).directory == flat.resolve()
    flat_set = templates_for(config("templates = 'mine'\n", "x"))
    assert [v.name for v in flat_set.variants("tip")] == ["tip/1.j2"]  # "mastodon" is not a kind of post
