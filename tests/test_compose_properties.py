"""Whatever a tip holds, every post and thread part is valid on X, truthfully measured, and faithful."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.compose import tip_points
from scheduler.compose.composer import compose_tip
from scheduler.compose.faithfulness import unfaithful_words
from scheduler.compose.rendering import _as_headline
from scheduler.domain.models import Article, Tip
from scheduler.compose.templates import TemplateSet, load_templates
from scheduler.text.x_length import MAX_WEIGHTED_LENGTH, is_valid, weighted_length
from scheduler.standins.twitter_text_reference import reference_is_valid

HANDLE = "GleiberMD"
HASHTAGS = ("BackPain", "Massage", "Physiotherapy")
ARTICLE = Article(
    title="Massage Therapy for Back Pain: 5 Things You Should Know",
    url="https://www.gleibermd.com/blog/massage-therapy-for-back-pain/",
    tips=(),
    source="massage-therapy-for-back-pain.txt",
)
USER_TEMPLATES = {
    "1-everything": "{{ tip.headline }} {{ tip.body }} {{ article.url }} {{ hashtag_line }}",
    "2-thread": "{% set thread = true %}\n{{ tip.headline }}\n\n{{ tip.body }}\n{{ article.url }}\n{{ hashtag_line }}",
    "3-body-first": "{{ tip.body }}\n— {{ tip.headline }} ({{ series.label }}) {{ article.url }}",
}

# Fragments that have broken tweet counters and text cutters: emoji sequences, CJK, links, bidi controls,
# combining marks, words longer than a post, sentence ends, and odd whitespace.
FRAGMENTS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466",
            "\U0001F1EB\U0001F1F7",
            "\U0001F44D\U0001F3FD",
            "1\uFE0F\u20E3",
            "故人西辞黄鹤楼，烟花三月下扬州。",
            "あいうえおかきくけこ",
            "https://www.gleibermd.com/blog/massage-therapy-for-back-pain/",
            "example.com",
            "http://foobar.پاکستان/",
            "\u200f",
            "\u202e",
            "e\u0301",
            "\u0301",
            "x" * 300,
            "Dr. Smith",
            ". ",
            "? ",
            "…",
            "\n\n",
            "\t",
            "\u00a0",
            "\ufeff",
            "\u3000",
            # Shapes the point finder reads: steps, lists, sentences leaning on the one before.
            "Hold for 30 seconds.",
            "Lie on your back.",
            "This is why it matters.",
            "Everyone is different.",
            "\n\n• ",
            "\n\n2. ",
            "see these:\n\n",
        ]
    ),
    st.text(alphabet=st.characters(categories=["L", "M", "N", "P", "S", "Z"]), min_size=1, max_size=20),
)
TEXTS = st.lists(FRAGMENTS, max_size=80).map(" ".join) | st.lists(FRAGMENTS, max_size=12).map("".join)


@pytest.fixture(scope="module")
def user_templates(tmp_path_factory: pytest.TempPathFactory) -> TemplateSet:
    root = tmp_path_factory.mktemp("templates")
    (root / "tip").mkdir()
    for name, source in USER_TEMPLATES.items():
        (root / "tip" / f"{name}.j2").write_text(source, encoding="utf-8")
    return load_templates(root)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    headline=TEXTS,
    body=TEXTS,
    number=st.integers(min_value=0, max_value=10_000),
    variant=st.integers(min_value=0, max_value=5),
    user=st.booleans(),
    avoid=st.booleans(),
)
def test_every_post_is_valid_measured_and_faithful(
    user_templates: TemplateSet, headline: str, body: str, number: int, variant: int, user: bool, avoid: bool
) -> None:
    tip = Tip(number, headline, body)
    # An article of things to avoid is composed with the avoid/ templates.
    title = "7 Habits That Make Back Pain Worse" if avoid else ARTICLE.title
    article = replace(ARTICLE, tips=(tip,), title=title)
    templates = user_templates if user else load_templates()
    post = compose_tip(article, tip, handle=HANDLE, hashtags=HASHTAGS, variant=variant, env=templates)

    source = (templates.directory / post.template).read_text(encoding="utf-8")
    assert post.weighted_length == weighted_length(post.text)
    for part in post.parts:
        assert weighted_length(part) <= MAX_WEIGHTED_LENGTH
        assert is_valid(part), repr(part)
        assert reference_is_valid(part), repr(part)  # and twitter-text agrees, so X takes it
        assert not unfaithful_words(part, tip, article, source, handle=HANDLE, hashtags=HASHTAGS), repr(part)
    if post.thread:
        assert post.thread[0] == post.text


@settings(max_examples=300, deadline=None)
@given(text=TEXTS | st.text(alphabet="a_1. \n\"'\u2019\u201d)]!é", max_size=12))
def test_a_headline_gets_a_full_stop_exactly_when_it_ends_in_a_word(text: str) -> None:
    # What _as_headline promises, stated whole: a letter or digit, then only closing quotes and brackets, at the
    # end (or before a final newline, as $ reads it). It searches only the end of the text, for speed.
    ends_in_a_word = re.search(r"[^\W_][\"'\u2019\u201D)\]]*$", text) is not None
    assert _as_headline(text) == (text + "." if ends_in_a_word else text)


@settings(max_examples=300, deadline=None)
@given(text=TEXTS | st.text(alphabet="aZ09_'\u2019 .-é\u00b2\u0661", max_size=20))
def test_words_are_read_alike_in_ascii_and_in_any_text(text: str) -> None:
    # The ASCII shortcuts must find exactly the words the Unicode patterns find.
    for sample in (text, text.encode("ascii", "ignore").decode()):
        assert tip_points.words(sample) == tip_points._WORD.findall(sample)
        assert tip_points._folded_words(sample.casefold()) == tip_points._FOLDED_WORD.findall(sample.casefold())
