"""How long X counts a post: twitter-text's v3 weighted length.

X does not count characters. Latin, Greek, Cyrillic, Hebrew, Arabic... and some punctuation weigh 1; other code
points (CJK, most symbols) weigh 2; a link weighs 23 whatever its length, since X wraps it in a t.co link; an emoji
sequence (a family joined by ZWJ, a flag, a keycap, a skin tone) weighs 2 as a whole. A post may weigh 280.
The numbers are those of twitter-text's v3 configuration (tests/data/twitter-text/v3.json).
"""

from __future__ import annotations

import functools
import re
import unicodedata

import regex

MAX_WEIGHTED_LENGTH = 280
URL_WEIGHT = 23
EMOJI_WEIGHT = 2

# Code points outside v3.json's weight-1 ranges (0-4351, 8192-8205, 8208-8223, 8242-8247) weigh 2.
_HEAVY = regex.compile(r"[^\u0000-\u10FF\u2000-\u200D\u2010-\u201F\u2032-\u2037]")

# twitter-text refuses any text holding these, whatever its length.
INVALID_CHARACTERS = "\uFFFE\uFEFF\uFFFF"

# An emoji element is a pictograph (not a bare digit, '#' or '*', which are emoji only in a keycap) that is not
# asked to look like text (U+FE0E), with its skin tone, emoji-style selector or tag sequence (subdivision flags).
_EMOJI_ELEMENT = (
    r"(?:(?![0-9#*])\p{Emoji}(?!\uFE0E)"
    r"(?:\p{Emoji_Modifier}\uFE0F?|\uFE0F|[\U000E0020-\U000E007E]+\U000E007F)?)"
)
_EMOJI = regex.compile(
    r"\p{Regional_Indicator}{2}"  # a flag
    r"|[0-9#*]\uFE0F?\u20E3"  # a keycap
    rf"|{_EMOJI_ELEMENT}(?:\u200D{_EMOJI_ELEMENT})*"  # one pictograph, or a ZWJ sequence of them
)

# Top-level domains X recognises (country codes matter apart: see _weigh_link). A domain whose TLD is not listed is
# weighed as maybe a link (see _weigh_links).
_CCTLDS = frozenset(
    """ac ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bm bn bo br bs bt bw by bz ca
    cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg er es et eu fi fj fk fm fo fr ga
    gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp
    ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mg mh mk ml mm mn mo mp mq mr ms mt
    mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro rs ru
    rw sa sb sc sd se sg sh si sk sl sm sn so sr ss st su sv sx sy sz tc td tf tg th tj tk tl tm tn to tr tt tv tw tz
    ua ug uk us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw""".split()
)
_GTLDS = frozenset(
    """com net org edu gov mil int info biz name pro aero asia cat coop jobs mobi museum post tel travel xxx arpa
    academy accountant accountants agency apartments app art associates attorney auction audio auto baby band bar
    beer best bet bid bike bingo bio black blog blue boston boutique build builders business buzz cafe camera camp
    capital car cards care career careers cars casa cash casino center ceo chat cheap church city claims cleaning
    click clinic clothing cloud club coach codes coffee college community company computer construction consulting
    contractors cooking cool country coupons courses credit dance dating day deals degree delivery dental dentist
    design dev diet digital direct directory discount doctor dog domains download earth eco education email energy
    engineering enterprises equipment estate events exchange expert express family fan farm fashion film finance
    financial fish fit fitness flights florist flowers foundation free fun fund furniture gallery game games garden
    gift gifts glass global gmbh gold golf google graphics green group guide guru hair health healthcare help
    hiphop hockey holdings holiday homes horse hospital host hosting house how icu immo inc industries ink
    institute insurance international investments jewelry kitchen land law lawyer lease legal life lighting limited
    link live llc loan loans lol london love ltd luxury management market marketing mba media medical memorial men
    menu miami mom money mortgage movie network news ngo ninja nyc one online page paris partners parts party pet
    phd photo photography photos physio pics pictures pink pizza place plumbing plus poker press productions promo
    properties property pub racing radio realestate recipes red rehab rent rentals repair report rest restaurant
    review reviews rip rocks run sale salon school science services shoes shop shopping show site ski soccer social
    software solar solutions space spa sport store studio study style supplies supply support surf surgery sydney
    systems talk tax taxi team tech technology tennis theater tickets tips tires today tokyo tools top tours town
    toys trade training tube university vacations vegas ventures vet video vip vision vote voyage watch webcam
    website wedding wiki win wine work works world wtf xyz yoga youtube zone""".split()
)
# Internationalised country and generic TLDs, as written (X also takes their "xn--" forms).
_IDN_TLDS = frozenset(
    """рф укр срб бел қаз мкд мон онлайн сайт 中国 中國 香港 澳門 台湾 台灣 新加坡 公司 网络 在线 한국 ไทย ελ ευ
    հայ پاکستان ایران مصر السعودية امارات الاردن الجزائر المغرب تونس سورية عمان فلسطين قطر بھارت ভারত भारत
    இந்தியா சிங்கப்பூர் ලංකා""".split()
)

# Characters a domain may hold: anything but ASCII punctuation, spaces, invalid and directional characters.
_DC = (
    r"[^\s!-/:-@\[-`{-~\x85\xA0\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F\u2066-\u2069\u3000"
    r"\uFEFF\uFFFE\uFFFF]"
)
# Domain characters X accepts in a link written without a scheme: ASCII and accented Latin.
_AC = r"[a-z0-9\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0300-\u036F\u1E00-\u1EFF]"
_LATIN = r"\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u1E00-\u1EFF"
_PATH_CHAR = rf"[a-z\u0400-\u04FF0-9!*';:=+,.$/%#\[\]\-\u2013_~@|&{_LATIN}]"
_BALANCED = rf"\((?:{_PATH_CHAR}+|{_PATH_CHAR}*\({_PATH_CHAR}+\){_PATH_CHAR}*)\)"
# A path does not swallow the sentence's last '.', ',' or '!': it ends on one of these, or a closing parenthesis.
_PATH_END = rf"(?:[+\-a-z\u0400-\u04FF0-9=_#/{_LATIN}]|{_BALANCED})"
# Any top-level label; whether X knows it is looked up after matching, which is far cheaper than a regex
# alternation of every TLD. It must not run on into letters, digits, '@', '+' or '-'.
_TLD = r"(?P<tld>xn--[a-z0-9\-]+|[a-z]{2,63}|[^\x00-\x7F\s\x85\xA0\u2000-\u206F\u3000\uFEFF\uFFFE\uFFFF]{2,63})"
_TLD_END = r"(?![0-9a-z@+\-])"
_LINK = regex.compile(
    # X links nothing glued to a word, a mention, a cashtag or a hashtag; nor, without a scheme, anything after
    # "-", "_", "." or "/": that is the middle of something else.
    r"(?<![A-Za-z0-9@\uFF20$#\uFF03\uFFFE\uFEFF\uFFFF])"
    r"(?:"
    rf"(?P<scheme>https?://)(?P<host>(?:{_DC}(?:[_\-]|{_DC})*\.)*{_DC}(?:-|{_DC})*\.{_TLD}{_TLD_END})"
    rf"|(?<![\-_./])(?P<bare>(?:{_AC}(?:[_\-]|{_AC})*\.)*{_AC}(?:-|{_AC})*\."
    rf"(?P<bare_tld>xn--[a-z0-9\-]+|[a-z]{{2,63}}){_TLD_END})"
    r")"
    r"(?::[0-9]+)?"
    rf"(?P<path>/(?:(?:{_PATH_CHAR}|{_BALANCED})*{_PATH_END})?)?"
    r"(?:\?[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]*[a-z0-9_&=#/\-])?",
    regex.IGNORECASE,
)
# A link never holds a space, and has a '.' before a letter (its TLD's): the link regex runs on such words alone,
# found by the standard library's faster engine. The lazy scan after a word start keeps long words linear.
_LINK_WORD = re.compile(r"(?<!\S)\S*?\.[^\W\d_]\S*")
_DOT_LETTER = re.compile(r"\.[^\W\d_]")

_MAX_LABEL_LENGTH = 63


def weighted_length(text: str) -> int:
    """The length X counts for ``text`` (twitter-text v3)."""
    if text.isascii():
        # The common case, kept cheap: ASCII is already NFC, holds no emoji, and without a '.' no link.
        if "." not in text:
            return len(text)
        return len(text) + sum(_word_adjustment(word) for word in text.split() if "." in word)
    text = unicodedata.normalize("NFC", text)
    # Links and emoji sequences hold no space: weigh the text code point by code point, then correct word by word.
    return _plain_weight(text) + sum(
        _word_adjustment(word) for word in text.split() if "." in word or not word.isascii()
    )


def is_valid(text: str) -> bool:
    """Whether X accepts ``text`` as a post: not blank, no invalid character, weighing at most 280."""
    if not text.strip() or any(c in text for c in INVALID_CHARACTERS):
        return False
    return weighted_length(text) <= MAX_WEIGHTED_LENGTH


def url_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each link X may shorten in ``text``, as indices into ``text`` as given.

    Pass NFC text (the composer does) for the spans to match what weighted_length counts.
    """
    return [(start, end) for start, end, _ in _weigh_links(text)]


def _plain_weight(text: str) -> int:
    return len(text) + len(_HEAVY.findall(text))


@functools.lru_cache(maxsize=4096)
def _word_adjustment(word: str) -> int:
    """What links and emoji sequences change to a space-free word's code-point weight.

    Cached, since every post of an article repeats its link and most of its words.
    """
    links = _links_in_word(word)
    adjustment = sum(weight - _plain_weight(word[start:end]) for start, end, weight in links)
    if not word.isascii():
        for match in _EMOJI.finditer(word):
            if not any(start <= match.start() < end for start, end, _ in links):  # a link weighs as a whole
                adjustment += EMOJI_WEIGHT - _plain_weight(match.group())
    return adjustment


def _weigh_links(text: str) -> list[tuple[int, int, int]]:
    """(start, end, weight) of each link, in order."""
    links = []
    for word in _LINK_WORD.finditer(text):
        offset = word.start()
        links.extend((offset + start, offset + end, weight) for start, end, weight in _links_in_word(word.group()))
    return links


@functools.lru_cache(maxsize=4096)
def _links_in_word(word: str) -> tuple[tuple[int, int, int], ...]:
    """Links in one space-free word, as (start, end, weight) by offset."""
    if not _DOT_LETTER.search(word):
        return ()
    return tuple(link for match in _LINK.finditer(word) if (link := _weigh_link(word, match)))


def _weigh_link(text: str, match: regex.Match[str]) -> tuple[int, int, int] | None:
    scheme = match.group("scheme")
    host = match.group("host") if scheme else match.group("bare")
    if not _labels_fit(host):
        return None
    start, end = match.span()
    tld = (match.group("tld") if scheme else match.group("bare_tld")).lower()
    if not _is_known(tld):
        # X's match backs off to the longest run of labels ending in a TLD it knows ("google.com.foo": the
        # link is "google.com"), dropping any path.
        labels = host.split(".")
        known_end = next((k for k in range(len(labels) - 1, 1, -1) if _is_known(labels[k - 1].lower())), 0)
        if known_end:
            end = match.start("host" if scheme else "bare") + len(".".join(labels[:known_end]))
            tld, host = labels[known_end - 1].lower(), ".".join(labels[:known_end])
        elif scheme:
            return None
        else:
            # Ends in a TLD we do not know, but X's list grows: weigh it the larger of 23 and its own weight,
            # so that a post we call valid is valid whichever way X decides.
            return start, end, max(URL_WEIGHT, _plain_weight(text[start:end]))
    if not scheme and "." not in host[: -len(tld) - 1] and tld in _CCTLDS and tld not in ("co", "tv"):
        # "example.jp" alone is no link to X (too often a sentence missing its space); "example.co",
        # "www.example.jp" and "example.jp/page" are.
        if not (end == match.end() and match.group("path")):
            return None
    return start, end, URL_WEIGHT


def _is_known(tld: str) -> bool:
    return tld in _GTLDS or tld in _CCTLDS or tld in _IDN_TLDS or tld.startswith("xn--")


def _labels_fit(host: str) -> bool:
    """DNS labels hold at most 63 characters once punycode-encoded; X links nothing longer."""
    for label in host.split("."):
        encoded_length = len(label) if label.isascii() else len(label.encode("punycode")) + 4
        if not 0 < encoded_length <= _MAX_LABEL_LENGTH:
            return False
    return True
