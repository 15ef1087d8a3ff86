"""Which alternative of a ``multipart/alternative`` holds the message. Pure.

The plain-text alternative is the sender's own words without markup and is read by default.
Bulk and some web mailers put a stub there instead ("view this email in your browser", "this
message is in HTML format") next to an HTML part with the real content; reading the stub loses
the message. The stub is recognized by comparing the two texts, not by its wording (which
exists in every language): it is short, and shares few words with a much longer HTML text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/x-html", "text/xhtml"})

_WORD = re.compile(r"\w+")
_LINK = re.compile(r"<https?://[^>\s]*>|https?://\S+")
# a plain text with more word characters than this is a message, never a stub
_STUB_MAX_CHARS = 600
# share of the plain text's words found in the HTML text below which they say different things
_UNRELATED_SHARE = 0.3
_PARTLY_RELATED_SHARE = 0.6


def _words(text: str) -> list[str]:
    return _WORD.findall(_LINK.sub(" ", text).lower())


def prefer_html(plain: str, html_text: Callable[[], str]) -> bool:
    """True when ``plain`` is a stub of the HTML alternative. ``html_text`` is only called
    (the HTML converted) when the plain text is short enough to be one."""
    words = _words(plain)
    n = sum(len(w) for w in words)
    if n > _STUB_MAX_CHARS:
        return False
    rich = _words(html_text())
    r = sum(len(w) for w in rich)
    if r <= n:
        return False
    if not words:
        return True
    distinct = set(words)
    share = len(distinct & set(rich)) / len(distinct)
    return (
        (share < _UNRELATED_SHARE)
        or (share < _PARTLY_RELATED_SHARE and r >= 2 * n + 40)
        or r >= 4 * n + 100
    )
