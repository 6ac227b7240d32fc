"""Post templates: user-edited Jinja files, compiled once and rendered in a sandbox.

A templates directory holds one folder per kind of post, and in it one file per variant: ``tip/1-headline.j2``,
``tip/2-first-sentence.j2``... Variant n of a kind is its n-th file (mod their count) in natural order, so
"10-x.j2" comes after "9-x.j2". templates/README.md tells template authors what they can use.

A directory may also hold a set per network, in a folder named for it (``bluesky/tip/...``, ``mastodon/tip/...``,
``x/tip/...``): an account on that network uses its folder, and the top-level kinds otherwise (``templates_for``).
The bundled templates are X's at the top, with sets for Bluesky and Mastodon beside them; a folder of one's own
without network folders serves every network, as it always did.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import jinja2
import regex
from jinja2.sandbox import SandboxedEnvironment

import scheduler
from scheduler.domain.errors import TemplateError

TIP = "tip"
AVOID = "avoid"  # tips of an article that lists things to avoid
SUFFIX = ".j2"
NETWORKS = ("x", "bluesky", "mastodon")  # folders holding a network's own set, not kinds of post

# A sentence ends at '.', '!' or '?' (and closing quotes or brackets) before a space and a word that is not
# lower case, or at the end; or at a CJK full stop. "e.g. this" and "Dr. Smith" go on.
_SENTENCE_END = regex.compile(
    r"(?<!\b(?:[A-Za-z]|Dr|Mr|Mrs|Ms|Prof|St|Jr|Sr|vs|etc|No|Fig|approx|ca))"
    r"(?:[.!?]+[\"'\u2019\u201D\u00BB)\]]*(?=\s+(?!\p{Ll})|$)|[\u3002\uFF01\uFF1F]+[\u300D\u300F\u201D\u2019\uFF09]*)"
)


def sentence_ends(text: str) -> list[int]:
    """Where each sentence of ``text`` ends (exclusive indices), in order."""
    return [match.end() for match in _SENTENCE_END.finditer(text)]


def first_sentence(text: str) -> str:
    ends = sentence_ends(text)
    return text[: ends[0]] if ends else text


# What templates see. Small classes rather than dicts, so that a misspelt name fails under StrictUndefined.
@dataclass(frozen=True, slots=True)
class TipView:
    number: int
    headline: str
    body: str  # all of it, or what the composer kept when shortening
    point: str = ""  # the body's most useful whole sentences (or its list), as many as fit
    how_to: bool = False  # the tip tells what to do: "Lift with your legs.", or an exercise and its steps
    label: str = ""  # the label that agrees with the headline: "try", "know" or "" (see leads.py)
    name: str = ""  # the exercise a bare-name headline names, to lead with: "Try cat-cow:" (see leads.py)
    name_the: bool = False  # the name reads with "the": "Try the pelvic tilt:"
    thing: str = ""  # a thing to avoid named as a fragment, as it reads after "Avoid": "smoking"


@dataclass(frozen=True, slots=True)
class ArticleView:
    title: str
    topic: str  # the title before any ":" or dash, e.g. "Massage Therapy for Back Pain"
    url: str | None
    key: str


@dataclass(frozen=True, slots=True)
class SeriesView:
    position: int
    total: int

    @property
    def label(self) -> str:
        return f"{self.position}/{self.total}"


# What a template may read of each view: its fields, and the series label.
_VIEW_ATTRIBUTES: dict[type, frozenset[str]] = {
    TipView: frozenset(TipView.__slots__),
    ArticleView: frozenset(ArticleView.__slots__),
    SeriesView: frozenset((*SeriesView.__slots__, "label")),
}


class _Sandbox(SandboxedEnvironment):
    """The sandbox, with a short way to the views' own fields: ``tip.headline`` is read several times in every
    rendering, and the sandbox's checks would find every field safe (plain data, no leading underscore) anyway."""

    def getattr(self, obj: object, attribute: str) -> object:
        allowed = _VIEW_ATTRIBUTES.get(type(obj))
        if allowed is not None and attribute in allowed:
            return getattr(obj, attribute)
        return super().getattr(obj, attribute)


CONTEXT_HELP = (
    "templates can use tip (number, headline, body, point, how_to, label, name, name_the, thing), "
    "article (title, topic, url, key), handle, "
    "series (position, total, label), hashtags, hashtag_line, and the filters first_sentence and hashtag"
)


@dataclass(frozen=True)
class Variant:
    name: str  # as the loader knows it, e.g. "tip/2-first-sentence.j2"
    path: Path
    source: str
    template: jinja2.Template
    # The template's globals (range, namespace...) as one dict, for the composer's context: Jinja would merge its
    # layers anew for every rendering.
    globals: dict[str, object] = dataclasses.field(default_factory=dict, compare=False, repr=False)


class TemplateSet:
    """The compiled templates of one directory: build it once, compose many posts with it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        if not self.directory.is_dir():
            raise TemplateError(f"templates directory {self.directory} does not exist")
        self.environment = _Sandbox(
            loader=jinja2.FileSystemLoader(self.directory),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # posts are plain text, not HTML
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.environment.filters["first_sentence"] = first_sentence
        self.environment.filters["hashtag"] = lambda tag: "#" + str(tag).lstrip("#")
        # What each template weighs without its tip's text, measured by the composer as it goes.
        self.overheads: dict[tuple, int] = {}
        # Every file is compiled now, so a broken template is reported before any post is made.
        self._variants = {
            kind.name: tuple(self._compile(kind)) for kind in sorted(self.directory.iterdir())
            if kind.is_dir() and kind.name not in NETWORKS
        }

    def variants(self, kind: str) -> tuple[Variant, ...]:
        found = self._variants.get(kind)
        if not found:
            raise TemplateError(f"no {kind} templates: add {self.directory / kind}/1{SUFFIX}")
        return found

    def has(self, kind: str) -> bool:
        return bool(self._variants.get(kind))

    def pick(self, kind: str, variant: int) -> tuple[int, Variant]:
        """Variant ``variant`` of ``kind`` (any integer: it wraps around) and its index."""
        variants = self.variants(kind)
        index = variant % len(variants)
        return index, variants[index]

    def _compile(self, kind: Path) -> Iterator[Variant]:
        for path in sorted(kind.glob(f"*{SUFFIX}"), key=lambda p: _natural_key(p.name)):
            name = f"{kind.name}/{path.name}"
            try:
                template = self.environment.get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateError(f"{path}, line {exc.lineno}: {exc.message}") from exc
            yield Variant(name, path, path.read_text(encoding="utf-8"), template, dict(template.globals))


def default_templates_dir() -> Path:
    """The repository's templates/ in a checkout, else the copy packaged in the wheel."""
    package = Path(scheduler.__file__).resolve().parent
    checkout = package.parent / "templates"
    return checkout if checkout.is_dir() else package / "_default_templates"


def load_templates(directory: Path | None = None, network: str = "x") -> TemplateSet:
    """The templates of ``directory`` for ``network`` (default: the bundled ones, compiled once per process):
    its ``network`` folder when it has one with templates in it, else its own kinds."""
    if directory is None:
        return _default_template_set(network)
    return TemplateSet(network_directory(directory, network))


def templates_for(config) -> TemplateSet:
    """The chosen account's templates: its ``templates`` setting (or [compose] templates), else the bundled
    ones, for its network."""
    return load_templates(config.templates_dir, config.network)


def network_directory(directory: Path, network: str) -> Path:
    """``directory``/``network`` when it holds a set of its own (a ``tip`` folder), else ``directory``."""
    own = directory / network
    return own if (own / TIP).is_dir() else directory


@functools.cache
def _default_template_set(network: str = "x") -> TemplateSet:
    return TemplateSet(network_directory(default_templates_dir(), network))


def default_variant(article_key: str, tip_number: int) -> int:
    """A stable variant for a tip: a hash of the article, plus the tip number so neighbouring tips differ."""
    return zlib.crc32(article_key.encode("utf-8")) + tip_number


def render_error(exc: Exception, variant: Variant, traceback: TracebackType | None, where: str) -> TemplateError:
    """A Jinja error raised while rendering, as a TemplateError naming the file, line and tip."""
    line = _template_line(variant.template, traceback)
    at = f"{variant.path}, line {line}" if line else str(variant.path)
    if isinstance(exc, jinja2.UndefinedError):
        return TemplateError(f"{at}: {exc.message} ({where}); {CONTEXT_HELP}")
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return TemplateError(f"{at}: not allowed in a template: {exc} ({where})")
    return TemplateError(f"{at}: {type(exc).__name__}: {exc} ({where})")


def _template_line(template: jinja2.Template, traceback: TracebackType | None) -> int | None:
    """The template line of the innermost frame running the compiled template."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == template.filename:
            line = template.get_corresponding_lineno(traceback.tb_lineno)
        traceback = traceback.tb_next
    return line


def _natural_key(name: str) -> list[int | str]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
