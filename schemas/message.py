"""The normalized message: what every channel becomes before it touches a ticket."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from schemas.base import Extra, extra_field, record

Channel = Literal["email", "chat", "api"]


@record
class Address:
    name: str = ""
    address: str


@record
class Attachment:
    filename: str
    content_type: str
    size: int
    sha256: str
    inline: bool = False
    # Large or binary content is stored outside the event; this names where ("sha256:<hex>").
    content_ref: str | None = None


@record
class Bounce:
    """A delivery status notification (RFC 3464) or a mailer-daemon message, as understood."""

    original_recipient: str | None = None
    status: str | None = None  # e.g. "5.1.1"
    action: str | None = None  # failed / delayed / delivered / relayed / expanded
    diagnostic: str | None = None
    original_message_id: str | None = None
    permanent: bool = True
    # In-Reply-To and References of the returned message: its ticket is found by them when
    # its own Message-ID carries no token of ours (a relay rewrote it, an external sender)
    original_references: tuple[str, ...] = ()


@record
class MessageFlags:
    auto_reply: bool = False
    auto_reply_reason: str | None = None
    bounce: Bounce | None = None
    mailing_list: bool = False
    list_id: str | None = None


@record
class InboundMessage:
    """A customer's message, channel-independent.

    ``message_id`` is helpline's deterministic id (hash of the Message-ID, or of the raw bytes
    when there is none; of site+message id for chat) so that every redelivery maps to the same id.
    """

    schema_version: int = 1
    message_id: str
    channel: Channel
    mailbox: str  # support mailbox or chat site the message came in through
    received_at: datetime
    sender: Address
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    subject: str = ""
    subject_normalized: str = ""
    internet_message_id: str | None = None
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    date: datetime | None = None
    language: str | None = None
    text: str = ""  # the new text only
    quoted: str = ""  # quoted history, separated from the new text
    signature: str = ""
    html_only: bool = False
    attachments: tuple[Attachment, ...] = ()
    flags: MessageFlags = MessageFlags()
    # chat
    conversation_id: str | None = None
    visitor_id: str | None = None
    verified_identifier: str | None = None
    # where the raw record lives, for audit and replay ("topic/partition/offset" or "sha256:...")
    raw_ref: str | None = None
    extra: Extra = extra_field()

    @property
    def partition_key(self) -> bytes:
        """Messages are keyed by conversation, else by the sender's address, so one customer's
        messages (and so their threads) are ordered on one partition."""
        if self.conversation_id:
            return f"chat:{self.mailbox}:{self.conversation_id}".encode()
        return self.sender.address.lower().encode()
