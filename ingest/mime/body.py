"""The readable body and the attachments of a parsed message. Pure.

The body is what a mail client would show: the plain-text alternative when there is one, the
HTML one converted to text otherwise, the inline text parts of a ``multipart/mixed`` in order.
Everything else is an attachment described by name, type, size and SHA-256; its content stays in
the raw record and is referred to as ``sha256:<hex>``, never copied into the event.
"""

from __future__ import annotations

import email.parser
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message

from ingest.mime.choice import HTML_TYPES, prefer_html
from ingest.mime.headers import content_param, content_type
from ingest.mime.html import html_to_text, plain_words
from ingest.mime.invite import CALENDAR_TYPES, invite_text
from ingest.mime.names import content_param_disposition as content_param_disposition  # old path
from ingest.mime.names import filename_of
from ingest.mime.settings import NormalizeSettings
from ingest.mime.smime import signed_content
from ingest.mime.text import decode_bytes, html_charset, unflow
from ingest.mime.transfer import decode_part, raw_payload, uu_files
from ingest.mime.winmail import TNEF_TYPES, Winmail, read_winmail
from schemas.message import Attachment

_BOUNDARY_SCAN_BYTES = 64 * 1024
# an attached mail (message/news is a Usenet article in the same format)
ATTACHED_MESSAGE_TYPES = frozenset({"message/rfc822", "message/news", "message/global"})
# subtypes that name text whatever the main type says ("application/plain" is seen)
_TEXT_SUBTYPES = frozenset({"plain", "text", "html", "x-html"})
_HTML_DOCUMENT = re.compile(r"\s*(?:<!doctype html|<html[\s>])", re.IGNORECASE)
# text types that are files, not words to read (invites are read by ingest.mime.invite)
_NOT_BODY_TEXT = CALENDAR_TYPES | {"text/vcard", "text/x-vcard", "text/directory"}
_NOT_ATTACHMENTS = frozenset(
    {"message/delivery-status", "message/disposition-notification", "message/feedback-report",
     "text/rfc822-headers", "application/pgp-signature", "application/pkcs7-signature",
     "application/x-pkcs7-signature"}
)


@dataclass(slots=True)
class Body:
    """What the walk collected (mutable while walking, then read once)."""

    plain: list[str] = field(default_factory=list)
    html_only: bool = False
    attachments: list[Attachment] = field(default_factory=list)
    parts_seen: int = 0
    # digest -> content, only when asked for (resolving a content_ref from the raw record)
    contents: dict[str, bytes] | None = None
    # text found where mail has no body part: a calendar invite's description, the text
    # inside winmail.dat; shown only when the mail has no other body
    fallback_text: list[str] = field(default_factory=list)
    # the HTML parts read (decoded, unsanitized), whether or not the text came from them
    html: list[str] = field(default_factory=list)
    # the charset the message declares, for names written in raw 8-bit bytes
    charset_hint: str | None = None


def _payload_bytes(part: Message) -> bytes:
    return decode_part(part, guess_base64=content_type(part).startswith("text/"))


def _disposition(part: Message) -> str:
    try:
        value = part.get_content_disposition()
    except Exception:
        return ""
    return value or ""


def _text(part: Message, settings: NormalizeSettings, html: bool = False) -> str:
    data = _payload_bytes(part)
    charset = content_param(part, "charset")
    if html and not charset:
        charset = html_charset(data)
    text = decode_bytes(data, charset, settings.charset_detection_bytes)
    raw_type = part.get("content-type")
    flowed = isinstance(raw_type, str) and "flowed" in raw_type.lower()
    if flowed and (content_param(part, "format") or "").lower() == "flowed":
        text = unflow(text, delsp=(content_param(part, "delsp") or "").lower() == "yes")
    return text


def _attachment(part: Message, ctype: str, filename: str, body: Body) -> Attachment:
    data = _payload_bytes(part)
    if ctype in ATTACHED_MESSAGE_TYPES and not data:
        data = _message_bytes(part)
    return _file(filename, ctype, data, _disposition(part) == "inline", body)


def _file(filename: str, ctype: str, data: bytes, inline: bool, body: Body) -> Attachment:
    digest = hashlib.sha256(data).hexdigest()
    if body.contents is not None:
        body.contents[digest] = data
    return Attachment(
        filename=filename,
        content_type=ctype,
        size=len(data),
        sha256=digest,
        inline=inline,
        content_ref=f"sha256:{digest}",
    )


def _message_bytes(part: Message) -> bytes:
    try:
        inner = part.get_payload()
    except Exception:
        return b""
    if isinstance(inner, list) and inner and isinstance(inner[0], Message):
        out: list[bytes] = []
        _flatten(inner[0], out, 0)
        return b"".join(out)
    return b""


def _flatten(msg: Message, out: list[bytes], depth: int) -> None:
    """An attached message's bytes, rebuilt from its raw header lines and bodies.

    ``Message.as_bytes`` re-folds and re-encodes every header (it cost half of the
    normalizer's time on the corpus); the raw values are already what was received.
    """
    for name, value in msg.raw_items():
        out.append(f"{name}: {value}\r\n".encode("utf-8", errors="surrogateescape"))
    out.append(b"\r\n")
    try:
        payload = msg.get_payload()
    except Exception:
        return
    if isinstance(payload, str):
        out.append(payload.encode("utf-8", errors="surrogateescape"))
    elif isinstance(payload, list) and depth < 50:
        boundary = (msg.get_boundary() or "").encode("utf-8", errors="surrogateescape")
        for sub in payload:
            if isinstance(sub, Message):
                out.append(b"\r\n--" + boundary + b"\r\n")
                _flatten(sub, out, depth + 1)
        out.append(b"\r\n--" + boundary + b"--\r\n")


def collect(
    msg: Message, settings: NormalizeSettings, keep_contents: bool = False,
    charset_hint: str | None = None,
) -> Body:
    """Walk the MIME tree once (iteratively, bounded by the part and depth limits)."""
    body = Body(contents={} if keep_contents else None, charset_hint=charset_hint)
    html = body.html
    _walk(msg, settings, body, html)
    if not any(t.strip() for t in body.plain) and html:
        body.plain = [html_to_text(h) for h in html]
        body.html_only = True
    if not any(t.strip() for t in body.plain) and body.fallback_text:
        body.plain = body.fallback_text
    return body


def _plain_text(part: Message, settings: NormalizeSettings, body: Body) -> str:
    """A plain-text part's text; uuencoded files inside it become attachments."""
    text = _text(part, settings)
    if "begin " not in text or "\nend" not in text:
        return text
    data = text.encode("utf-8", errors="surrogatepass")
    files = uu_files(data)
    if not files:
        return text
    kept: list[bytes] = []
    pos = 0
    for uu in files:
        kept.append(data[pos:uu.start])
        pos = uu.end
        if len(body.attachments) < settings.max_attachments:
            body.attachments.append(_file(uu.name, "application/octet-stream", uu.data, False,
                                          body))
    kept.append(data[pos:])
    joined = b"".join(kept).decode("utf-8", errors="surrogatepass")
    return re.sub(r"\n{3,}", "\n\n", joined)


def _walk(root: Message, settings: NormalizeSettings, body: Body, html: list[str]) -> None:
    # (part, depth, attachments_only): the alternatives not chosen for the body are still
    # walked for the images and files they carry, but their text is not read twice.
    stack: list[tuple[Message, int, bool]] = [(root, 0, False)]
    while stack:
        part, depth, attachments_only = stack.pop()
        body.parts_seen += 1
        if body.parts_seen > settings.max_mime_parts:
            return
        ctype = content_type(part)
        maintype = ctype.split("/", 1)[0]
        if maintype == "multipart":
            children = _children(part) or _recovered_children(part)
            if not children:
                # a multipart whose boundary never appears: its body is all there is to read
                if not attachments_only and _payload_bytes(part).strip():
                    body.plain.append(_text(part, settings))
                continue
            if depth < settings.max_mime_depth:
                chosen = (
                    _preferred_alternative(children, settings)
                    if ctype == "multipart/alternative" and not attachments_only
                    else None
                )
                stack.extend(
                    (c, depth + 1, attachments_only or (chosen is not None and c is not chosen))
                    for c in reversed(children)
                )
            continue
        if ctype in _NOT_ATTACHMENTS:
            continue
        if ctype in _SMIME_TYPES and depth < settings.max_mime_depth:
            inner = _opaque_signed(part)
            if inner is not None:
                stack.append((inner, depth + 1, attachments_only))
                continue
        disposition = _disposition(part)
        filename = filename_of(part, body.charset_hint)
        is_html = ctype in HTML_TYPES
        is_body_text = (
            (maintype == "text" or is_html)
            and ctype not in _NOT_BODY_TEXT
            and disposition != "attachment"
            and (not filename or ctype == "text/plain" or is_html)
        )
        if is_body_text:
            if attachments_only:
                continue
            listed = len(body.attachments) < settings.max_attachments
            if filename and (body.plain or html) and listed:
                # a named text file after the message's own text (a log, "msg.txt"): shown
                # inline as mail clients do, and listed as the file it is
                body.attachments.append(_attachment(part, ctype, filename, body))
            if is_html:
                html.append(_text(part, settings, html=True)[: settings.max_html_bytes])
            else:
                text = _plain_text(part, settings, body)
                # HTML sent as text/plain (web forms, some ticket systems): shown as text
                body.plain.append(html_to_text(text) if _HTML_DOCUMENT.match(text) else text)
            continue
        if (
            not filename and not attachments_only and ctype in ("text/plain", *HTML_TYPES)
            and disposition == "attachment"
        ):
            # a nameless text part marked "attachment" (some mobile clients mark the body so):
            # the body, when the mail has no other
            text = _text(part, settings, html=ctype != "text/plain")
            body.fallback_text.append(html_to_text(text) if ctype != "text/plain" else text)
        if (
            not filename and not attachments_only and maintype != "text"
            and ctype.split("/", 1)[-1] in _TEXT_SUBTYPES
        ):
            # a text body under a wrong main type: the body, when the mail has no other
            text = _text(part, settings, html="html" in ctype)
            body.fallback_text.append(html_to_text(text) if "html" in ctype else text)
        if ctype in CALENDAR_TYPES:
            if attachments_only:
                continue  # the machine-readable alternative of the text that was read
            invite = invite_text(_text(part, settings))
            if invite:
                body.fallback_text.append(invite)
        if (ctype in TNEF_TYPES or filename.lower() == "winmail.dat") and not attachments_only:
            winmail = read_winmail(_payload_bytes(part))
            if winmail is not None:
                _unpack_winmail(winmail, body, settings)
                continue
        if len(body.attachments) < settings.max_attachments:
            body.attachments.append(_attachment(part, ctype, filename, body))


_DELIMITER = re.compile(
    rb"(?m)^--([0-9A-Za-z'()+_,./:=?-]{1,70})[ \t]*\r?\n(?:[A-Za-z-]+:|\r?\n)"
)


# Python's own table only, not the machine's /etc/mime.types: the same mail must give the
# same event on every machine
_BUILTIN_TYPES = mimetypes.MimeTypes()


def _unpack_winmail(winmail: Winmail, body: Body, settings: NormalizeSettings) -> None:
    """The files inside winmail.dat are the attachments the customer sent; its text is the
    body when the mail has no other."""
    for f in winmail.files:
        if len(body.attachments) < settings.max_attachments:
            ctype = _BUILTIN_TYPES.guess_type(f.name)[0] or "application/octet-stream"
            body.attachments.append(_file(f.name, ctype, f.data, False, body))
    if winmail.text.strip():
        body.fallback_text.append(winmail.text)
    elif winmail.html.strip():
        body.fallback_text.append(html_to_text(winmail.html))


_SMIME_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})


def _opaque_signed(part: Message) -> Message | None:
    """The MIME entity an opaque-signed S/MIME part wraps, parsed; None when the part is
    encrypted or unreadable (then it stays an attachment)."""
    content = signed_content(_payload_bytes(part))
    if not content:
        return None
    try:
        return email.parser.BytesParser(policy=policy.compat32).parsebytes(content)
    except Exception:
        return None


def _recovered_children(part: Message) -> list[Message]:
    """The parts of a multipart whose declared boundary is not the one its body uses (the
    body has a delimiter line followed by part headers): parsed again with that one."""
    data = raw_payload(part)
    m = _DELIMITER.search(data[:_BOUNDARY_SCAN_BYTES])
    if m is None:
        return []
    head = b'Content-Type: multipart/mixed; boundary="' + m.group(1) + b'"\r\n\r\n'
    try:
        fixed = email.parser.BytesParser(policy=policy.compat32).parsebytes(head + data)
    except Exception:
        return []
    return _children(fixed)


def _children(part: Message) -> list[Message]:
    try:
        payload = part.get_payload()
    except Exception:
        return []
    if isinstance(payload, list):
        return [c for c in payload if isinstance(c, Message)]
    return []


def _preferred_alternative(children: list[Message], settings: NormalizeSettings) -> Message | None:
    """The alternative to read: the plain-text one (the sender's own words, no markup) when it
    has content and is not a stub ("view this email online") next to an HTML alternative that
    holds the message, else the last, richest one (RFC 2046 orders them by fidelity)."""
    plain = next(
        (c for c in children if content_type(c) == "text/plain" and _payload_bytes(c).strip()),
        None,
    )
    if plain is None:
        return _richest(children)
    rich = _richest(children)
    html = _html_of(rich) if rich is not None and rich is not plain else None
    if html is not None and prefer_html(
        _text(plain, settings), lambda: plain_words(_text(html, settings, html=True))
    ):
        return rich
    return plain


def _richest(children: list[Message]) -> Message | None:
    """The last alternative a reader can show (a calendar or an unknown type is not one)."""
    for c in reversed(children):
        ctype = content_type(c)
        if ctype in HTML_TYPES or ctype.startswith("multipart/") or ctype == "text/plain":
            return c
    return children[-1] if children else None


def _html_of(part: Message) -> Message | None:
    """The HTML part an alternative shows: itself, or the root of its multipart/related."""
    for _ in range(4):
        ctype = content_type(part)
        if ctype in HTML_TYPES:
            return part
        if not ctype.startswith("multipart/"):
            return None
        children = _children(part)
        found = next((c for c in children if content_type(c) in HTML_TYPES), None)
        if found is not None:
            return found
        nested = next((c for c in children if content_type(c).startswith("multipart/")), None)
        if nested is None:
            return None
        part = nested
    return None
