"""The composer turns each tip into a post X accepts, reads well, links back, and says nothing the tip does not."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from scheduler.compose.composer import compose_article, compose_tip
from scheduler.compose.faithfulness import unfaithful_words
from scheduler.compose.fitting import ELLIPSIS
from scheduler.domain.errors import TemplateError
from scheduler.domain.models import Article, ComposedPost, Tip
from scheduler.compose.templates import default_templates_dir, load_templates
from scheduler.text.x_length import MAX_WEIGHTED_LENGTH, is_valid, weighted_length

URL = "https://www.gleibermd.com/blog/massage-therapy-for-back-pain/"
HANDLE = "GleiberMD"
HASHTAGS = ("BackPain", "Massage")

# The seed article's five tips, as the article parser will read them.
SEED_TIPS = (
    Tip(
        1,
        "You need to do your research before choosing a massage therapist.",
        "Those with spinal conditions like osteoarthritis or sciatica can benefit from massage therapy, but it is "
        "important to select a therapist who is experienced and trained to treat your specific condition. A "
        "massage therapist should use a specialized approach for these conditions. Don’t get onto a massage table "
        "without first knowing if the therapist knows how to work with your condition.",
    ),
    Tip(
        2,
        "You should always check with a medical professional before beginning any massage therapy programs.",
        "Everyone is different, and massage therapy may not always be the best option for your specific condition. "
        "There may be certain limitations on the type and duration of the massages you can get, depending on your "
        "condition. Check with your doctor first so that you don’t end up doing more harm than good. Your doctor "
        "may also be able to help you choose a massage therapist or massage technique.",
    ),
    Tip(
        3,
        "Massage therapy has benefits for soft tissue injuries.",
        "Muscle spasms are painful because the muscle is lacking proper blood flow. A lack of blood flow also means "
        "that the muscle is not receiving enough oxygen, which causes the muscle to produce lactic acid. Lactic "
        "acid causes soreness after physical activity. Because massage therapy helps to stimulate blood flow, it "
        "helps the muscles and soft tissues get the nutrients they need and release the lactic acid.",
    ),
    Tip(
        4,
        "Massage therapy may be painful at first.",
        "If you suffer from back pain in a particular area, it is usually due to a muscle spasm. The goal of "
        "massage therapy is to alleviate the spasms through pressure. Some people find that the pressure is "
        "slightly painful, but it should never be too painful.",
    ),
    Tip(
        5,
        "It’s all in the technique.",
        "Every person is different, which is why it is important to consult with your doctor and find an "
        "experienced massage therapist before beginning massage therapy. However, some techniques may be more "
        "effective in relieving your back pain than others. Swedish massage uses long gliding strokes and kneading "
        "motions to improve circulation and promote relaxation. If your pain is limited to a particular area of "
        "your back, as with a muscle strain, a technique called neuromuscular therapy may be recommended.",
    ),
)


@pytest.fixture
def article() -> Article:
    return Article(
        title="Massage Therapy for Back Pain: 5 Things You Should Know",
        url=URL,
        tips=SEED_TIPS,
        source="massage-therapy-for-back-pain.txt",
    )


def write_templates(root: Path, **files: str) -> Path:
    """A user templates directory holding tip/<name>.j2 for each keyword."""
    (root / "tip").mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        (root / "tip" / f"{name}.j2").write_text(source, encoding="utf-8")
    return root


def assert_sound(post: ComposedPost, tip: Tip, article: Article, template_source: str) -> None:
    """Valid on X, length recorded truthfully, and every word from the tip, the article or the template."""
    for part in post.parts:
        assert is_valid(part), part
        assert weighted_length(part) <= MAX_WEIGHTED_LENGTH
        assert not unfaithful_words(part, tip, article, template_source, handle=HANDLE, hashtags=HASHTAGS), part
    assert post.weighted_length == weighted_length(post.text)


def source_of(post: ComposedPost, templates_dir: Path | None = None) -> str:
    return ((templates_dir or default_templates_dir()) / post.template).read_text(encoding="utf-8")


def test_the_seed_article_makes_five_valid_posts_linking_back(article: Article) -> None:
    posts = compose_article(article, handle=HANDLE, hashtags=HASHTAGS)

    assert [post.tip for post in posts] == [1, 2, 3, 4, 5]
    for post, tip in zip(posts, SEED_TIPS):
        assert_sound(post, tip, article, source_of(post))
        assert URL in post.text
        assert tip.headline in post.text
        assert post.thread is None


def test_neighbouring_tips_use_different_variants_the_same_way_every_time(article: Article) -> None:
    first = compose_article(article, handle=HANDLE, hashtags=HASHTAGS)
    again = compose_article(article, handle=HANDLE, hashtags=HASHTAGS)

    assert first == again
    assert all(a.template != b.template for a, b in zip(first, first[1:]))
    assert {post.template for post in first} == {v.name for v in load_templates().variants("tip")}


def test_another_variant_gives_the_same_tip_another_look(article: Article) -> None:
    tip = SEED_TIPS[3]
    post = compose_tip(article, tip, handle=HANDLE, hashtags=HASHTAGS)
    other = compose_tip(article, tip, handle=HANDLE, hashtags=HASHTAGS, variant=post.variant + 1)

    assert other.template != post.template
    assert other.text != post.text
    assert_sound(other, tip, article, source_of(other))


def test_variants_wrap_around_in_natural_order(tmp_path: Path, article: Article) -> None:
    templates = load_templates(write_templates(tmp_path, **{"2-b": "B {{ tip.number }}", "10-c": "C", "1-a": "A"}))

    names = [compose_tip(article, SEED_TIPS[0], handle=HANDLE, hashtags=(), variant=n, env=templates).template
             for n in range(4)]
    assert names == ["tip/1-a.j2", "tip/2-b.j2", "tip/10-c.j2", "tip/1-a.j2"]


def test_series_label_and_hashtags_reach_the_template(tmp_path: Path, article: Article) -> None:
    source = "Tip {{ series.label }} by @{{ handle }} {{ hashtag_line }}"
    templates = load_templates(write_templates(tmp_path, only=source))

    post = compose_tip(article, SEED_TIPS[1], handle="@GleiberMD", hashtags=["#BackPain", "Massage", "backpain"],
                       env=templates)
    assert post.text == "Tip 2/5 by @GleiberMD #BackPain #Massage"


LONG_TEMPLATE = "{{ tip.headline }} {{ tip.body }} {{ article.url }} {{ hashtag_line }}"


def test_hashtags_go_one_at_a_time_from_the_last_before_the_body_is_cut(tmp_path: Path, article: Article) -> None:
    templates = load_templates(write_templates(tmp_path, long=LONG_TEMPLATE))
    headline = "Rest helps."
    room = MAX_WEIGHTED_LENGTH - len(headline) - 1 - 1 - 23 - 1 - len("#BackPain")
    tip = Tip(1, headline, "word " * (room // 5 - 1) + "end.")
    post = compose_tip(replace(article, tips=(tip,)), tip, handle=HANDLE, hashtags=HASHTAGS, env=templates)

    assert post.text.endswith(f"{URL} #BackPain")
    assert "end." in post.text  # the body is whole: dropping #Massage was enough
    assert_sound(post, tip, replace(article, tips=(tip,)), LONG_TEMPLATE)


def test_a_long_body_loses_hashtags_then_is_cut_after_a_sentence(tmp_path: Path, article: Article) -> None:
    templates = load_templates(write_templates(tmp_path, long=LONG_TEMPLATE))
    tip = SEED_TIPS[2]
    post = compose_tip(article, tip, handle=HANDLE, hashtags=HASHTAGS, env=templates)

    assert "#" not in post.text
    assert post.text.endswith(f"lacking proper blood flow. {URL}")  # the next sentence would make 281
    assert ELLIPSIS not in post.text
    assert_sound(post, tip, article, LONG_TEMPLATE)


def test_without_a_fitting_sentence_the_body_is_cut_after_a_word(tmp_path: Path, article: Article) -> None:
    templates = load_templates(write_templates(tmp_path, long=LONG_TEMPLATE))
    body = "Stretch gently, " * 30 + "then rest."
    tip = Tip(1, "Stretch.", body)
    post = compose_tip(replace(article, tips=(tip,)), tip, handle=HANDLE, hashtags=HASHTAGS, env=templates)

    # Cut after a whole word, with no comma or space dangling before the ellipsis.
    assert f"gently{ELLIPSIS} {URL}" in post.text or f"Stretch{ELLIPSIS} {URL}" in post.text
    assert post.weighted_length <= MAX_WEIGHTED_LENGTH
    assert_sound(post, tip, replace(article, tips=(tip,)), LONG_TEMPLATE)


def test_a_cut_keeps_an_underscore_that_ends_a_word(tmp_path: Path, article: Article) -> None:
    # Found by the property test: "snake_" lost its underscore before the ellipsis, inventing the word "snake".
    templates = load_templates(write_templates(tmp_path, body="{{ tip.body }}"))
    body = "x " * 130 + "snake_ " + "y" * 40
    tip = Tip(1, "Words.", body)
    post = compose_tip(replace(article, tips=(tip,)), tip, handle=HANDLE, hashtags=(), env=templates)

    assert post.text.endswith(f"snake_{ELLIPSIS}")
    assert_sound(post, tip, replace(article, tips=(tip,)), "{{ tip.body }}")


def test_a_link_in_the_body_is_never_cut(tmp_path: Path, article: Article) -> None:
    templates = load_templates(write_templates(tmp_path, body="{{ tip.body }}"))
    link = "https://example.com/" + "a" * 300  # longer than a post, yet it weighs 23
    # 250 + 23 fit, the long word after the link does not: the cut comes right after the link.
    body = "x " * 125 + link + " " + "y" * 40
    tip = Tip(1, "Links.", body)
    post = compose_tip(replace(article, tips=(tip,)), tip, handle=HANDLE, hashtags=(), env=templates)

    # A space keeps the ellipsis from reading as part of the link.
    assert post.text.endswith(f" {link} {ELLIPSIS}")
    assert_sound(post, tip, replace(article, tips=(tip,)), "{{ tip.body }}")


def test_templates_can_use_jinjas_own_globals(tmp_path: Path, article: Article) -> None:
    # range and namespace are Jinja's globals, not the composer's variables: they must stay reachable.
    source = ("{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% endfor %}"
              "{{ tip.headline }} ({{ ns.n }} of {{ series.label }}) {{ hashtag_line }}")
    templates = load_templates(write_templates(tmp_path, sums=source))
    tip = SEED_TIPS[0]
    post = compose_tip(article, tip, handle=HANDLE, hashtags=("Massage",), env=templates)

    assert post.text == f"{tip.headline} (3 of 1/{len(article.tips)}) #Massage"


THREAD_TEMPLATE = "{% set thread = true %}\n{{ tip.headline }}\n{{ tip.body }}\n{{ article.url }} {{ hashtag_line }}"


def test_a_template_asking_for_a_thread_gets_the_whole_body_in_replies(tmp_path: Path, article: Article) -> None:
    templates = load_templates(write_templates(tmp_path, thread=THREAD_TEMPLATE))
    tip = SEED_TIPS[2]
    post = compose_tip(article, tip, handle=HANDLE, hashtags=HASHTAGS, env=templates)

    assert post.thread is not None and len(post.thread) >= 2
    assert post.text == post.thread[0]
    assert URL in post.text and "#BackPain #Massage" in post.text
    # Nothing of the body is lost: the parts, less the template's text, are the body in order.
    words = " ".join(post.thread).replace(URL, "").replace("#BackPain #Massage", "").split()
    assert " ".join(words) == f"{tip.headline} {tip.body}"
    assert_sound(post, tip, article, THREAD_TEMPLATE)


def test_a_thread_template_makes_one_post_when_everything_fits(tmp_path: Path, article: Article) -> None:
    templates = load_templates(write_templates(tmp_path, thread=THREAD_TEMPLATE))
    tip = Tip(1, "Short.", "Very short.")
    post = compose_tip(replace(article, tips=(tip,)), tip, handle=HANDLE, hashtags=HASHTAGS, env=templates)

    assert post.thread is None


def test_media_named_by_a_template_is_attached(tmp_path: Path, article: Article) -> None:
    write_templates(tmp_path, pic='{% set media = "images/spine.png" %}{{ tip.headline }}')
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "spine.png").write_bytes(b"\x89PNG")
    post = compose_tip(article, SEED_TIPS[0], handle=HANDLE, hashtags=(), env=load_templates(tmp_path))

    assert post.media == (str((tmp_path / "images" / "spine.png").resolve()),)


def test_media_that_does_not_exist_is_an_error(tmp_path: Path, article: Article) -> None:
    templates = load_templates(write_templates(tmp_path, pic='{% set media = "nope.png" %}{{ tip.headline }}'))

    with pytest.raises(TemplateError, match=r"pic\.j2.*nope\.png"):
        compose_tip(article, SEED_TIPS[0], handle=HANDLE, hashtags=(), env=templates)


def test_fixed_text_too_long_names_template_and_tip(tmp_path: Path, article: Article) -> None:
    templates = load_templates(write_templates(tmp_path, wordy="x" * 281 + " {{ tip.headline }}"))

    with pytest.raises(TemplateError) as caught:
        compose_tip(article, SEED_TIPS[1], handle=HANDLE, hashtags=HASHTAGS, env=templates)
    message = str(caught.value)
    assert str(tmp_path / "tip" / "wordy.j2") in message
    assert "massage-therapy-for-back-pain.txt, tip 2" in message


def test_an_undefined_variable_names_file_line_and_what_is_available(tmp_path: Path, article: Article) -> None:
    templates = load_templates(write_templates(tmp_path, typo="{{ tip.headline }}\n\n{{ tip.bdy }}"))

    with pytest.raises(TemplateError) as caught:
        compose_tip(article, SEED_TIPS[0], handle=HANDLE, hashtags=(), env=templates)
    message = str(caught.value)
    assert f"{tmp_path / 'tip' / 'typo.j2'}, line 3" in message
    assert "bdy" in message and "tip (number, headline, body, point, how_to, label, name, name_the, thing)" in message


def test_a_syntax_error_names_file_and_line_when_loading(tmp_path: Path) -> None:
    write_templates(tmp_path, broken="{{ tip.headline }}\n{% if tip.body %}\nno end")

    with pytest.raises(TemplateError, match=r"broken\.j2, line \d+: .*endif"):
        load_templates(tmp_path)


@pytest.mark.parametrize("expression", ["tip.__class__.__mro__", "article.__class__", "series.__init__.__globals__",
                                        "tip.__slots__", "series.__class__.label.fget"])
def test_the_sandbox_blocks_unsafe_attributes(tmp_path: Path, article: Article, expression: str) -> None:
    templates = load_templates(write_templates(tmp_path, evil=f"{{{{ {expression} }}}}"))
    unsafe = expression.split(".")[1]

    with pytest.raises(TemplateError, match=rf"evil\.j2, line 1: not allowed in a template: .*{unsafe}"):
        compose_tip(article, SEED_TIPS[0], handle=HANDLE, hashtags=(), env=templates)


def test_an_empty_rendering_is_an_error(tmp_path: Path, article: Article) -> None:
    templates = load_templates(write_templates(tmp_path, empty="{{ tip.body }}"))
    tip = Tip(1, "Headline only.", "")

    with pytest.raises(TemplateError, match="empty post"):
        compose_tip(replace(article, tips=(tip,)), tip, handle=HANDLE, hashtags=(), env=templates)


def test_an_article_without_url_still_composes_with_the_defaults(article: Article) -> None:
    no_link = replace(article, url=None)
    for post, tip in zip(compose_article(no_link, handle=HANDLE, hashtags=HASHTAGS), SEED_TIPS):
        assert "http" not in post.text
        assert_sound(post, tip, no_link, source_of(post))


def test_tip_text_reads_as_one_line(tmp_path: Path, article: Article) -> None:
    templates = load_templates(write_templates(tmp_path, body="{{ tip.body }}"))
    tip = Tip(1, "H", "Line one\n\nline   two\u00a0and\ufeffthree.\n")
    post = compose_tip(replace(article, tips=(tip,)), tip, handle=HANDLE, hashtags=(), env=templates)

    assert post.text == "Line one line two and three."


def test_unfaithful_words_catches_invented_words(article: Article) -> None:
    tip = SEED_TIPS[0]
    source = "Tip {{ series.label }}: {{ tip.headline }}"

    assert unfaithful_words(f"Tip 1/5: {tip.headline}", tip, article, source) == set()
    assert unfaithful_words(f"Tip 1/5: {tip.headline} Guaranteed cure!", tip, article, source) == {"Guaranteed", "cure"}
    # Jinja code is not the template's text: "body" appears only inside {{ }}.
    assert unfaithful_words("body", tip, article, "{{ tip.body }}") == {"body"}


def test_the_default_templates_are_the_repository_ones_in_a_checkout() -> None:
    assert default_templates_dir() == Path(__file__).resolve().parents[1] / "templates"
    assert len(load_templates().variants("tip")) == 4
    assert len(load_templates().variants("avoid")) == 3


def test_a_headline_too_long_for_any_post_is_cut_after_a_word_and_the_link_kept(article: Article) -> None:
    tip = Tip(1, "Gentle stretching every morning keeps the lower back supple " * 6, "Short body.")
    with_tip = replace(article, tips=(tip,))
    for variant in range(4):
        post = compose_tip(with_tip, tip, handle=HANDLE, hashtags=HASHTAGS, variant=variant)
        assert URL in post.text
        cut = re.search(rf"(\S+){ELLIPSIS}", post.text)
        assert cut and cut.group(1) in tip.headline.split()  # a whole word, nothing dangling
        assert_sound(post, tip, with_tip, source_of(post))
