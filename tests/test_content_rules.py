"""Content rules: the shipped defaults catch what they say they catch, config changes them, and on any
text the rules only report (findings point at the text as it is; nothing is rewritten)."""

from __future__ import annotations

from pathlib import Path

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.config import parse_config
from scheduler.domain.content_rules import DEFAULT_RULES, RuleSet, blocking, rules_from_config
from scheduler.domain.errors import ConfigError

DEFAULTS = RuleSet(DEFAULT_RULES)


def rules_hit(text: str, ruleset: RuleSet = DEFAULTS) -> set[tuple[str, str]]:
    return {(f.rule, f.severity) for f in ruleset.check([text])}


@pytest.mark.parametrize(("text", "expected"), [
    ("This stretch is guaranteed to end back pain.", {("absolute-claim", "block")}),
    ("A 100% effective fix for sciatica", {("absolute-claim", "block")}),
    ("The permanent fix for a bad back", {("absolute-claim", "block")}),
    ("A miracle cure for knees", {("absolute-claim", "block"), ("cure-claim", "warn")}),
    ("There is no cure for arthritis, but movement helps.", {("cure-claim", "warn")}),
    ("Take 400 mg of ibuprofen.", {("dosage", "block")}),
    ("Up to 1,000mg a day", {("dosage", "block")}),
    ("Use it twice daily.", {("dosing-schedule", "warn")}),
    ("Call us at (555) 123-4567 today", {("phone-number", "block")}),
    ("Write to jane.doe+spine@example.org", {("email-address", "block")}),
    ("Born on March 3, 1980, she ...", {("date-of-birth", "block")}),
    ("DOB 03/04/1980", {("date-of-birth", "block")}),
    ("One of my patients, a 45-year-old teacher, walked again.", {("patient-story", "warn")}),
    ("I treated a runner last week.", {("patient-story", "warn")}),
])
def test_shipped_rules_catch_what_the_readme_says(text, expected):
    assert rules_hit(text) == expected


@pytest.mark.parametrize("text", [
    "Walk 10 minutes after every meal. #BackPain",
    "Follow me on Twitter @GleiberMD for more tips.",
    "Apply pressure for 10-30 seconds in the area of the spasm.",
    "Read more: https://www.gleibermd.com/blog/massage-therapy-for-back-pain/",
    "Check with your doctor before starting massage therapy.",
])
def test_ordinary_tips_pass_clean(text):
    assert rules_hit(text) == set()


def test_the_shipped_library_has_no_blocking_finding():
    from scheduler.articles.library import compose

    config = parse_config("[account]\nhandle = 'GleiberMD'\n", source=None)
    for item in compose(config, [Path(__file__).parents[1] / "posts"]):
        for post in item.posts:
            assert blocking(DEFAULTS.check(post.parts)) == [], post.text


def test_findings_name_the_part_and_the_place():
    [finding] = DEFAULTS.check(["Stretch gently.", "Then take 200 mg."])
    assert (finding.rule, finding.part, finding.match) == ("dosage", 1, "200 mg")
    assert "Then take 200 mg."[finding.start:finding.end] == "200 mg"
    assert finding.describe().startswith('[block] dosage (part 2): "200 mg"')


# -- configuration ------------------------------------------------------------------------------------------


def config_rules(text: str) -> RuleSet:
    return rules_from_config(parse_config(text, source=None)["review"])


def test_config_adds_replaces_and_disables_rules():
    ruleset = config_rules("""
[review]
disabled_rules = ["cure-claim"]

[[review.rules]]
name = "brand-names"
pattern = "\\\\b(advil|tylenol)\\\\b"
severity = "block"
message = "no brand names"

[[review.rules]]
name = "dosing-schedule"
pattern = "\\\\btwice daily\\\\b"
severity = "block"
message = "no schedules at all"
""")
    names = {r.name: r for r in ruleset.rules}
    assert "cure-claim" not in names
    assert names["dosing-schedule"].severity == "block"
    assert rules_hit("Tylenol twice daily, no cure", ruleset) == {("brand-names", "block"),
                                                                  ("dosing-schedule", "block")}


def test_default_rules_can_be_turned_off_whole():
    ruleset = config_rules("[review]\ndefault_rules = false\n")
    assert ruleset.rules == ()
    assert rules_hit("Take 400 mg, guaranteed.", ruleset) == set()


@pytest.mark.parametrize(("body", "message"), [
    ('name = "x"\npattern = "("\nmessage = "m"', "is not a regular expression"),
    ('name = "x"\npattern = "a"\nseverity = "stop"\nmessage = "m"', "severity 'stop' is not one of: warn, block"),
    ('name = "x"\npattern = "a*"\nmessage = "m"', "matches an empty text"),
    ('name = "x"\npattern = "a"', "message must be a non-empty string"),
    ('name = "x"\npattern = "a"\nmessage = "m"\ncolour = "red"', "unknown key 'colour'"),
])
def test_a_bad_rule_is_an_error_naming_its_line(body, message):
    text = f"[review]\nrequired = true\n\n[[review.rules]]\n{body}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source=None)
    assert "scheduler.toml:4:" in str(caught.value)
    assert message in str(caught.value)


def test_an_unknown_disabled_rule_is_an_error():
    with pytest.raises(ConfigError, match="'cures' is not a shipped rule"):
        parse_config('[account]\nhandle = "GleiberMD"\n[review]\ndisabled_rules = ["cures"]\n', source=None)


# -- on any text ------------------------------------------------------------------------------------------------

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)


@settings(max_examples=300, deadline=None)
@given(st.lists(texts, min_size=1, max_size=3))
def test_rules_only_report_and_every_finding_points_at_the_text(parts):
    before = list(parts)
    findings = DEFAULTS.check(parts)
    assert parts == before  # never rewritten
    assert findings == DEFAULTS.check(parts)  # the same every time
    for f in findings:
        assert f.severity in ("warn", "block")
        assert parts[f.part][f.start:f.end] == f.match and f.match
    assert [(f.part, f.start) for f in findings] == sorted((f.part, f.start) for f in findings)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_a_block_finding_exists_exactly_when_a_blocking_pattern_matches(text):
    matches = any(regex.search(r.pattern, text, regex.IGNORECASE) for r in DEFAULT_RULES if r.severity == "block")
    assert bool(blocking(DEFAULTS.check([text]))) == matches


@settings(max_examples=200, deadline=None)
@given(prefix=texts, suffix=texts, dose=st.integers(1, 5000), unit=st.sampled_from(["mg", "mcg", "ml", "IU"]))
def test_a_dose_anywhere_in_free_text_blocks(prefix, suffix, dose, unit):
    text = f"{prefix} {dose} {unit} {suffix}"
    assert any(f.rule == "dosage" and f.match == f"{dose} {unit}" for f in DEFAULTS.check([text]))


@settings(max_examples=100, deadline=None)
@given(st.text(st.sampled_from("ab()*+?|[]^$.\\{}0123456789,"), min_size=1, max_size=12), texts)
def test_any_accepted_pattern_checks_any_text(pattern, text):
    try:
        ruleset = config_rules(f"[[review.rules]]\nname = \"p\"\npattern = '''{pattern}'''\nmessage = \"m\"\n"
                               .replace("[[review.rules]]", "[review]\n[[review.rules]]"))
    except ConfigError:
        return  # refused with a message: fine
    for f in ruleset.check([text]):
        assert text[f.start:f.end] == f.match
