"""How long X counts a post: twitter-text's v3 weighted length.

X does not count characters. Latin, Greek, Cyrillic, Hebrew, Arabic... and some punctuation weigh 1; other code
points (CJK, most symbols) weigh 2; a link weighs 23 whatever its length, since X wraps it in a t.co link; an emoji
that twitter-text knows, even one made of several code points (a family joined by ZWJ, a flag, a keycap, a skin
tone), weighs 2 as a whole. A post may weigh 280. The numbers are those of twitter-text's v3 configuration
(tests/data/twitter-text/v3.json).

What is a link and what is an emoji follows twitter-text itself: its URL regular expressions (Apache 2.0), its
list of top-level domains, and the emoji list the reference implementation counts with (Unicode's emoji-test.txt
12.0), so that the count equals the reference's (tests/test_twitter_text_reference.py proves it on generated
texts). Two things differ, both on the side that keeps a post X accepts:
- a word shaped like a link whose top-level domain twitter-text does not know ("smith.notarealtld") weighs the
  larger of 23 and its own weight, since X's list of domains grows;
- "\\r\\n" weighs 2, as the official twitter-text counts it (the Python port counts it as one line end).
An emoji newer than Unicode 12.0 made of several code points weighs what its code points weigh, as it does to the
reference: more than X may count, never less.
"""

from __future__ import annotations

import functools
import re
import unicodedata

MAX_WEIGHTED_LENGTH = 280
URL_WEIGHT = 23
EMOJI_WEIGHT = 2

# Code points outside v3.json's weight-1 ranges (0-4351, 8192-8205, 8208-8223, 8242-8247) weigh 2.
_HEAVY = re.compile(r"[^\u0000-\u10FF\u2000-\u200D\u2010-\u201F\u2032-\u2037]")

# twitter-text refuses any text holding these, whatever its length.
INVALID_CHARACTERS = "\uFFFE\uFEFF\uFFFF"

# -- twitter-text's URL regular expressions, piece by piece (twitter-text/js/src/regexp) ----------------------------
_SPACES = r"\x09-\x0D\x20\x85\xA0\u1680\u180E\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
_INVALID = r"\uFFFE\uFEFF\uFFFF"
_DIRECTIONAL = r"\u202A-\u202E\u061C\u200E\u200F\u2066\u2067\u2068\u2069"
_PUNCT = r"\!'#%&'\(\)*\+,\\\-\.\/:;<=>\?@\[\]\^_{|}~\$/"
_LATIN = (
    r"\xC0-\xD6\xD8-\xF6\xF8-\xFF\u0100-\u024F\u0253\u0254\u0256\u0257\u0259\u025B\u0263\u0268\u026F\u0272\u0289"
    r"\u028B\u02BB\u0300-\u036F\u1E00-\u1EFF"
)
_CYRILLIC = r"\u0400-\u04FF"
_DOMAIN_CHAR = rf"[^{_PUNCT}{_SPACES}{_INVALID}{_DIRECTIONAL}]"
_SUBDOMAIN = rf"(?:(?:{_DOMAIN_CHAR}(?:[_-]|{_DOMAIN_CHAR})*)?{_DOMAIN_CHAR}\.)"
_DOMAIN_NAME = rf"(?:(?:{_DOMAIN_CHAR}(?:-|{_DOMAIN_CHAR})*)?{_DOMAIN_CHAR}\.)"
_PUNYCODE = r"(?:xn--[\-0-9a-z]+)"
_PRECEDING = rf"(?:[^A-Za-z0-9@＠$#＃{_INVALID}]|[{_DIRECTIONAL}]|^)"
_PATH_CHAR = rf"[a-z{_CYRILLIC}0-9!\*';:=\+,\.\$\/%#\[\]\-\u2013_~@\|&{_LATIN}]"
_BALANCED = rf"\((?:{_PATH_CHAR}+|(?:{_PATH_CHAR}*\({_PATH_CHAR}+\){_PATH_CHAR}*))\)"
_PATH_END = rf"[\+\-a-z{_CYRILLIC}0-9=_#\/{_LATIN}]|(?:{_BALANCED})"
_PATH = rf"(?:(?:{_PATH_CHAR}*(?:{_BALANCED}{_PATH_CHAR}*)*(?:{_PATH_END}))|(?:@{_PATH_CHAR}+/))"
_QUERY_CHAR = r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"
_QUERY_END = r"[a-z0-9\-_&=#/]"
_TCO = re.compile(rf"^https?:\/\/t\.co\/([a-z0-9]+)(?:\?{_QUERY_CHAR}*{_QUERY_END})?", re.IGNORECASE)
_MAX_URL_LENGTH = 4096
_MAX_TCO_SLUG_LENGTH = 40
# A top-level domain X may know that twitter-text does not: a run of 2 to 63 ASCII letters, ending the word or
# followed by punctuation ("münchen.café" and "notes.txt_old" are not links with domains "caf" and "txt").
_ANY_ASCII_TLD = r"[a-z]{2,63}(?![\w@+-])"
_ASCII_TLD = re.compile(rf"\.({_ANY_ASCII_TLD})", re.IGNORECASE)

# Words (runs of what twitter-text does not call a space) are weighed apart: a link or an emoji holds no space.
_WORD = re.compile(rf"[^{_SPACES}]+")
# A link's top-level domain starts with a letter after a dot: a word without one holds no link.
_DOT_LETTER = re.compile(r"\.[^\W\d_]")


def weighted_length(text: str) -> int:
    """The length X counts for ``text`` (twitter-text v3)."""
    if text.isascii():
        # The common case, kept cheap: ASCII is already NFC, holds no emoji, and without a '.' no link.
        if "." not in text:
            return len(text)
        return len(text) + _adjustment(text, every_word=False)
    text = unicodedata.normalize("NFC", text)
    # Weigh the text code point by code point, then correct word by word for links and emoji.
    return _plain_weight(text) + _adjustment(text, every_word=True)


def is_valid(text: str) -> bool:
    """Whether X accepts ``text`` as a post: not blank, no invalid character, weighing at most 280."""
    if not text.strip() or any(c in text for c in INVALID_CHARACTERS):
        return False
    return weighted_length(text) <= MAX_WEIGHTED_LENGTH


def url_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each link twitter-text finds in ``text``, as indices into ``text`` as given.

    Pass NFC text (the composer does) for the spans to match what weighted_length counts.
    """
    spans = []
    if not _DOT_LETTER.search(text):
        return spans  # no word holds a '.' before a letter, so none a link (_links_in_word)
    for word in _WORD.finditer(text):
        found = word.group()
        if "." not in found:
            continue  # as above, for this word
        offset = word.start()
        spans.extend((offset + start, offset + end) for start, end, _ in _links_in_word(found, offset == 0)[0])
    return spans


def _adjustment(text: str, every_word: bool) -> int:
    """What links and emoji change to the code-point weight of ``text``, word by word.

    Only a word with a '.' can hold a link, and only a non-ASCII one (``every_word``) an emoji.
    """
    # str.split() is faster, and splits at twitter-text's spaces but also at these four (it does not at U+180E,
    # which no link or emoji holds, and which twitter-text's link regex takes as the character before a link, as
    # it takes a space).
    if "\x1c" in text or "\x1d" in text or "\x1e" in text or "\x1f" in text:
        words = _WORD.findall(text)
    else:
        words = text.split()
    if every_word:
        weighed = [word for word in words if "." in word or not word.isascii()]
    else:
        weighed = [word for word in words if "." in word]
    if not weighed:
        return 0
    first = weighed[0]
    if first is words[0] and text.startswith(first):
        return _first_word_adjustment(first) + sum(map(_word_adjustment, weighed[1:]))
    return sum(map(_word_adjustment, weighed))


def _plain_weight(text: str) -> int:
    return len(text) + len(_HEAVY.findall(text))


@functools.lru_cache(maxsize=4096)
def _word_adjustment(word: str) -> int:
    """What links and emoji change to the code-point weight of a space-free word after a space.

    Cached, since every post of an article repeats its link and most of its words.
    """
    return _weigh_word(word, at_start=False)


@functools.lru_cache(maxsize=256)
def _first_word_adjustment(word: str) -> int:
    """What links and emoji change to the code-point weight of a space-free word that starts the text."""
    return _weigh_word(word, at_start=True)


def _weigh_word(word: str, at_start: bool) -> int:
    """What links and emoji change to the code-point weight of a space-free word.

    The walk is twitter-text's: left to right, a link where one starts (skipping as many code points as its text
    holds), else an emoji where one starts; an emoji or link starting inside one already counted is not counted.
    """
    links, maybe_links = _links_in_word(word, at_start)
    emoji = _emoji_in_word(word) if not word.isascii() else ()
    if not (links or maybe_links or emoji):
        return 0
    starts: dict[int, tuple[int, int]] = {}
    for start, end in emoji:
        starts[start] = (end, EMOJI_WEIGHT)
    for start, end in maybe_links:
        starts[start] = (end, max(URL_WEIGHT, _plain_weight(word[start:end])))
    for start, _, skipped in links:
        starts[start] = (start + skipped, URL_WEIGHT)
    adjustment, position = 0, 0
    for start in sorted(starts):
        if start < position:
            continue
        end, weight = starts[start]
        adjustment += weight - _plain_weight(word[start:end])
        position = end
    return adjustment


@functools.lru_cache(maxsize=4096)
def _links_in_word(
    word: str, at_start: bool
) -> tuple[tuple[tuple[int, int, int], ...], tuple[tuple[int, int], ...]]:
    """Links in one space-free word: twitter-text's, as (start, end, code points skipped), and those it would
    find if it knew every top-level domain, as (start, end), where they overlap none of its own.

    twitter-text's link regex starts with the character before a link, or the start of the text: there it may
    take a first character such as "é" for the one before ("éexample.com" links "example.com"), whereas after a
    space "é" is part of the domain. So a word is searched as it stands ``at_start``, else after a space.
    """
    if not _DOT_LETTER.search(word):
        return (), ()
    shift = 0 if at_start else 1
    text = word if at_start else " " + word
    links = [(start - shift, end - shift, skipped) for start, end, skipped in _extract_urls(text, _url_patterns())]
    if not any(tld.lower() not in _known_tlds() for tld in _ASCII_TLD.findall(word)):
        return tuple(links), ()  # the search with any top-level domain would find the very same links
    maybe = [
        (start - shift, end - shift)
        for start, end, _ in _extract_urls(text, _any_tld_url_patterns())
        if not any(start - shift < other_end and other_start < end - shift for other_start, other_end, _ in links)
    ]
    return tuple(links), tuple(maybe)


def _extract_urls(text: str, patterns: _UrlPatterns) -> list[tuple[int, int, int]]:
    """twitter-text's extractUrlsWithIndices: (start, end, code points the length walk skips)."""
    found: list[list[int]] = []
    for match in patterns.url.finditer(text):
        before, whole, protocol, domain, path = match.group(2, 3, 4, 5, 7)
        end = match.end()
        start = end - len(whole)
        if not _is_valid_url(whole, protocol or "https://", domain):
            continue
        if protocol is None:
            # Without a scheme, only ASCII (and accented Latin) domains are links, never after "-", "_", "." or "/".
            if before in ("-", "_", ".", "/"):
                continue
            last = None
            for ascii_match in patterns.ascii_domain.finditer(domain):
                last = [start + ascii_match.start(), start + ascii_match.end(), len(ascii_match.group())]
                found.append(last)
            if last is None:
                continue
            if path:
                # The link runs on to the end of the path; twitter-text skips as many code points as the text
                # left once the whole domain is replaced by this ASCII one (the same, but for a path repeating it).
                last[1] = end
                last[2] = len(whole.replace(domain, text[last[0] : last[0] + last[2]]))
        else:
            tco = _TCO.search(whole)
            if tco:
                slug = tco.group(1)
                if slug and len(slug) > _MAX_TCO_SLUG_LENGTH:
                    continue
                end = start + len(tco.group())
            found.append([start, end, end - start])
    return [(start, end, skipped) for start, end, skipped in found]


def _is_valid_url(url: str, protocol: str, domain: str) -> bool:
    """A domain IDNA can encode, in a URL of at most 4096 characters once encoded."""
    try:
        encoded = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return bool(encoded) and len(protocol) + len(url) + len(encoded) - len(domain) <= _MAX_URL_LENGTH


class _UrlPatterns:
    """twitter-text's URL regular expressions, for a given pattern of top-level domains."""

    def __init__(self, tld: str) -> None:
        domain = rf"(?:{_SUBDOMAIN}*{_DOMAIN_NAME}(?:{tld}|{_PUNYCODE}))"
        self.url = re.compile(
            rf"(({_PRECEDING})((https?:\/\/)?({domain})(?::([0-9]+))?(\/{_PATH}*)?(\?{_QUERY_CHAR}*{_QUERY_END})?))",
            re.IGNORECASE,
        )
        self.ascii_domain = re.compile(rf"(?:(?:[\-a-z0-9{_LATIN}]+)\.)+(?:{tld}|{_PUNYCODE})", re.IGNORECASE)


@functools.cache
def _known_tld_pattern() -> str:
    from scheduler.text.twitter_text_data import COUNTRY_TLDS, GENERIC_TLDS  # lazy: 3,900 lines of tables only URL and emoji parsing need; `scheduler --help` loads this module

    # twitter-text tries every generic domain, then every country code, each followed by neither a letter, a digit,
    # '@', '+' nor '-'. A trie matching the longest first is the same (only two domains are prefixes of others,
    # and twitter-text lists the longer first) and far faster than 1,574 alternatives.
    return _trie_pattern(GENERIC_TLDS.split() + COUNTRY_TLDS.split())


@functools.cache
def _known_tlds() -> frozenset[str]:
    from scheduler.text.twitter_text_data import COUNTRY_TLDS, GENERIC_TLDS  # lazy: 3,900 lines of tables only URL and emoji parsing need; `scheduler --help` loads this module

    return frozenset(GENERIC_TLDS.split() + COUNTRY_TLDS.split())


@functools.cache
def _url_patterns() -> _UrlPatterns:
    """twitter-text's, compiled on first use (CLI start-up is benchmarked)."""
    return _UrlPatterns(rf"(?:{_known_tld_pattern()}(?=[^0-9a-zA-Z@+-]|$))")


@functools.cache
def _any_tld_url_patterns() -> _UrlPatterns:
    """twitter-text's, as if it knew every ASCII top-level domain too."""
    return _UrlPatterns(rf"(?:(?:{_known_tld_pattern()}|{_ANY_ASCII_TLD})(?=[^0-9a-zA-Z@+-]|$))")


@functools.cache
def _emoji_pattern() -> re.Pattern[str]:
    from scheduler.text.twitter_text_data import EMOJI  # lazy: 3,900 lines of tables only URL and emoji parsing need; `scheduler --help` loads this module

    sequences = ["".join(chr(int(code, 16)) for code in line.split()) for line in EMOJI.splitlines() if line]
    # The reference tries every sequence of several code points, longest first, then the single ones: the longest
    # known sequence at each place. The lookahead turns other code points away at once.
    starters = "".join(sorted({re.escape(sequence[0]) for sequence in sequences}))
    return re.compile(f"(?=[{starters}]){_trie_pattern(sequences)}")


def _emoji_in_word(word: str) -> list[tuple[int, int]]:
    return [match.span() for match in _emoji_pattern().finditer(word)]


def _trie_pattern(words: list[str]) -> str:
    """A regular expression matching the longest of ``words`` at a place."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict[str, dict]) -> str:
        children = [(char, child) for char, child in sorted(node.items()) if char]
        leaves = [re.escape(char) for char, child in children if child.keys() == {""}]
        branches = [re.escape(char) + pattern(child) for char, child in children if child.keys() != {""}]
        if leaves:
            branches.append(leaves[0] if len(leaves) == 1 else f"[{''.join(leaves)}]")
        if not branches:
            return ""
        alternation = f"(?:{'|'.join(branches)})"
        return f"{alternation}?" if "" in node else alternation

    return pattern(trie)
