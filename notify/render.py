"""Notification texts: templates per brand and language, plain text + HTML. Pure.

Templates are files ``<brand>/<language>/<name>.txt`` (first line ``Subject: …``, a blank line,
then the body) and an optional ``<name>.html`` next to it. Placeholders are ``$name`` /
``${name}`` (:class:`string.Template`): no logic in templates, so there is nothing a template
author can get wrong about escaping. Every value is escaped for the HTML part; the text part
gets the values as they are. Lookup falls back brand → ``default`` and language → the mailbox's
language → English.

Loading the files is the shell's job (:func:`load_templates`); :func:`render` is pure.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from notify.hours import format_when, language_of, promise
from schemas.errors import HelplineError

BUNDLED = Path(__file__).with_name("templates")
DEFAULT_BRAND = "default"
_BLANK_LINES = re.compile(r"\n{3,}")  # left by optional lines that rendered empty
FALLBACK_LANGUAGE = "en"


@dataclass(frozen=True, slots=True)
class Template:
    subject: string.Template
    text: string.Template
    html: string.Template | None


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str | None
    language: str
    brand: str


# (brand, language, name) -> Template
TemplateSet = Mapping[tuple[str, str, str], Template]


class TemplateMissing(HelplineError, LookupError):
    pass


def parse_template(text_source: str, html_source: str | None) -> Template:
    head, sep, body = text_source.partition("\n\n")
    subject = ""
    if sep and head.lower().startswith("subject:"):
        subject = head.split(":", 1)[1].strip()
    else:
        body = text_source
    return Template(
        subject=string.Template(subject),
        text=string.Template(body),
        html=string.Template(html_source) if html_source is not None else None,
    )


def load_templates(*roots: Path) -> dict[tuple[str, str, str], Template]:
    """Read every template under the given roots; later roots override earlier ones."""
    out: dict[tuple[str, str, str], Template] = {}
    for root in roots:
        for txt in sorted(root.glob("*/*/*.txt")):
            language, brand = txt.parent.name, txt.parent.parent.name
            html_path = txt.with_suffix(".html")
            html_source = html_path.read_text("utf-8") if html_path.exists() else None
            out[(brand, language, txt.stem)] = parse_template(txt.read_text("utf-8"), html_source)
    return out


def primary_language(tag: str | None) -> str | None:
    if not tag:
        return None
    return tag.replace("_", "-").split("-", 1)[0].strip().lower() or None


def choose(
    templates: TemplateSet, name: str, brand: str, languages: tuple[str | None, ...]
) -> tuple[Template, str, str]:
    wanted = [lang for lang in (primary_language(x) for x in languages) if lang]
    wanted.append(FALLBACK_LANGUAGE)
    for b in dict.fromkeys((brand, DEFAULT_BRAND)):
        for lang in wanted:
            found = templates.get((b, lang, name))
            if found is not None:
                return found, b, lang
    raise TemplateMissing(f"no template {name!r} for brand {brand!r} in {wanted}")


def render(
    templates: TemplateSet,
    name: str,
    *,
    brand: str,
    languages: tuple[str | None, ...],
    values: Mapping[str, str],
) -> Rendered:
    """Fill the best template. ``values`` missing from the mapping render as empty text, so a
    template edited to use a new placeholder never crashes the worker."""
    tpl, used_brand, used_language = choose(templates, name, brand, languages)
    plain = _Blank(values)
    escaped = _Blank({k: html.escape(v, quote=True) for k, v in values.items()})
    return Rendered(
        subject=" ".join(tpl.subject.substitute(plain).split()),
        text=_BLANK_LINES.sub("\n\n", tpl.text.substitute(plain)),
        html=tpl.html.substitute(escaped) if tpl.html is not None else None,
        language=used_language,
        brand=used_brand,
    )


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


# ---------------------------------------------------------------------------------------------
# localized phrases the templates receive as values (dates and hours: notify.hours)


def response_expectation(
    due: datetime | None, now: datetime, language: str, timezone: str | None, generic_hours: int
) -> str:
    """The promise in the ack: the SLA's first-response due time, or a generic one."""
    lang = language_of(language)
    if due is None or due <= now:
        if lang == "fr":
            return f"Nous vous répondrons dans les {generic_hours} heures."
        return f"We will get back to you within {generic_hours} hours."
    if due - now < timedelta(hours=1):
        minutes = max(1, int((due - now).total_seconds() // 60))
        if lang == "fr":
            return f"Nous vous répondrons dans les {minutes} minutes."
        return f"We will get back to you within {minutes} minutes."
    return promise(due, lang, timezone)


__all__ = ["format_when"]  # kept importable from here (it moved to notify.hours)


def summary_of(text: str, limit: int) -> str:
    """The first ``limit`` characters of the customer's words, on whole words."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0]
    return f"{cut}…"
