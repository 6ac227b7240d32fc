"""Content rules for health posts: patterns that a reviewer must see, or that block an approval.

Each rule is a regular expression (case-insensitive), a severity and a message. ``warn`` findings
are shown beside the post wherever it is composed, edited or reviewed; a ``block`` finding means
the post cannot be approved until its text changes. Rules only report: they never rewrite a text.

The shipped rules (``DEFAULT_RULES``) catch what a surgeon's account must not say without a
second look: absolute claims, doses, personal data, and first-person patient stories. They are
deliberately broad (a "no cure" is flagged too): a warning costs a glance, a missed dose costs more.
``CLAIM_RULES`` add, as ``warn``, the common back-pain myths (massage "releases lactic acid" or "flushes toxins",
a manipulation "puts a disc back in place", bed rest as the cure) and durations no article can promise ("relaxed
for up to two weeks"): an editor would not publish them as fact. The composer avoids such a sentence when its tip
has another to say (``claims_in``); when it has none, the finding tells the reviewer.
``[review]`` in scheduler.toml changes them: ``default_rules = false`` drops them all,
``disabled_rules = ["name", ...]`` drops some, and each ``[[review.rules]]`` table adds a rule or,
with a shipped rule's name, replaces it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import regex

SEVERITIES = ("warn", "block")
# A user's pattern may backtrack badly; no post is worth more than this per rule.
MATCH_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: str
    severity: str  # warn | block
    message: str


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    message: str
    part: int  # index of the thread part (0: the post itself)
    start: int  # character offsets into that part
    end: int
    match: str

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        where = f" (part {self.part + 1})" if self.part else ""
        return f"[{self.severity}] {self.rule}{where}: \"{self.match}\" - {self.message}"


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("absolute-claim",
         r"\b(?:guarantee[sd]?|100\s?%\s?(?:effective|safe|success(?:ful)?|cure[sd]?)|permanent(?:ly)?\s+(?:fix|cure)"
         r"(?:e[sd])?|miracle|miraculous|risk[- ]free|works\s+for\s+every(?:one|body))\b",
         "block", "an absolute claim: no treatment is guaranteed; say what it may do, for whom"),
    Rule("cure-claim", r"\bcur(?:e[sd]?|ing)\b",
         "warn", "speaks of a cure: make sure the post does not promise one"),
    Rule("dosage",
         r"\b\d+(?:[.,]\d+)?\s?(?:mg|mcg|µg|micrograms?|milligrams?|grams?|ml|millilit(?:er|re)s?|cc|iu|units?)\b",
         "block", "a dose: doses belong to a consultation, not a post; remove the amount"),
    Rule("dosing-schedule",
         r"\b(?:(?:once|twice|thrice|\d+\s+times)\s+(?:a|per)\s+day|(?:once|twice)\s+daily|every\s+\d+\s+hours"
         r"|b\.?i\.?d\.?|t\.?i\.?d\.?|q\.?i\.?d\.?|q\d+h)\b",
         "warn", "a dosing schedule: fine for exercises, not for medicines"),
    Rule("phone-number", r"(?<![\w/])(?:\+?\d{1,3}[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\w)",
         "block", "a phone number: personal data never goes in a post"),
    Rule("email-address", r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b",
         "block", "an email address: personal data never goes in a post"),
    Rule("date-of-birth",
         r"\b(?:d\.?o\.?b\.?|date\s+of\s+birth|birth\s?date)\b|\bborn\s+(?:on\s+)?(?:\d{1,2}\s+[a-z]+\s+\d{4}"
         r"|[a-z]+\s+\d{1,2},?\s+\d{4}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4})",
         "block", "a date of birth: personal data never goes in a post"),
    Rule("patient-story",
         r"\b(?:(?:my|our|a|one\s+of\s+my|one\s+of\s+our)\s+patients?\b|a\s+patient\s+of\s+(?:mine|ours)"
         r"|I\s+(?:treated|operated\s+on|saw|examined)\s+(?:a|an|one|this)\b|\d{1,3}[- ]year[- ]old)",
         "warn", "a patient story: make sure nobody can be recognised (age, place, date, job) and consent exists"),
)


# Myths about back pain stated as fact, and promises of how long an effect lasts: flagged for the reviewer.
CLAIM_RULES: tuple[Rule, ...] = (
    Rule("myth-lactic-acid",
         r"\b(?:releas|flush|remov|clear|drain|break)\w*\s+(?:\w+\s+){0,4}?lactic\s+acid"
         r"|\blactic\s+acid\b[^.!?]{0,40}\b(?:releas|flush|remov|clear|drain)\w*",
         "warn", "a myth: massage does not release or flush lactic acid; say what it may do (ease tension, for a while)"),
    Rule("myth-toxins", r"\b(?:flush|releas|remov|draw|clear|purg)\w*\s+(?:\w+\s+){0,4}?toxins?\b|\bdetox\w*",
         "warn", "a myth: muscles do not store toxins that massage or water flushes out; remove the claim"),
    Rule("myth-realign",
         r"\b(?:puts?|pops?|snaps?|slips?)\s+(?:\w+\s+){0,3}?(?:discs?|vertebrae?|spine|bones?)\s+back\s+(?:in|into)"
         r"(?:\s+place)?\b|\bcracking\b[^.!?]{0,30}\brealign",
         "warn", "a myth: a manipulation does not put a disc or vertebra back in place; say what it may do"),
    Rule("myth-bed-rest",
         r"\bbed\s+rest\s+(?:is\s+(?:the\s+)?best|cures?|heals?|is\s+what\s+(?:you|your\s+back)\s+needs?)",
         "warn", "a myth: bed rest slows recovery from most back pain; staying gently active helps"),
    Rule("unsupported-duration",
         r"\b(?:relax\w*|relie\w*|pain[- ]free|better|effects?|benefits?|results?|keeps?|stays?|lasts?|lasting)\b"
         r"[^.!?]{0,40}?\b(?:for|up\s+to|as\s+long\s+as|at\s+least)\s+(?:up\s+to\s+)?"
         r"(?:\d+|one|two|three|four|five|six|several|many)\s+(?:more\s+)?(?:days?|weeks?|months?|years?)\b"
         r"(?![^.!?]{0,30}\b(?:study|studies|trial|research)\b)",
         "warn", "a promise of how long an effect lasts, without a source: cite one or remove the duration"),
)


def claims_in(text: str) -> list[str]:
    """The names of the ``CLAIM_RULES`` that ``text`` matches (the composer avoids such a sentence)."""
    return [rule.name for rule, pattern in _CLAIMS if pattern.search(text, timeout=MATCH_TIMEOUT_S)]


class RuleSet:
    """Compiled rules, checked against a post's parts."""

    def __init__(self, rules: Sequence[Rule]):
        self.rules = tuple(rules)
        self._compiled = [(rule, regex.compile(rule.pattern, regex.IGNORECASE | regex.UNICODE)) for rule in rules]

    def check(self, parts: Sequence[str]) -> tuple[Finding, ...]:
        """Every match of every rule in every part, in order of part, then position. Never changes a text."""
        findings: list[Finding] = []
        for index, text in enumerate(parts):
            for rule, pattern in self._compiled:
                try:
                    for match in pattern.finditer(text, timeout=MATCH_TIMEOUT_S):
                        if match.end() > match.start():
                            findings.append(Finding(rule.name, rule.severity, rule.message, index,
                                                    match.start(), match.end(), match.group()))
                except TimeoutError:
                    findings.append(Finding(rule.name, rule.severity,
                                            f"the rule's pattern took too long on this text; {rule.message}",
                                            index, 0, 0, ""))
        findings.sort(key=lambda f: (f.part, f.start, f.end, f.rule))
        return tuple(findings)


_CLAIMS = [(rule, regex.compile(rule.pattern, regex.IGNORECASE)) for rule in CLAIM_RULES]


def blocking(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "block"]


def rules_from_config(review: Mapping[str, Any]) -> RuleSet:
    """The rules in force: the shipped ones (unless turned off), less the disabled, plus the configured."""
    rules: dict[str, Rule] = {}
    if review.get("default_rules", True):
        rules.update((rule.name, rule) for rule in (*DEFAULT_RULES, *CLAIM_RULES))
    for name in review.get("disabled_rules", ()):
        rules.pop(name, None)
    for rule in review.get("rules", ()):
        rules[rule.name] = rule
    return RuleSet(list(rules.values()))


def check_rules_value(value: Any) -> tuple[Rule, ...]:
    """The config checker for ``[[review.rules]]``: a list of tables with name, pattern, severity, message."""
    if not isinstance(value, list):
        raise ValueError("must be a list of tables: [[review.rules]] with name, pattern, severity, message")
    rules = []
    for number, item in enumerate(value, start=1):
        label = f"rule {number}"
        if not isinstance(item, dict):
            raise ValueError(f"{label} is not a table with name, pattern, severity, message")
        unknown = set(item) - {"name", "pattern", "severity", "message"}
        if unknown:
            raise ValueError(f"{label}: unknown key {sorted(unknown)[0]!r}; allowed: name, pattern, severity, message")
        for key in ("name", "pattern", "message"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise ValueError(f"{label}: {key} must be a non-empty string")
        label = f"rule {number} ({item['name']!r})"
        severity = item.get("severity", "warn")
        if severity not in SEVERITIES:
            raise ValueError(f"{label}: severity {severity!r} is not one of: warn, block")
        try:
            compiled = regex.compile(item["pattern"], regex.IGNORECASE)
        except regex.error as exc:
            raise ValueError(f"{label}: pattern {item['pattern']!r} is not a regular expression: {exc}") from None
        if compiled.search("") is not None:
            raise ValueError(f"{label}: pattern {item['pattern']!r} matches an empty text, so it would flag "
                             "every post; make it match at least one character")
        rules.append(Rule(item["name"], item["pattern"], severity, item["message"]))
    names = [r.name for r in rules]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise ValueError(f"two rules are named {duplicate!r}; give each its own name")
    return tuple(rules)


def check_rule_names(value: Any) -> tuple[str, ...]:
    known = {rule.name for rule in (*DEFAULT_RULES, *CLAIM_RULES)}
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{value!r} is not a list of rule names, e.g. [\"cure-claim\"]")
    for name in value:
        if name not in known:
            raise ValueError(f"{name!r} is not a shipped rule; shipped rules: {', '.join(sorted(known))}")
    return tuple(value)
