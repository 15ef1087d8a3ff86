"""Raw RFC 822 bytes → :class:`schemas.message.InboundMessage`. The normalizer's pure core.

:func:`parse_email` is total: for any bytes it returns an InboundMessage or raises
:class:`UnparseableEmail` (and nothing else), whose one-line ``reason`` says why. The normalize
stage lets the runner dead-letter that error with the raw bytes; ``helpline parse`` prints it.

What counts as unparseable is deliberately narrow: empty input, input over the size limit, and
bytes with no RFC 5322 header field at all (a text file is not a mail). Everything else, however
broken, becomes a message with whatever could be read from it.
"""

from __future__ import annotations

import dataclasses
import email
import email.parser
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import Message

from ingest.mime import bounce as bounces
from ingest.mime.body import ATTACHED_MESSAGE_TYPES, Body, collect
from ingest.mime.flags import message_flags
from ingest.mime.headers import (
    Headers,
    addresses,
    content_type,
    date,
    declared_charset,
    message_id,
    message_ids,
    normalize_subject,
)
from ingest.mime.html import sanitize
from ingest.mime.language import guess_language
from ingest.mime.quotes import split_reply
from ingest.mime.settings import NormalizeSettings
from ingest.mime.text import repair
from schemas.errors import HelplineError
from schemas.message import Address, Bounce, InboundMessage

DEFAULT_SETTINGS = NormalizeSettings()
_TRUNCATED = "\n[…]"
_OBS_FIELD_NAME = re.compile(rb"(?m)^([A-Za-z][A-Za-z0-9-]{0,76})[ \t]+:")
_HEADER_SCAN_BYTES = 64 * 1024


class UnparseableEmail(HelplineError, ValueError):
    """Bytes that are not an email message. ``reason`` is one line, safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def email_message_id(internet_message_id: str | None, raw: bytes) -> str:
    """helpline's deterministic id: the same mail, however often delivered, gets the same id."""
    if internet_message_id:
        return "email-" + hashlib.sha256(b"mid\x00" + internet_message_id.encode()).hexdigest()[:32]
    return "email-" + hashlib.sha256(b"raw\x00" + raw).hexdigest()[:32]


def parse_email(
    raw: bytes,
    *,
    mailbox: str,
    received_at: datetime,
    raw_ref: str | None = None,
    settings: NormalizeSettings = DEFAULT_SETTINGS,
) -> InboundMessage:
    """Normalize one message. Raises only :class:`UnparseableEmail`."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise UnparseableEmail(f"expected bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    if not raw.strip():
        raise UnparseableEmail("empty message")
    if len(raw) > settings.max_message_bytes:
        raise UnparseableEmail(
            f"message of {len(raw)} bytes exceeds max_message_bytes={settings.max_message_bytes}"
        )
    try:
        msg = _parse_bytes(raw)
        headers = Headers(msg, settings.max_header_chars)
        if not any(True for _ in headers.names()):
            # RFC 822's obsolete syntax allows blanks before the colon ("From  : …")
            head, tail = raw[:_HEADER_SCAN_BYTES], raw[_HEADER_SCAN_BYTES:]
            fixed = _OBS_FIELD_NAME.sub(rb"\1:", head) + tail
            if fixed != raw:
                msg = _parse_bytes(fixed)
                headers = Headers(msg, settings.max_header_chars)
        if not any(True for _ in headers.names()):
            raise UnparseableEmail("no RFC 5322 header fields found")
        return _normalize(msg, headers, raw, mailbox, received_at, raw_ref, settings)
    except UnparseableEmail:
        raise
    except RecursionError:
        raise UnparseableEmail("MIME structure nested too deeply") from None
    except Exception as exc:  # the contract: one documented error type, never a crash
        raise UnparseableEmail(f"parser failure: {type(exc).__name__}: {exc}"[:300]) from None


def attachment_content(
    raw: bytes, content_ref: str, settings: NormalizeSettings = DEFAULT_SETTINGS
) -> bytes | None:
    """The bytes an attachment's ``content_ref`` (``sha256:<hex>``) names, read back from the
    raw message it came in (the event never carries them). None when it is not there."""
    digest = content_ref.removeprefix("sha256:")
    try:
        contents = collect(_parse_bytes(bytes(raw)), settings, keep_contents=True).contents
    except Exception:  # same totality as parse_email: a bad raw record simply has nothing
        return None
    return (contents or {}).get(digest)


def _parse_bytes(raw: bytes) -> Message:
    """The MIME tree, under ``compat32``: header values stay raw strings until we read them.

    Measured on the shared corpus, building the tree under ``policy.default`` costs three times
    as much, all of it in its header registry parsing every Content-Type again at each access.
    We read headers ourselves (:mod:`ingest.mime.headers`) and use the default policy's
    parsers where they add something (addresses, encoded words that our own decoding rejects).
    """
    try:
        return email.parser.BytesParser(policy=policy.compat32).parsebytes(raw)
    except Exception:
        return email.message_from_bytes(raw, policy=policy.default)


def _sender(headers: Headers, limit: int) -> Address:
    for name in ("from", "sender", "reply-to", "return-path"):
        found = addresses(headers, name, limit)
        if found and found[0].address:
            return found[0]
    display = headers.text("from")
    return Address(name=display[:200].strip('"<> '), address="")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + _TRUNCATED


def _bounce(
    msg: Message, headers: Headers, sender: Address, subject: str, body_text: str,
    own: set[str],
) -> Bounce | None:
    found = _bounce_of(msg, headers, sender, subject, body_text, own)
    if found is None:
        return None
    refs = bounces.original_references(msg)
    return dataclasses.replace(found, original_references=refs) if refs else found


def _bounce_of(
    msg: Message, headers: Headers, sender: Address, subject: str, body_text: str,
    own: set[str],
) -> Bounce | None:
    top = content_type(msg)
    is_dsn = top == "message/delivery-status" or (
        top == "multipart/report" and "delivery-status" in headers.text("content-type").lower()
    )
    if not is_dsn and not bounces.looks_like_bounce(
        headers, sender.address, sender.name, subject, body_text
    ):
        return None
    original = bounces.original_message_id(msg, body_text)
    if is_dsn:
        dsn = bounces.from_dsn(msg, original)
        if dsn is not None and dsn.original_recipient:
            return dsn
        text_bounce = bounces.from_text(
            body_text, headers.raw("x-failed-recipients"), own, original
        )
        if dsn is None:
            return bounces.nested_dsn(msg, original) or text_bounce
        return Bounce(
            original_recipient=text_bounce.original_recipient,
            status=dsn.status or text_bounce.status,
            action=dsn.action or text_bounce.action,
            diagnostic=dsn.diagnostic or text_bounce.diagnostic,
            original_message_id=original,
            permanent=dsn.permanent,
        )
    found = bounces.from_text(body_text, headers.raw("x-failed-recipients"), own, original)
    if found.original_recipient is None:
        # some gateways wrap the real DSN in a message/rfc822 part of their own notice
        nested = bounces.nested_dsn(msg, original)
        if nested is not None:
            return nested
    return found


def _forwarded_text(msg: Message, settings: NormalizeSettings) -> str:
    """A mail that is only a forwarded message (``message/rfc822`` and no text of its own):
    the forwarded mail's text is what the customer sent us, so show it, under a banner."""
    stack = [msg]
    while stack:
        part = stack.pop()
        ctype = content_type(part)
        try:
            payload = part.get_payload()
        except Exception:
            continue
        if not isinstance(payload, list):
            continue
        if ctype in ATTACHED_MESSAGE_TYPES and payload and isinstance(payload[0], Message):
            inner = payload[0]
            inner_headers = Headers(inner)
            text = "\n\n".join(
                t.strip("\n") for t in collect(inner, settings).plain if t.strip()
            )
            if not text.strip():
                return ""
            banner = [
                "---------- Forwarded message ----------",
                *(f"{label}: {inner_headers.text(name)}" for label, name in
                  (("From", "from"), ("Date", "date"), ("Subject", "subject"), ("To", "to"))
                  if inner_headers.text(name)),
            ]
            return repair("\n".join(banner) + "\n\n" + text)
        if ctype.startswith("multipart/"):
            stack.extend(reversed([c for c in payload if isinstance(c, Message)]))
    return ""


def _texts(msg: Message, body: Body, settings: NormalizeSettings) -> tuple[str, str]:
    """The mail's own text, and every readable word of it in order (before quotes and the
    signature are split off): a note with a forwarded mail attached gets the forward too,
    under its banner, where the quote splitter puts it with the quoted history."""
    own = _own_text(body)
    forwarded = _forwarded(msg, body, settings)
    if not own.strip():
        return own, forwarded
    return own, f"{own}\n\n{forwarded}" if forwarded else own


def _own_text(body: Body) -> str:
    return repair("\n\n".join(t.strip("\n") for t in body.plain if t.strip()))


def _forwarded(msg: Message, body: Body, settings: NormalizeSettings) -> str:
    if content_type(msg) == "multipart/report" or not _has_attached_message(body):
        return ""  # the returned message of a bounce is not what anyone wrote to us
    return _forwarded_text(msg, settings)


def _has_attached_message(body: Body) -> bool:
    return any(a.content_type in ATTACHED_MESSAGE_TYPES for a in body.attachments)


@dataclass(frozen=True, slots=True)
class ReadableBody:
    """What an agent's console shows when the split into new text, quote and signature is
    in doubt: the whole decoded text (``text`` + ``quoted`` + ``signature`` of the message
    come from it, nothing else) and the mail's HTML, sanitized ("" when it has none)."""

    text: str
    html: str


def readable_body(raw: bytes, settings: NormalizeSettings = DEFAULT_SETTINGS) -> ReadableBody:
    """The full body of a raw message, read back from the raw record (the event keeps only
    the split text). Total like :func:`parse_email`: unreadable bytes give empty strings."""
    try:
        msg = _parse_bytes(bytes(raw))
        body = collect(msg, settings)
        text = _texts(msg, body, settings)[1]
        html = "\n".join(h for h in body.html if h.strip())
    except Exception:  # same totality as parse_email: a bad raw record simply has nothing
        return ReadableBody(text="", html="")
    return ReadableBody(text=text, html=sanitize(repair(html)) if html else "")


def _normalize(
    msg: Message,
    headers: Headers,
    raw: bytes,
    mailbox: str,
    received_at: datetime,
    raw_ref: str | None,
    settings: NormalizeSettings,
) -> InboundMessage:
    limit = settings.max_recipients
    if headers.has_eight_bit():
        # only then is it needed; finding it costs a walk over the parts' parameters
        headers.charset_hint = declared_charset(msg, settings.max_mime_parts)
    sender = _sender(headers, limit)
    to = addresses(headers, "to", limit)
    cc = addresses(headers, "cc", limit)
    subject = headers.text("subject")[:998]
    internet_id = message_id(headers)
    body = collect(msg, settings, charset_hint=headers.charset_hint)
    own_text, full_text = _texts(msg, body, settings)
    # what is kept is bounded by max_text_chars anyway; do not scan megabytes for quotes
    full_text = full_text[: 2 * settings.max_text_chars]
    parts = split_reply(full_text, settings.signature_search_lines)
    # the bounced recipient is never the daemon that reports it, nor our own mailbox
    own = {sender.address, mailbox.lower()}
    own.discard("")
    # a bounce is read from its own text, not from a message it returns
    bounce = _bounce(msg, headers, sender, subject, own_text if own_text.strip() else full_text,
                     own)
    return InboundMessage(
        message_id=email_message_id(internet_id, raw),
        channel="email",
        mailbox=mailbox,
        received_at=received_at,
        sender=sender,
        to=to,
        cc=cc,
        reply_to=addresses(headers, "reply-to", limit),
        subject=subject,
        subject_normalized=normalize_subject(subject),
        internet_message_id=internet_id,
        in_reply_to=message_ids(headers.raw_all("in-reply-to"), settings.max_references),
        references=message_ids(headers.raw_all("references"), settings.max_references),
        date=date(headers),
        language=guess_language(
            parts.text or subject, settings.language_sample_chars, settings.language_min_hits
        ),
        text=_truncate(parts.text, settings.max_text_chars),
        quoted=_truncate(parts.quoted, settings.max_text_chars),
        signature=_truncate(parts.signature, settings.max_text_chars // 10),
        html_only=body.html_only,
        attachments=tuple(body.attachments),
        flags=message_flags(headers, subject, bounce),
        raw_ref=raw_ref,
    )
