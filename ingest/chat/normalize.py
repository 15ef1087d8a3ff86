"""RawChatMessage -> InboundMessage. Pure."""

from __future__ import annotations

import hashlib

from schemas.message import Address, InboundMessage
from schemas.raw import RawChatMessage


def chat_message_id(site_id: str, message_id: str) -> str:
    """Deterministic id: the same chat message (a retried POST) always maps to the same id."""
    return "chat-" + hashlib.sha256(f"{site_id}\x00{message_id}".encode()).hexdigest()[:32]


def to_inbound(raw: RawChatMessage, raw_ref: str | None = None) -> InboundMessage:
    return InboundMessage(
        message_id=chat_message_id(raw.site_id, raw.message_id),
        channel="chat",
        mailbox=raw.site_id,
        received_at=raw.received_at,
        sender=Address(name=raw.name or "", address=(raw.email or "").strip().lower()),
        subject="",
        subject_normalized="",
        text=raw.text,
        language=raw.locale.split("-")[0].lower() if raw.locale else None,
        conversation_id=raw.conversation_id,
        visitor_id=raw.visitor_id,
        verified_identifier=raw.verified_identifier,
        raw_ref=raw_ref,
    )
