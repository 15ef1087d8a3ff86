"""RawChatMessage -> InboundMessage. Pure."""

from __future__ import annotations

import hashlib
import re

from schemas.message import Address, InboundMessage
from schemas.raw import RawChatMessage

# A chat ticket's subject: the visitor's first words, cut on a word at about the length mail
# clients show in a list (RFC 5322 recommends 78 characters a line).
SUBJECT_CHARS = 78
# A greeting alone says nothing about the request: "Hi! My order…" -> "My order…"
_GREETING = re.compile(
    r"^(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening)|dear [^,.!?]{1,30}|bonjour|"
    r"bonsoir|salut|coucou|allo|allô|hallo|guten tag|hola|buongiorno|ciao|olá|ola)"
    r"(?:\s+(?:there|all|team|l'équipe|madame|monsieur|everyone))?\s*[,.!:;-]*\s+",
    re.IGNORECASE,
)


def subject_from_text(text: str, limit: int = SUBJECT_CHARS) -> str:
    """The subject of a chat ticket from its first message: the first line with words,
    without a bare greeting, whitespace folded, cut on a word with an ellipsis."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    flat = " ".join(line.split())
    rest = _GREETING.sub("", flat, count=1)
    if rest and any(c.isalnum() for c in rest):
        flat = rest[0].upper() + rest[1:]
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return f"{cut or flat[: limit - 1]}…"


def chat_message_id(site_id: str, message_id: str) -> str:
    """Deterministic id: the same chat message (a retried POST) always maps to the same id."""
    return "chat-" + hashlib.sha256(f"{site_id}\x00{message_id}".encode()).hexdigest()[:32]


def to_inbound(raw: RawChatMessage, raw_ref: str | None = None) -> InboundMessage:
    subject = subject_from_text(raw.text)
    return InboundMessage(
        message_id=chat_message_id(raw.site_id, raw.message_id),
        channel="chat",
        mailbox=raw.site_id,
        received_at=raw.received_at,
        sender=Address(name=raw.name or "", address=(raw.email or "").strip().lower()),
        subject=subject,
        subject_normalized=subject,
        text=raw.text,
        language=raw.locale.split("-")[0].lower() if raw.locale else None,
        conversation_id=raw.conversation_id,
        visitor_id=raw.visitor_id,
        verified_identifier=raw.verified_identifier,
        raw_ref=raw_ref,
    )
