"""The editorial rules of issue 20, as a table: every post of every article of tests/corpus/, on X, Bluesky and
Mastodon, against each rule as a check of its own.

The corpus (13 articles written for this test, none a copy of the seed) has the shapes and voices that made posts
an editor of a spine practice would not publish: stretches named as headlines, warnings, one-long-sentence tips,
bodies opening with a pronoun, emoji mid-sentence, a line in another language, myths ("releases lactic acid"),
unsupported durations, headlines and bodies that repeat or disagree, things to avoid named as fragments. What the
corpus holds that a post must not show is written down here, by hand (FOREIGN_LINES, MYTHS, ...), so the checks do
not lean on the composer's own detectors.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scheduler.articles.library import Composed, compose
from scheduler.compose.faithfulness import unfaithful_words
from scheduler.compose.templates import default_templates_dir, network_directory
from scheduler.config import parse_config
from scheduler.domain.content_rules import rules_from_config
from scheduler.text import bluesky_length, mastodon_length
from scheduler.text.x_length import MAX_WEIGHTED_LENGTH, is_valid, url_spans, weighted_length

CORPUS = Path(__file__).parent / "corpus"
ARTICLES = sorted(path.name for path in CORPUS.iterdir() if path.suffix in (".md", ".txt", ".html"))
NETWORKS = ("x", "bluesky", "mastodon")
ACCOUNTS = {
    "x": "[account]\nhandle = 'GleiberMD'\n",
    "bluesky": "[[accounts]]\nname = 'sky'\nnetwork = 'bluesky'\nhandle = 'gleibermd.bsky.social'\n",
    # A server that does not answer: Mastodon's stock limits (500, links 23), as the composer then assumes.
    "mastodon": "[[accounts]]\nname = 'masto'\nnetwork = 'mastodon'\nhandle = 'gleibermd'\n"
                "instance = 'http://127.0.0.1:9'\n",
}
FITS = {
    "x": lambda text: is_valid(text) and weighted_length(text) <= MAX_WEIGHTED_LENGTH,
    "bluesky": bluesky_length.fits,
    "mastodon": lambda text: mastodon_length.fits(text, mastodon_length.Limits()),
}

# What the corpus holds that no post may show.
FOREIGN_LINES = ("Más vale prevenir que curar", "Ein gesunder Rücken beginnt mit dem ersten Schritt")
MYTHS = (  # myths and unsupported durations, each in a tip that has other sentences to post
    "Massage releases lactic acid from tight muscles.",
    "A single massage keeps your back relaxed for up to two weeks.",
    "Massage flushes toxins out of your muscles, so you need to drink plenty of water afterwards.",
)
# Sentences of the corpus the claim rules must leave alone (they are advice, with times in them).
NOT_MYTHS = (
    "Hold for five seconds, then relax.",
    "They often improve within six weeks with walking, gentle stretches and pain relief.",
    "Ask your doctor for a referral if the pain lasts more than a few weeks.",
    "For the first weeks, do not lift anything heavier than a gallon of milk.",
)
# A headline and a body sentence of one tip that disagree: a post shows at most one of them.
CONTRADICTIONS = (("Alternate heat and ice", "Use ice first"),)
# Openings that point back at something the reader of a lone post has not been told.
POINTERS = re.compile(r"^(?:it|its|they|them|their|he|she|this|that|these|those|such)\b", re.IGNORECASE)
NOT_POINTERS = re.compile(r"^(?:it(?:'s|’s| is)\s+(?:\w+\s+){0,3}?(?:to|that)\b|those (?:with|who)\b)",
                          re.IGNORECASE)
WARNING = re.compile(r"\b(?:doctor|surgeon|emergency|warning|ignored|x-ray|right away)\b", re.IGNORECASE)
INSTRUCTION_VERBS = frozenset(
    """walk try start put set support keep wear stand train skip test turn bend limit check alternate drink ask
    roll arrange look get use stretch lie sit hold""".split())
EMOJI = re.compile(r"[\u2300-\u27BF\U0001F000-\U0001FAFF]\uFE0F?")
X_ISMS = re.compile(r"\bRT\b|\bvia @|\bh/t\b|\(\d+/\d*\)|\b\d+/\d+\b|🧵|\bDM\b|\btweet", re.IGNORECASE)


@pytest.fixture(scope="module")
def composed_on(tmp_path_factory) -> dict[str, dict[str, Composed]]:
    home = tmp_path_factory.mktemp("home")
    found = {}
    for network, account in ACCOUNTS.items():
        config = parse_config(account, source=None, env={"SCHEDULER_HOME": str(home)})
        found[network] = {name: compose(config, [CORPUS / name])[0] for name in ARTICLES}
    return found


@pytest.fixture(params=NETWORKS)
def network(request) -> str:
    return request.param


def prose(text: str) -> str:
    """A post without its link, the line that leads to it, and its hashtags: what a reader reads."""
    for start, end in reversed(url_spans(text)):
        text = text[:start] + text[end:]
    lines = [line for line in text.split("\n") if line.strip() and not re.fullmatch(r"\s*(?:#\w+\s*)+", line)]
    lines = [re.sub(r"^(?:More|Read more|More in the article):\s*$", "", line) for line in lines]
    return " ".join(line.strip() for line in lines if line.strip())


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?:])\s+", text) if s]


def posts_of(composed_on, network, name):
    item = composed_on[network][name]
    return [(post, next(t for t in item.article.tips if t.number == post.tip)) for post in item.posts]


def where(name, post) -> str:
    return f"{name} tip {post.tip}:\n{post.text}"


@pytest.mark.parametrize("name", ARTICLES)
def test_no_tip_of_a_well_formed_article_is_left_out(composed_on, network, name):
    item = composed_on[network][name]
    assert [post.tip for post in item.posts] == [tip.number for tip in item.article.tips], item.article.warnings
    assert not [w for w in item.article.warnings if "left out" in w]


@pytest.mark.parametrize("name", ARTICLES)
def test_no_body_opens_pointing_at_nothing(composed_on, network, name):
    """The body's first sentence never opens with a pronoun or "this/these" (a later one may: it follows the
    sentence it points at); no sentence opens with "the X" that the post has not introduced."""
    for post, _ in posts_of(composed_on, network, name):
        said = sentences(prose(post.text))
        for index, sentence in enumerate(said[1:], start=1):
            if index == 1:
                assert not (POINTERS.match(sentence) and not NOT_POINTERS.match(sentence)), where(name, post)
            the = re.match(r"^The ([a-z-]+)", sentence)
            if the and not sentence[the.end():].startswith(" of "):
                before = " ".join(said[:index]).casefold()
                assert the.group(1)[:5] in before, where(name, post)


@pytest.mark.parametrize("name", ARTICLES)
def test_labels_agree_with_what_follows(composed_on, network, name):
    for post, tip in posts_of(composed_on, network, name):
        text = prose(post.text)
        assert "Best avoided." not in text, where(name, post)
        for label in ("Try this:", "Tip:"):
            if text.startswith(label):
                follows = text[len(label):].split()[0].casefold()
                assert follows in INSTRUCTION_VERBS, where(name, post)  # an action
                assert not WARNING.search(text), where(name, post)  # never before a warning
        if text.startswith("Worth knowing:"):
            headline = sentences(text[len("Worth knowing:"):])[0]
            assert len(headline.split()) >= 4 and headline.split()[0].casefold() not in INSTRUCTION_VERBS, \
                where(name, post)  # a fact, not a name or an instruction


@pytest.mark.parametrize("name", ARTICLES)
def test_a_headline_is_never_a_bare_name(composed_on, network, name):
    """ "Cat-cow." alone reads as nothing: the post leads with what to do ("Try cat-cow: ...")."""
    for post, tip in posts_of(composed_on, network, name):
        text = re.sub(r"^(?:Try this|Tip|Worth knowing):\s*", "", prose(post.text))
        opening = re.split(r"(?<=[.!?:])\s", text, maxsplit=1)[0]
        assert len(opening.split()) >= 3 or opening.split()[0] in ("Try", "Avoid"), where(name, post)


@pytest.mark.parametrize("name", ARTICLES)
def test_headline_and_body_neither_repeat_nor_disagree(composed_on, network, name):
    stop = {"a", "an", "the", "your", "you", "to", "of", "with", "and", "or", "if", "for", "in", "on", "first"}
    for post, tip in posts_of(composed_on, network, name):
        said = sentences(prose(post.text))
        headline = {w.casefold() for w in re.findall(r"[\w'’-]+", said[0])} - stop
        for sentence in said[1:]:
            own = {w.casefold() for w in re.findall(r"[\w'’-]+", sentence)} - stop
            assert not own or len(own & headline) * 5 < len(own) * 3, where(name, post)  # says the headline again
        for one, other in CONTRADICTIONS:
            assert not (one in post.text and other in post.text), where(name, post)


@pytest.mark.parametrize("name", ARTICLES)
def test_emoji_only_at_the_end_of_a_sentence(composed_on, network, name):
    for post, _ in posts_of(composed_on, network, name):
        for match in EMOJI.finditer(post.text):
            before = post.text[: match.start()].rstrip()
            after = post.text[match.end():].lstrip(" ")
            assert before[-1:] in (".", "!", "?") or not after or after[:1] == "\n", where(name, post)
            assert not re.match(r"[a-z.,;:!?]", after), where(name, post)


@pytest.mark.parametrize("name", ARTICLES)
def test_no_unexplained_line_in_another_language(composed_on, network, name):
    for post, _ in posts_of(composed_on, network, name):
        for line in FOREIGN_LINES:
            assert line not in post.text, where(name, post)


@pytest.mark.parametrize("name", ARTICLES)
def test_myths_are_not_posted_when_the_tip_says_something_else(composed_on, network, name):
    for post, _ in posts_of(composed_on, network, name):
        for myth in MYTHS:
            assert myth.rstrip(".") not in post.text, where(name, post)


def test_the_shipped_rules_flag_myths_and_unsupported_durations_for_the_reviewer():
    rules = rules_from_config({})
    for myth in MYTHS:
        findings = rules.check([myth])
        assert findings and all(f.severity == "warn" for f in findings), myth
    for sentence in NOT_MYTHS:
        assert not rules.check([sentence]), sentence
    # Turned off like any shipped rule.
    assert not rules_from_config({"disabled_rules": ["myth-lactic-acid"]}).check([MYTHS[0]])


@pytest.mark.parametrize("name", ARTICLES)
def test_every_post_fits_reads_whole_and_is_faithful(composed_on, network, name):
    directory = network_directory(default_templates_dir(), network)
    item = composed_on[network][name]
    for post, tip in posts_of(composed_on, network, name):
        for part in post.parts:
            assert FITS[network](part), where(name, post)
        text = prose(post.text)
        assert text.rstrip("🙂💪✅💧⏰👀 ")[-1:] in ".!?:", where(name, post)  # whole sentences, no "…"
        assert "…" not in text, where(name, post)
        source = (directory / post.template).read_text(encoding="utf-8")
        assert not unfaithful_words(post.text, tip, item.article, source,
                                    handle="GleiberMD", hashtags=item.article.hashtags), where(name, post)


@pytest.mark.parametrize("name", ARTICLES)
def test_bluesky_and_mastodon_use_their_room_and_read_natively(composed_on, network, name):
    if network == "x":
        pytest.skip("X is the baseline")

    def said(post, tip) -> int:
        own = {w.casefold() for w in re.findall(r"\w+", f"{tip.headline} {tip.body}")}
        return sum(1 for w in re.findall(r"\w+", prose(post.text)) if w.casefold() in own)

    on_x = {post.tip: said(post, tip) for post, tip in posts_of(composed_on, "x", name)}
    full_on_x = {post.tip for post, tip in posts_of(composed_on, "x", name) if post.weighted_length >= 230}
    for post, tip in posts_of(composed_on, network, name):
        assert said(post, tip) >= on_x[post.tip], where(name, post)
        assert not X_ISMS.search(post.text), where(name, post)
        tags = re.findall(r"#(\w+)", post.text)
        if network == "bluesky":
            assert len(tags) <= 2, where(name, post)
        else:
            assert all(t[:1].isupper() for t in tags), where(name, post)
    if network == "mastodon":
        whole = {tip.number: len(re.findall(r"\w+", f"{tip.headline} {tip.body}")) for tip in
                 composed_on[network][name].article.tips}
        # Tips X had no room for (its post near full, much of the tip left out); not those the composer left
        # short on purpose (a myth, a sentence pointing at nothing).
        cut_on_x = [number for number, count in on_x.items() if count < whole[number] * 0.7 and number in full_on_x]
        fuller = [post.tip for post, tip in posts_of(composed_on, network, name)
                  if post.tip in cut_on_x and said(post, tip) > on_x[post.tip]]
        assert len(fuller) >= len(cut_on_x) * 0.5, (name, cut_on_x, fuller)
