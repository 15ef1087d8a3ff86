"""Bounces: delivery status notifications (RFC 3464) and the free-text mailer-daemon kind. Pure.

A DSN is read from its ``message/delivery-status`` part (recipient, action, status,
diagnostic) and its returned message or headers (the original Message-ID). Everything else that
comes from a mailer-daemon/postmaster, names failed recipients, or reads like a non-delivery
report is read from its text with a few patterns that every MTA family shares.
"""

from __future__ import annotations

import re
from email.message import Message

from ingest.mime.headers import Headers, content_type, message_ids
from ingest.mime.text import repair
from schemas.message import Bounce

_DAEMONS = frozenset(
    {"mailer-daemon", "mailer_daemon", "mailerdaemon", "postmaster", "mail-daemon",
     "mdaemon", "post_master", "mail.delivery.system", "mail-delivery-system", "bounce", "bounces",
     "nobody", "double-bounce"}
)
_DAEMON_NAME = re.compile(
    r"mail delivery|mailer[- ]daemon|postmaster|post_master|system administrator|"
    r"mail administrator|mail system",
    re.I,
)
_AUTOMATED_LOCAL = re.compile(
    r"daemon|postmaster|post_master|admin|mail|smtp|mta|system|antivirus|bounce|reply|notif|"
    r"imss|gateway",
    re.I,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered mail|delivery status notification|delivery (?:has )?failed|"
    r"delivery failure|failure notice|returned mail|mail delivery failed|could not be delivered|"
    r"delivery problem|non[- ]?remis|non distribuable|unzustellbar|nicht zustellbar|"
    r"no se puede entregar|non recapitabile|onbestelbaar|message not delivered|"
    r"warning: could not send|delayed mail|delivery notification|rejected:|mail system error|"
    r"returned to sender|permanent error|delivery report|nondeliverable|non-delivery|"
    r"mail failure|failed mail|failure delivery|not delivered|error during delivery|"
    r"mail failed|delivery status|delivery warning|error sending your mail|配信できません|エラー|"
    r"не доставлен|退信|失败",
    re.I,
)
_FORWARD = re.compile(r"^\s*(?:fwd?|tr|wg|i|enc|rv|vs|fs)\s*:", re.I)
_BOUNCE_BODY = re.compile(
    r"could not be delivered|couldn't be delivered|was not delivered|undeliverable|"
    r"delivery (?:has )?failed|permanent error|user unknown|unknown user|no such user|"
    r"mailbox unavailable|n'a pas pu (?:être|etre) d[ée]livr[ée]|unzustellbar",
    re.I,
)
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251})")
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_REPLY_CODE = re.compile(r"(?<!\d)([45]\d\d)[ -](?=\S)")
_RECIPIENT_LINE = re.compile(
    r"final-recipient|original-recipient|rcpt to|recipient|failed|unknown|does not exist|"
    r"doesn't exist|no such|undeliver|not (?:be )?delivered|rejected|invalid|unavailable|"
    r"mailbox|user|address|delivery to|quota|over|disabled|inactive|refused|not found|"
    r"n'existe pas|inconnu|introuvable|unbekannt|existiert nicht",
    re.I,
)
_HEADER_LINE = re.compile(
    r"^\s*(?:to|from|cc|sender|reply-to|return-path|received|message-id|list-[a-z]+|"
    r"errors-to|x-[a-z-]+|delivered-to|in-reply-to|references|date|subject|by|for)\s*:",
    re.I,
)
_STRONG_LINE = re.compile(
    r"final-recipient|original-recipient|rcpt to|user unknown|unknown user|no such user|"
    r"does not exist|doesn't exist|not a valid|invalid recipient|recipient address rejected|"
    r"mailbox (?:unavailable|full|not found|is full)|over quota|account .{0,20}disabled|"
    r"^\s*<[^<>]+>:\s*$|^\s*<[^<>]+>\.{3}|\.\.\. (?:user unknown|deferred)|"
    r"n'existe pas|inconnu",
    re.I,
)
_DSN_FIELD = re.compile(
    r"^\s*(final-recipient|original-recipient|action|status|diagnostic-code)\s*:\s*(.+)$",
    re.I | re.M,
)
_ORIGINAL_START = re.compile(
    r"^(?:-+ ?(?:original message|this is a copy|below this line|the header of the original|"
    r"returned message|original message follows)|return-path:|received: |content-type: message|"
    r"\s*-+\s*original message)",
    re.I,
)
_TRANSIENT = re.compile(
    r"\bdelayed\b|temporar|will (?:be )?retr|still trying|not yet been delivered|"
    r"warning:|will continue to|retry",
    re.I,
)
_MAX_TEXT = 64 * 1024  # bounce reports are short; never scan an attached novel


def is_daemon(address: str, name: str = "") -> bool:
    local = address.split("@", 1)[0].lower()
    return local in _DAEMONS or bool(name and _DAEMON_NAME.search(name))


def looks_like_bounce(
    headers: Headers, sender: str, sender_name: str, subject: str, body: str
) -> bool:
    """A non-DSN bounce: from a mail daemon, naming failed recipients, or a non-delivery
    subject from an automated sender (or with a non-delivery report as its text). A customer
    forwarding a bounce to support is not a bounce."""
    if "x-failed-recipients" in headers:
        return True
    if is_daemon(sender, sender_name):
        return True
    if _FORWARD.match(subject) or not _BOUNCE_SUBJECT.search(subject):
        return False
    return_path = (headers.raw("return-path") or "").strip()
    local = sender.split("@", 1)[0]
    return (
        return_path == "<>"
        or not sender
        or "@" not in sender
        or bool(_AUTOMATED_LOCAL.search(local) or _AUTOMATED_LOCAL.search(sender_name))
        or bool(_BOUNCE_BODY.search(body[:4000]))
    )


def _field(block: Message, name: str) -> str | None:
    headers = Headers(block)
    value = headers.raw(name)
    if value is None:
        return None
    value = " ".join(repair(value).split())
    return value or None


def _typed_address(value: str | None) -> str | None:
    """``rfc822; user@example.com`` → ``user@example.com``."""
    if not value:
        return None
    addr = value.split(";", 1)[-1].strip().strip("<>").strip()
    return addr.lower() or None


def _delivery_status_blocks(part: Message) -> list[Message]:
    try:
        payload = part.get_payload()
    except Exception:
        return []
    if isinstance(payload, list):
        return [b for b in payload if isinstance(b, Message)]
    return []


def from_dsn(report: Message, original_message_id: str | None) -> Bounce | None:
    """Read a ``multipart/report; report-type=delivery-status`` message."""
    status_parts: list[Message] = []
    for part in _iter_parts(report):
        if content_type(part) == "message/delivery-status":
            status_parts.append(part)
    for part in status_parts:
        blocks = _delivery_status_blocks(part)
        per_recipient = [b for b in blocks if _field(b, "final-recipient") or _field(b, "action")]
        # the first failed recipient wins; else the first one reported
        chosen = next(
            (b for b in per_recipient if (_field(b, "action") or "").lower().startswith("fail")),
            per_recipient[0] if per_recipient else None,
        )
        if chosen is None:
            continue
        action = (_field(chosen, "action") or "").lower() or None
        status = _field(chosen, "status")
        status_code = _STATUS.search(status or "")
        diagnostic = _field(chosen, "diagnostic-code")
        if diagnostic and ";" in diagnostic[:12]:
            diagnostic = diagnostic.split(";", 1)[1].strip()
        code = status_code.group(0) if status_code else None
        return Bounce(
            original_recipient=_typed_address(_field(chosen, "original-recipient"))
            or _typed_address(_field(chosen, "final-recipient")),
            status=code,
            action=action,
            diagnostic=diagnostic[:1000] if diagnostic else None,
            original_message_id=original_message_id,
            permanent=_permanent(code, action, diagnostic or ""),
        )
    return None


def nested_dsn(msg: Message, original_message_id: str | None) -> Bounce | None:
    """A delivery-status report inside an attached message (one level down)."""
    for part in _iter_parts(msg):
        if content_type(part) != "message/rfc822":
            continue
        try:
            inner = part.get_payload()
        except Exception:
            continue
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            dsn = from_dsn(inner[0], original_message_id)
            if dsn is not None and dsn.original_recipient:
                return dsn
    return None


def _iter_parts(msg: Message, limit: int = 200) -> list[Message]:
    out: list[Message] = []
    stack = [msg]
    while stack and len(out) < limit:
        part = stack.pop()
        out.append(part)
        if part.is_multipart():
            try:
                children = part.get_payload()
            except Exception:
                continue
            if isinstance(children, list) and content_type(part).startswith("multipart/"):
                stack.extend(reversed([c for c in children if isinstance(c, Message)]))
    return out


def _permanent(status: str | None, action: str | None, text: str) -> bool:
    if status:
        return status.startswith("5")
    if action:
        return action.startswith("fail")
    return not _TRANSIENT.search(text[:4000])


def from_text(
    text: str, failed_header: str | None, excluded: set[str], original_message_id: str | None
) -> Bounce:
    """Read a free-text bounce: the failed recipient, status and diagnostic line."""
    head = _report_part(text[:_MAX_TEXT])
    fields = {m.group(1).lower(): m.group(2).strip() for m in _DSN_FIELD.finditer(head)}
    if "final-recipient" in fields or "original-recipient" in fields:
        # DSN fields as text: a report whose MIME structure did not survive
        return _from_fields(fields, head, original_message_id)
    recipient = None
    if failed_header:
        found = _ADDRESS.findall(repair(failed_header))
        recipient = found[0].lower() if found else None
    if recipient is None:
        recipient = _recipient_from_text(head, excluded)
    status_m = _STATUS.search(head)
    status = status_m.group(0) if status_m else None
    diagnostic = None
    for line in head.splitlines():
        stripped = line.strip()
        if (status and status in stripped) or _REPLY_CODE.match(stripped):
            diagnostic = stripped[:1000]
            break
    if status is None:
        code = next((m.group(1) for m in _REPLY_CODE.finditer(head)), None)
        if code is not None:
            status = f"{code[0]}.0.0"
    return Bounce(
        original_recipient=recipient,
        status=status,
        action="delayed" if _TRANSIENT.search(head[:4000]) and not (status or "").startswith(
            "5") else "failed",
        diagnostic=diagnostic,
        original_message_id=original_message_id,
        permanent=_permanent(status, None, head),
    )


def _from_fields(fields: dict[str, str], text: str, original_message_id: str | None) -> Bounce:
    recipient = _typed_address(fields.get("original-recipient")) or _typed_address(
        fields.get("final-recipient")
    )
    status_m = _STATUS.search(fields.get("status", ""))
    status = status_m.group(0) if status_m else None
    action = fields.get("action", "").lower() or None
    diagnostic = fields.get("diagnostic-code")
    if diagnostic and ";" in diagnostic[:12]:
        diagnostic = diagnostic.split(";", 1)[1].strip()
    return Bounce(
        original_recipient=recipient,
        status=status,
        action=action,
        diagnostic=diagnostic[:1000] if diagnostic else None,
        original_message_id=original_message_id,
        permanent=_permanent(status, action, text),
    )


def _report_part(text: str) -> str:
    """The report, without the returned original message below it."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if i > 2 and _ORIGINAL_START.match(line):
            return "\n".join(lines[:i])
    return text


def _recipient_from_text(text: str, excluded: set[str]) -> str | None:
    """The failed recipient: an address on a line that reads like a failure (or alone on its
    line), never one from a header line of the quoted original."""
    first: str | None = None
    weak: str | None = None
    for line in text.splitlines():
        if _HEADER_LINE.match(line):
            continue
        for raw in _ADDRESS.findall(line):
            addr: str = str(raw).lower().rstrip(".").strip("'\"").rsplit("=", 1)[-1]
            if addr in excluded or is_daemon(addr):
                continue
            if _STRONG_LINE.search(line):
                return addr
            if weak is None and (
                _RECIPIENT_LINE.search(line) or line.strip().strip("<>:;,.'\"") == raw
            ):
                weak = addr
            first = first or addr
    found: str | None = weak or first
    return found


def original_message_id(msg: Message, text: str) -> str | None:
    """The Message-ID of the message that bounced: from the returned message or headers part,
    else from a ``Message-ID:`` line in the report text."""
    for part in _iter_parts(msg):
        ctype = content_type(part)
        if ctype == "message/rfc822":
            try:
                inner = part.get_payload()
            except Exception:
                continue
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                ids = message_ids(Headers(inner[0]).raw_all("message-id"), 1)
                if ids:
                    return ids[0]
        elif ctype == "text/rfc822-headers":
            m = re.search(r"^message-id:\s*(.+)$", _payload_text(part), re.I | re.M)
            if m:
                ids = message_ids([m.group(1)], 1)
                if ids:
                    return ids[0]
    m = re.search(r"^\s*message-id:\s*(<[^<>\s]+>)", text[:_MAX_TEXT], re.I | re.M)
    return m.group(1)[1:-1] if m else None


def original_references(msg: Message, limit: int = 50) -> tuple[str, ...]:
    """In-Reply-To and References of the message that bounced (returned message or headers
    part), newest first: they name the thread the bounced mail belonged to."""
    for part in _iter_parts(msg):
        ctype = content_type(part)
        if ctype == "message/rfc822":
            try:
                inner = part.get_payload()
            except Exception:
                continue
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                h = Headers(inner[0])
                refs = message_ids(h.raw_all("references"), limit)
                return tuple(dict.fromkeys(
                    [*message_ids(h.raw_all("in-reply-to"), limit), *reversed(refs)]))[:limit]
        elif ctype == "text/rfc822-headers":
            text = _payload_text(part)
            found: list[str] = []
            for name in ("in-reply-to", "references"):
                m = re.search(rf"^{name}:\s*((?:.+)(?:\n[ \t].+)*)", text, re.I | re.M)
                if m:
                    ids = message_ids([m.group(1)], limit)
                    found += ids if name == "in-reply-to" else list(reversed(ids))
            return tuple(dict.fromkeys(found))[:limit]
    return ()


def _payload_text(part: Message) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        return ""
    if isinstance(data, bytes):
        return repair(data[:_MAX_TEXT].decode("utf-8", errors="surrogateescape"))
    return ""
