"""The readable body and the attachments of a parsed message. Pure.

The body is what a mail client would show: the plain-text alternative when there is one, the
HTML one converted to text otherwise, the inline text parts of a ``multipart/mixed`` in order.
Everything else is an attachment described by name, type, size and SHA-256; its content stays in
the raw record and is referred to as ``sha256:<hex>``, never copied into the event.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from email.message import Message

from ingest.mime.headers import Headers, content_param, content_type, decode_text
from ingest.mime.html import html_to_text
from ingest.mime.settings import NormalizeSettings
from ingest.mime.text import decode_bytes, repair, unflow
from schemas.message import Attachment

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


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    try:
        raw = part.get_payload()
    except Exception:
        return b""
    if isinstance(raw, str):
        return raw.encode("utf-8", errors="surrogateescape")
    return b""


def _disposition(part: Message) -> str:
    try:
        value = part.get_content_disposition()
    except Exception:
        return ""
    return value or ""


def _filename(part: Message) -> str:
    name = content_param_disposition(part, "filename") or content_param(part, "name") or ""
    return decode_text("subject", name)[:255] if name else ""


def content_param_disposition(part: Message, name: str) -> str | None:
    try:
        value = part.get_filename()
    except Exception:
        value = None
    if value:
        return repair(value)
    raw = Headers(part).raw("content-disposition") or ""
    key = f"{name}="
    at = raw.lower().find(key)
    if at < 0:
        return None
    return raw[at + len(key):].split(";", 1)[0].strip().strip('"') or None


def _text(part: Message, settings: NormalizeSettings) -> str:
    data = _payload_bytes(part)
    text = decode_bytes(data, content_param(part, "charset"), settings.charset_detection_bytes)
    if (content_param(part, "format") or "").lower() == "flowed":
        text = unflow(text, delsp=(content_param(part, "delsp") or "").lower() == "yes")
    return text


def _attachment(part: Message, ctype: str, filename: str, body: Body) -> Attachment:
    data = _payload_bytes(part)
    if ctype == "message/rfc822" and not data:
        data = _message_bytes(part)
    digest = hashlib.sha256(data).hexdigest()
    if body.contents is not None:
        body.contents[digest] = data
    return Attachment(
        filename=filename,
        content_type=ctype,
        size=len(data),
        sha256=digest,
        inline=_disposition(part) == "inline",
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


def collect(msg: Message, settings: NormalizeSettings, keep_contents: bool = False) -> Body:
    """Walk the MIME tree once (iteratively, bounded by the part and depth limits)."""
    body = Body(contents={} if keep_contents else None)
    html: list[str] = []
    _walk(msg, settings, body, html)
    if not any(t.strip() for t in body.plain) and html:
        body.plain = [html_to_text(h) for h in html]
        body.html_only = True
    return body


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
        if maintype == "multipart" and not _children(part) and _payload_bytes(part).strip():
            # a multipart whose boundary never appears: its body is all there is to read
            if not attachments_only:
                body.plain.append(_text(part, settings))
            continue
        if maintype == "multipart":
            if depth < settings.max_mime_depth:
                children = _children(part)
                chosen = (
                    _preferred_alternative(children)
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
        disposition = _disposition(part)
        filename = _filename(part)
        is_body_text = maintype == "text" and disposition != "attachment" and (
            not filename or ctype in ("text/plain", "text/html")
        )
        if is_body_text:
            if attachments_only:
                continue
            if ctype == "text/html":
                html.append(_text(part, settings)[: settings.max_html_bytes])
            else:
                body.plain.append(_text(part, settings))
            continue
        if len(body.attachments) < settings.max_attachments:
            body.attachments.append(_attachment(part, ctype, filename, body))


def _children(part: Message) -> list[Message]:
    try:
        payload = part.get_payload()
    except Exception:
        return []
    if isinstance(payload, list):
        return [c for c in payload if isinstance(c, Message)]
    return []


def _preferred_alternative(children: list[Message]) -> Message | None:
    """The alternative to read: the plain-text one (the sender's own words, no markup) when it
    has content, else the last, richest one (RFC 2046 orders them by increasing fidelity)."""
    for c in children:
        if content_type(c) == "text/plain" and _payload_bytes(c).strip():
            return c
    return children[-1] if children else None
