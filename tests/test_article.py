"""Reading articles into numbered tips: what the rest of the pipeline relies on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.articles.reading import hashtags_from_metadata, load_article, parse_article
from scheduler.domain.errors import ArticleError

ARTICLES = Path(__file__).parent / "data" / "articles"
POSTS = Path(__file__).parent.parent / "posts"

SEED_HEADLINES = (
    "You need to do your research before choosing a massage therapist.",
    "You should always check with a medical professional before beginning any massage therapy programs.",
    "Massage therapy has benefits for soft tissue injuries.",
    "Massage therapy may be painful at first.",
    "It’s all in the technique.",
)


# --- The seed article ----------------------------------------------------------------


@pytest.fixture(scope="module")
def seed():
    return load_article(ARTICLES / "massage-therapy-for-back-pain.txt")


def test_seed_has_its_five_tips_with_headlines_as_written(seed):
    assert [tip.number for tip in seed.tips] == [1, 2, 3, 4, 5]
    assert tuple(tip.headline for tip in seed.tips) == SEED_HEADLINES


def test_seed_title_skips_the_browser_notice(seed):
    assert seed.title == "Massage Therapy for Back Pain: 5 Things You Should Know"
    everything = " ".join([seed.title, seed.intro, seed.conclusion, *(t.body for t in seed.tips)])
    assert "browser" not in everything
    assert "Chrome Frame" not in everything


def test_seed_tip_body_is_the_paragraph_after_its_headline(seed):
    assert seed.tips[0].body.startswith("Those with spinal conditions")
    assert seed.tips[0].body.endswith("how to work with your condition.")
    assert "\n" not in seed.tips[0].body


def test_seed_closing_paragraph_is_the_conclusion_not_tip_five(seed):
    last = seed.tips[-1]
    assert last.body.startswith("Every person is different")
    assert last.body.endswith("help to stop the spasms.")
    assert seed.conclusion.startswith("Massage therapy can help to supplement")
    assert seed.conclusion.endswith("follow me on Twitter @GleiberMD.")


def test_seed_intro_is_the_text_before_the_first_tip(seed):
    assert seed.intro.startswith("More and more people are turning to massage therapy")
    assert seed.intro.endswith("before beginning massage therapy.")
    assert seed.warnings == ()


def test_library_copy_of_seed_reads_the_same_and_carries_its_metadata(seed):
    library = load_article(POSTS / "massage-therapy-for-back-pain.md")
    assert (library.title, library.tips, library.intro, library.conclusion) == (
        seed.title,
        seed.tips,
        seed.intro,
        seed.conclusion,
    )
    assert library.url == "https://www.gleibermd.com/blog/massage-therapy-for-back-pain/"
    assert library.hashtags == ("BackPain", "MassageTherapy")
    assert library.key == "massage-therapy-for-back-pain"


def test_every_library_article_loads_cleanly():
    articles = sorted(
        p for p in POSTS.iterdir() if p.suffix in (".md", ".txt", ".html", ".htm") and p.name != "README.md"
    )
    assert articles
    for path in articles:
        article = load_article(path)
        assert article.tips and article.warnings == (), path


# --- Markdown ------------------------------------------------------------------------


def test_markdown_ordered_list_with_bold_headlines_and_indented_bodies():
    article = load_article(ARTICLES / "ordered-list.md")
    assert article.title == "Sleep Better Tonight"
    assert article.url == "https://example.com/blog/sleep-better"
    assert article.hashtags == ("Sleep", "Health")
    assert [(t.number, t.headline, t.body) for t in article.tips] == [
        (1, "Keep a fixed bedtime.", "Your body clock likes routine, even at weekends."),
        (2, "Dim the screens an hour before bed.", "Blue light tells your brain it is still daytime."),
        (3, "Keep the bedroom cool.", "Around 18 °C suits most people."),
    ]
    assert article.intro == "Most of us sleep badly at least some of the time. These habits help."
    assert article.conclusion == "Sweet dreams, and for more tips subscribe to the newsletter."


def test_markdown_numbered_headings_own_the_paragraphs_below_them():
    article = load_article(ARTICLES / "headings.md")
    assert article.title == "Five Ways to Drink More Water"
    assert [(t.number, t.headline) for t in article.tips] == [
        (1, "Carry a bottle"),
        (2, "Flavour it"),
        (3, "Eat your water"),
    ]
    assert article.tips[0].body == "A bottle within reach gets used.\n\nPick one you like."
    assert article.conclusion == "Final thoughts\n\nSmall habits add up."


def test_markdown_list_of_steps_under_numbered_headings_stays_in_the_tip_body():
    text = "# Title\n\n## 1. First\n\n1. step a\n2. step b\n3. step c\n\n## 2. Second\n\nDo it.\n"
    article = parse_article(text, fmt="md", source="steps.md")
    assert [(t.number, t.headline) for t in article.tips] == [(1, "First"), (2, "Second")]
    assert article.tips[0].body == "1. step a\n\n2. step b\n\n3. step c"


def test_markdown_image_alt_text_is_not_tip_text():
    text = "# T\n\n1. ![jumping rope](rope.jpg) Jump rope daily.\n2. Stretch.\n"
    article = parse_article(text, fmt="md", source="img.md")
    assert article.tips[0].headline == "Jump rope daily."


# --- HTML ------------------------------------------------------------------------------


def test_html_ordered_list_ignores_page_furniture():
    article = load_article(ARTICLES / "list-tips.html")
    assert article.title == "Desk Stretches That Work"
    assert article.url == "https://example.com/desk-stretches/"
    assert [(t.number, t.headline, t.body) for t in article.tips] == [
        (1, "Roll your shoulders.", "Ten slow circles loosen the upper back."),
        (2, "Stretch your neck.", "Tilt your ear to your shoulder and hold."),
        (3, "Stand up every hour.", "Set a timer if you forget."),
    ]
    assert article.intro == "Sitting all day stiffens the back."
    assert article.conclusion == "Try these today."


def test_html_numbered_headings_take_following_siblings_as_body():
    article = load_article(ARTICLES / "heading-tips.html")
    assert article.title == "Better Posture"  # from <title>: there is no <h1>
    assert [(t.number, t.headline) for t in article.tips] == [(1, "Sit back"), (2, "Feet flat")]
    assert article.tips[0].body == "Use the whole seat.\n\nLet the backrest carry you."
    assert article.tips[1].body == "Both feet on the floor.\n\n1. Uncross your legs.\n\n2. Adjust the chair height."
    assert article.conclusion == "About the author\n\nA physiotherapist."


def test_html_title_drops_the_site_name_and_ol_start_is_respected():
    html = '<title>Tips | My Site</title><ol start="3"><li>Three.</li><li>Four.</li></ol>'
    article = parse_article(html, fmt="html", source="page.html")
    assert article.title == "Tips"
    assert [t.number for t in article.tips] == [3, 4]
    assert article.warnings == ("page.html: numbering starts at 3, not 1 (line 1)",)


def test_url_argument_overrides_the_article_own_url():
    article = load_article(ARTICLES / "list-tips.html", url="https://override.example/x")
    assert article.url == "https://override.example/x"


# --- Plain text numbering --------------------------------------------------------------


def test_plain_text_numbering_styles():
    article = load_article(ARTICLES / "tip-styles.txt")
    assert [(t.number, t.headline) for t in article.tips] == [
        (1, "Hash style."),
        (2, "Plain tip style."),
        (3, "Step with dash."),
        (4, "Bare hash."),
        (5, "Parenthesis."),
    ]


def test_caption_glued_to_a_number_is_dropped_and_prose_numbers_are_left_alone():
    article = load_article(ARTICLES / "pasted-captions.txt")
    assert [t.number for t in article.tips] == [1, 2, 3]
    assert article.tips[1].headline == "Exercising strenuously a few times a week strengthens the heart."
    assert "Version 2.0 of our walking guide" in article.tips[0].body
    assert "COVID-19. rose in winter" in article.tips[1].body


def test_glued_number_out_of_sequence_is_prose_not_a_tip():
    text = "Title\n\n1. First.\n\n2. Second.\n\nWindows10. Then reboot.\n"
    article = parse_article(text, fmt="txt", source="w.txt")
    assert [t.number for t in article.tips] == [1, 2]
    assert "Windows10. Then reboot." in article.tips[1].body + article.conclusion


def test_one_line_tips_without_blank_lines_between():
    article = parse_article("Title\n\n1. Drink water\n2. Sleep\n3. Walk\n", fmt="txt", source="s.txt")
    assert [(t.number, t.headline, t.body) for t in article.tips] == [
        (1, "Drink water", ""),
        (2, "Sleep", ""),
        (3, "Walk", ""),
    ]


def test_headline_line_followed_by_body_lines_in_the_same_paragraph():
    article = load_article(ARTICLES / "skipped-numbers.txt")
    assert article.tips[0].headline == "Water in the morning."
    assert article.tips[0].body == "Less water evaporates before the sun is high."


def test_hard_wrapped_headline_is_joined_until_its_sentence_ends():
    text = "Title\n\n1. Choose a therapist who is\ntrained in your condition. Ask first.\n\n2. Rest.\n"
    article = parse_article(text, fmt="txt", source="w.txt")
    assert article.tips[0].headline == "Choose a therapist who is trained in your condition."
    assert article.tips[0].body == "Ask first."


def test_whitespace_is_collapsed_and_typographic_quotes_kept():
    text = "Title\n\n1.   “Go   slow”  —  it’s fine.   \n\n   Body   text   here.  \n\n2. Next.\n"
    article = parse_article(text, fmt="txt", source="q.txt")
    assert article.tips[0].headline == "“Go slow” — it’s fine."
    assert article.tips[0].body == "Body text here."


# --- Numbering that skips or restarts --------------------------------------------------


def test_skipped_number_is_kept_and_reported_with_its_line():
    article = load_article(ARTICLES / "skipped-numbers.txt")
    assert [t.number for t in article.tips] == [1, 2, 4]
    assert article.warnings == (f"{ARTICLES / 'skipped-numbers.txt'}: numbering skips from 2 to 4 (line 9)",)


def test_second_numbered_list_is_reported_and_kept_out_of_the_tips():
    article = load_article(ARTICLES / "references-list.txt")
    assert [t.headline for t in article.tips] == ["Warm up first.", "Increase distance slowly.", "Replace worn shoes."]
    assert article.tips[-1].body == "Cushioning wears out after about 800 km."
    assert "Smith, Running Science" in article.conclusion
    (warning,) = article.warnings
    assert "numbering restarts at 1 (line 17)" in warning
    assert "conclusion" in warning


def test_restart_keeps_the_first_of_equally_long_runs_and_numbers_stay_unique():
    article = parse_article("T\n\n1. a\n\n2. b\n\n1. c\n\n2. d\n", fmt="txt", source="r.txt")
    assert [(t.number, t.headline) for t in article.tips] == [(1, "a"), (2, "b")]
    assert "restarts at 1 (line 7)" in article.warnings[0]


# --- Errors ------------------------------------------------------------------------------


def test_no_tips_names_the_file_and_the_styles_tried():
    with pytest.raises(ArticleError) as error:
        load_article(ARTICLES / "no-tips.txt")
    message = str(error.value)
    assert str(ARTICLES / "no-tips.txt") in message
    for style in ("'1. Headline'", "'Tip #1:'", "Markdown ordered lists", "<ol><li>"):
        assert style in message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("empty.txt", "the article is empty"),
        ("latin1.txt", "not UTF-8 text (byte 0xe9 on line 3)"),
        ("notes.docx", "unsupported article type '.docx'"),
        ("missing.txt", "cannot read the article"),
    ],
)
def test_unusable_files_raise_article_error_naming_file_and_fix(name, expected):
    with pytest.raises(ArticleError) as error:
        load_article(ARTICLES / name)
    assert str(ARTICLES / name) in str(error.value)
    assert expected in str(error.value)


@pytest.mark.parametrize(
    ("front_matter", "expected"),
    [
        ("title: [a, b]", "'title' must be text"),
        ("hashtags: [back pain]", "hashtag 'back pain' is not a single word"),
        ("title: 'unclosed", "front matter is not valid YAML"),
        ("url: https://a.example/x\ncanonical: https://b.example/y", "both url and canonical"),
    ],
)
def test_bad_front_matter_values_are_errors(front_matter, expected):
    with pytest.raises(ArticleError, match=expected):
        parse_article(f"---\n{front_matter}\n---\n\n1. Tip.\n", fmt="txt", source="f.txt")


def test_jekyll_front_matter_is_accepted_and_its_other_keys_kept_as_metadata():
    article = load_article(ARTICLES / "jekyll-post.md")
    assert article.title == "Sleep Better With Back Pain: 3 Tips"
    assert [t.headline for t in article.tips] == [
        "Sleep on your side.", "Choose a medium-firm mattress.", "Keep a regular bedtime."
    ]
    assert article.metadata["author"] == "Dr. Gleiber"
    assert article.metadata["layout"] == "post"
    assert article.metadata["date"] == "2026-03-14 09:30:00 -0500"  # as written: Jekyll's form is not a YAML date
    assert article.metadata["categories"] == ["spine care", "sleep"]
    assert article.metadata["tags"] == ["back pain", "sleep hygiene"]
    assert article.metadata["draft"] is False
    json.dumps(article.metadata)  # storable and printable as it is


def test_hugo_toml_front_matter_is_read_like_yaml():
    article = load_article(ARTICLES / "hugo-post.md")
    assert article.title == "Desk Habits That Spare Your Neck"
    assert article.url == "https://example.com/blog/desk-habits-neck/"
    assert [t.number for t in article.tips] == [1, 2]
    assert article.metadata["tags"] == ["neck pain", "office"]
    assert article.metadata["params"] == {"author": "Clinic staff"}
    assert article.metadata["date"] == "2026-04-02T08:00:00-04:00"
    assert article.warnings == ()


@pytest.mark.parametrize(
    ("key", "meant", "line"),
    [("hashtag", "hashtags", 3), ("titel", "title", 2), ("cannonical", "canonical", 2), ("URL", "url", 2)],
)
def test_a_near_miss_of_a_used_key_is_a_warning_naming_the_key_it_resembles(key, meant, line):
    front = "title: T\nhashtag: [Oops]" if key == "hashtag" else f"{key}: x"
    article = parse_article(f"---\n{front}\n---\n\n1. A tip.\n", fmt="md", source="typo.md")
    assert article.warnings[0] == (
        f"typo.md: front matter key '{key}' (line {line}) is not used; did you mean '{meant}'? "
        "It is kept as metadata only."
    )
    assert key in article.metadata


def test_blog_keys_that_resemble_nothing_the_scheduler_uses_give_no_warning():
    article = load_article(ARTICLES / "jekyll-post.md")
    # only the deliberate typo 'hashtag' (line 13) is flagged, not layout/date/author/categories/tags/...
    assert [w for w in article.warnings if "front matter" in w] == [
        f"{ARTICLES / 'jekyll-post.md'}: front matter key 'hashtag' (line 13) is not used; "
        "did you mean 'hashtags'? It is kept as metadata only."
    ]
    assert article.hashtags == ()


def test_bad_toml_front_matter_is_an_error_naming_the_file():
    with pytest.raises(ArticleError, match=r"t.md: front matter is not valid TOML"):
        parse_article("+++\ntitle = unquoted words\n+++\n\n1. Tip.\n", fmt="md", source="t.md")
    with pytest.raises(ArticleError, match=r"opened with '\+\+\+' on line 1 is never closed"):
        parse_article("+++\ntitle = 'x'\n\n1. Tip.\n", fmt="md", source="t.md")


@pytest.mark.parametrize(
    ("metadata", "keys", "expected"),
    [
        ({"tags": ["back pain", "sleep"]}, ["tags"], ("BackPain", "Sleep")),
        ({"tags": "back pain, Sleep, sleep"}, ["tags"], ("BackPain", "Sleep")),
        ({"categories": ["spine care"], "tags": ["a", "b", "c"]}, ["categories", "tags"], ("SpineCare", "A", "B")),
        ({"tags": ["!!!", "McKenzie method"]}, ["tags"], ("McKenzieMethod",)),
        ({"tags": ["x"]}, [], ()),
        ({"tags": 3}, ["tags"], ()),
    ],
)
def test_hashtags_from_metadata_terms(metadata, keys, expected):
    assert hashtags_from_metadata(metadata, keys) == expected


def test_front_matter_hashtags_may_be_a_string_with_hash_signs():
    article = parse_article("---\nhashtags: '#Sleep, #Rest'\n---\nT\n\n1. Tip.\n", fmt="txt", source="h.txt")
    assert article.hashtags == ("Sleep", "Rest")


def test_untitled_article_falls_back_to_file_name_with_a_warning():
    article = parse_article("1. Tip one.\n\n2. Tip two.\n", fmt="txt", source="posts/drink-more-water.txt")
    assert article.title == "Drink more water"
    assert "no title found" in article.warnings[0]


def test_line_numbers_count_the_front_matter():
    text = "---\ntitle: T\n---\n\n1. a\n\n2. b\n\n4. c\n"
    article = parse_article(text, fmt="md", source="l.md")
    assert article.warnings == ("l.md: numbering skips from 2 to 4 (line 9)",)


# --- Properties --------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(text=st.text(), fmt=st.sampled_from(["txt", "md", "html"]))
def test_any_text_gives_valid_tips_or_an_article_error(text, fmt):
    try:
        article = parse_article(text, fmt=fmt, source="any")
    except ArticleError:
        return
    assert article.tips
    assert all(tip.headline.strip() and tip.number > 0 for tip in article.tips)


_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8)
_SENTENCE = st.lists(_WORD, min_size=1, max_size=8).map(lambda words: " ".join(words).capitalize() + ".")


@settings(max_examples=150, deadline=None)
@given(
    tips=st.lists(st.tuples(_SENTENCE, st.lists(_SENTENCE, max_size=3)), min_size=1, max_size=12),
    fmt=st.sampled_from(["txt", "md"]),
)
def test_generated_articles_round_trip_their_tips(tips, fmt):
    lines = ["Generated Article", ""]
    for number, (headline, body) in enumerate(tips, start=1):
        lines += [f"{number}. {headline}", ""]
        if body:
            lines += [" ".join(body), ""]
    article = parse_article("\n".join(lines), fmt=fmt, source="generated")
    assert [t.number for t in article.tips] == list(range(1, len(tips) + 1))
    assert [t.headline for t in article.tips] == [headline for headline, _ in tips]


def test_an_article_is_known_by_its_id_else_its_file_name_never_its_url_or_title():
    text = "---\ntitle: Drink More Water\n{extra}---\n\n1. Drink a glass before each meal.\n"
    plain = parse_article(text.format(extra=""), fmt="md", source="posts/hydration.md")
    with_url = parse_article(text.format(extra="url: https://example.com/blog/water-tips/\n"), fmt="md",
                             source="posts/hydration.md")
    retitled = parse_article(text.format(extra="").replace("Drink More Water", "Seven Glasses a Day"), fmt="md",
                             source="posts/hydration.md")
    assert plain.key == with_url.key == retitled.key == "hydration"
    named = parse_article(text.format(extra="id: Water Tips 2026\n"), fmt="md", source="posts/hydration.md")
    assert named.key == "water-tips-2026"
    # Ledgers written before keyed articles by their URL's last segment, else their title.
    assert with_url.legacy_key == "water-tips" and plain.legacy_key == "drink-more-water"


def test_a_front_matter_id_must_be_a_name():
    with pytest.raises(ArticleError, match="'id' must be a short name"):
        parse_article("---\nid: [a, b]\n---\nT\n\n1. Tip.\n", fmt="md", source="i.md")


_KEY = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.dates(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEY, inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(front=st.dictionaries(_KEY, _VALUE, max_size=6))
def test_any_front_matter_gives_an_article_with_json_metadata_or_an_article_error(front):
    text = "---\n" + yaml.safe_dump(front, allow_unicode=True) + "---\n\n1. A tip.\n"
    try:
        article = parse_article(text, fmt="md", source="any.md")
    except ArticleError:
        return
    json.dumps(article.metadata)
    assert set(article.metadata) == {str(k) for k in front} - {"title", "url", "canonical", "hashtags", "id"}


@settings(max_examples=200, deadline=None)
@given(terms=st.lists(st.text(max_size=30), max_size=6))
def test_hashtags_from_any_terms_are_single_words(terms):
    tags = hashtags_from_metadata({"tags": terms}, ["tags"])
    assert len(tags) <= 3
    assert all(re.fullmatch(r"\w+", tag) for tag in tags)
    assert len({t.casefold() for t in tags}) == len(tags)


def test_a_letter_whose_capital_takes_two_characters_keeps_its_hashtag_whole():
    assert hashtags_from_metadata({"tags": ["ὐ", "back pain"]}, ["tags"]) == ("ὐ", "BackPain")
