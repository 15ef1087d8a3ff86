"""HTML to plain text, for HTML-only mail. Pure; parsing by selectolax (lexbor).

Block elements become line breaks, list items get a dash, tables a line per row, and
``<blockquote>`` content is prefixed with ``>`` so the quote separator treats quoted HTML
history exactly like quoted plain text. The walk is iterative: deeply nested markup (some
clients emit thousands of nested ``<div>``) cannot exhaust the stack.
"""

from __future__ import annotations

import re

import nh3
from selectolax.lexbor import LexborHTMLParser, LexborNode

_SKIP = frozenset(
    {"script", "style", "head", "title", "template", "noscript", "svg", "object", "iframe",
     "-comment", "-doctype", "xml", "o:p", "meta", "link"}
)
_BLOCK = frozenset(
    {"address", "article", "aside", "center", "dd", "div", "dl", "dt", "fieldset", "figure",
     "footer", "form", "header", "main", "nav", "ol", "section", "table", "tbody", "thead",
     "tfoot", "ul", "caption"}
)
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre"})
_WS = re.compile(r"[ \t\r\n\f\v\xa0\u200b]+")
_BLANKS = re.compile(r"\n{3,}")
_MAX_URL = 500
# Gmail/Outlook/Thunderbird wrap the quoted history in elements with these classes or ids
# instead of (or around) a blockquote; treat them as quotes too.
_QUOTE_MARKERS = ("gmail_quote", "moz-cite", "yahoo_quoted", "divRplyFwdMsg", "OLK_SRC_BODY")
# ... and their signature in these; it becomes a "-- " delimiter line for the splitter.
_SIGNATURE_MARKERS = ("gmail_signature", "moz-signature", "x_Signature", "Signature")


class _Writer:
    __slots__ = ("blank_pending", "cur", "depth", "line_depth", "lines", "pre")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.cur: list[str] = []
        self.depth = 0
        self.line_depth = 0
        self.pre = 0
        self.blank_pending = False

    def text(self, s: str) -> None:
        if self.pre:
            parts = s.replace("\r\n", "\n").split("\n")
            for i, part in enumerate(parts):
                if i:
                    self.newline(force=True)
                self._put(part)
            return
        s = _WS.sub(" ", s)
        if not self.cur:
            s = s.lstrip()
        elif self.cur[-1].endswith(" ") and s.startswith(" "):
            s = s[1:]
        if s:
            self._put(s)

    def _put(self, s: str) -> None:
        if not self.cur:
            if self.blank_pending and self.lines:
                self.lines.append("")
            self.blank_pending = False
            self.line_depth = self.depth
        self.cur.append(s)

    def _prefix(self, depth: int) -> str:
        return "> " * depth

    def newline(self, force: bool = False) -> None:
        if self.cur:
            line = "".join(self.cur).rstrip()
            self.lines.append(self._prefix(self.line_depth) + line)
            self.cur = []
        elif force:
            self.lines.append(self._prefix(self.depth).rstrip())

    def paragraph(self) -> None:
        self.newline()
        self.blank_pending = True

    def result(self) -> str:
        self.newline()
        # keep the "-- " signature delimiter intact; strip every other line's trailing blanks
        text = "\n".join(
            line if line.endswith("-- ") and line.strip("> ") == "--" else line.rstrip()
            for line in self.lines
        )
        return _BLANKS.sub("\n\n", text).strip("\n")


def _is_signature(node: LexborNode) -> bool:
    attrs = node.attributes
    marker = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
    return any(m in marker for m in _SIGNATURE_MARKERS) if marker.strip() else False


def _is_quote(node: LexborNode) -> bool:
    attrs = node.attributes
    if node.tag == "blockquote":
        # Gmail's "indent" button is a borderless blockquote: the sender's own words, moved right
        style = (attrs.get("style") or "").replace(" ", "").lower()
        return "border:none" not in style or attrs.get("type") == "cite"
    marker = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
    return any(m in marker for m in _QUOTE_MARKERS) if marker.strip() else False


def html_to_text(html: str) -> str:
    """Readable text of an HTML body (never raises; returns "" for unusable markup)."""
    try:
        tree = LexborHTMLParser(html)
    except Exception:
        return ""
    root = tree.body or tree.root
    if root is None:
        return ""
    w = _Writer()
    # (node, entering) pairs: an explicit stack instead of recursion.
    stack: list[tuple[LexborNode, bool]] = [(root, True)]
    while stack:
        node, entering = stack.pop()
        tag = node.tag or ""
        if not entering:
            _leave(w, node, tag)
            continue
        if tag == "-text":
            w.text(node.text_content or "")
            continue
        if tag in _SKIP:
            continue
        _enter(w, node, tag)
        stack.append((node, False))
        children: list[LexborNode] = []
        child = node.child
        while child is not None:
            children.append(child)
            child = child.next
        stack.extend((c, True) for c in reversed(children))
    return w.result()


def _enter(w: _Writer, node: LexborNode, tag: str) -> None:
    if _is_quote(node):
        w.paragraph()
        w.depth += 1
    elif tag in ("div", "span", "table") and _is_signature(node):
        w.newline()
        w.lines.append("> " * w.depth + "-- ")
    if tag == "br":
        w.newline(force=True)
    elif tag in _PARAGRAPH:
        w.paragraph()
        if tag == "pre":
            w.pre += 1
    elif tag in _BLOCK or tag == "tr":
        w.newline()
    elif tag == "li":
        w.newline()
        w.text("- ")
    elif tag == "hr":
        # a rule, so the quote separator sees the "<hr>" + header block of Outlook.com replies
        w.newline()
        w.text("_" * 32)
        w.paragraph()
    elif tag in ("td", "th") and w.cur:
        w.text(" ")


def _link_target(node: LexborNode) -> str | None:
    """The URL of a link whose text does not already show it (agents need the address a
    customer linked to, not just "click here")."""
    href = (node.attributes.get("href") or "").strip()
    if not href.startswith(("http://", "https://")) or len(href) > _MAX_URL:
        return None
    text = node.text(deep=True).strip()
    if not text or text.rstrip("/") == href.rstrip("/") or href.split("://", 1)[1] in text:
        return None
    return href


def _leave(w: _Writer, node: LexborNode, tag: str) -> None:
    if tag == "a":
        href = _link_target(node)
        if href:
            w.text(f" <{href}>")
        return
    if tag in _PARAGRAPH:
        if tag == "pre":
            w.pre = max(0, w.pre - 1)
        w.paragraph()
    elif tag in _BLOCK or tag in ("li", "tr"):
        w.newline()
    if _is_quote(node):
        w.paragraph()
        w.depth = max(0, w.depth - 1)


def plain_words(html: str) -> str:
    """The text of an HTML document without layout, at C speed: enough to compare its words
    with another text's (:mod:`ingest.mime.choice`), not to show."""
    try:
        tree = LexborHTMLParser(html)
        tree.strip_tags(["script", "style", "head", "title"])
        root = tree.body or tree.root
        return root.text(deep=True, separator=" ") if root is not None else ""
    except Exception:
        return ""


def sanitize(html: str) -> str:
    """The HTML of a mail made safe to show in the console: no scripts, styles, event
    handlers, forms or remote frames; links kept (rel=noopener noreferrer), inline ``cid:``
    images dropped (their bytes are attachments). Never raises; "" for unusable markup."""
    try:
        return nh3.clean(html, link_rel="noopener noreferrer")
    except Exception:  # the sanitizer rejecting input must not lose the message
        return ""
