"""Event payloads about the ticket's own life: creation, messages, status, links.

Owned by the tickets stage. Each payload is tagged with ``TAG`` on the wire (``"kind"``).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from schemas.base import Extra, extra_field, record
from schemas.message import Address, Attachment, Channel, MessageFlags

Status = Literal["new", "open", "pending", "on-hold", "solved", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]
Direction = Literal["inbound", "outbound", "note"]
LinkRelation = Literal[
    "follow-up-of", "followed-up-by", "child-of", "master-of", "duplicate-of", "merged-from"
]


@record
class Created:
    TAG: ClassVar[str] = "created"
    number: str
    subject: str
    channel: Channel
    mailbox: str
    customer_id: str
    requester: Address
    language: str | None = None
    priority: Priority = "normal"
    status: Status = "new"
    conversation_id: str | None = None
    extra: Extra = extra_field()


@record
class MessageAdded:
    TAG: ClassVar[str] = "message-added"
    message_id: str
    direction: Direction
    channel: Channel
    author: Address
    received_at: datetime
    subject: str = ""
    text: str = ""
    internet_message_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    customer_id: str | None = None
    language: str | None = None
    flags: MessageFlags = MessageFlags()  # auto-reply / bounce / list: loop protection downstream
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    visitor_id: str | None = None
    agent_id: str | None = None  # outbound replies and notes
    # Lower-cased addresses that become participants of the ticket with this message (sender,
    # To/Cc minus our own addresses): they may thread by ticket number from now on.
    participants_added: tuple[str, ...] = ()
    extra: Extra = extra_field()


@record
class StatusChanged:
    TAG: ClassVar[str] = "status-changed"
    from_status: Status
    to_status: Status
    reason: str = ""
    extra: Extra = extra_field()


@record
class PriorityChanged:
    TAG: ClassVar[str] = "priority-changed"
    from_priority: Priority
    to_priority: Priority
    reason: str = ""
    extra: Extra = extra_field()


@record
class Merged:
    TAG: ClassVar[str] = "merged"
    into_ticket_id: str
    into_number: str
    extra: Extra = extra_field()


@record
class Linked:
    TAG: ClassVar[str] = "linked"
    other_ticket_id: str
    other_number: str
    relation: LinkRelation
    extra: Extra = extra_field()


@record
class DeliveryFailed:
    """A bounce of one of our own mails, recorded on its ticket instead of opening a new one."""

    TAG: ClassVar[str] = "delivery-failed"
    recipient: str | None
    status: str | None = None
    diagnostic: str | None = None
    message_id: str | None = None
    permanent: bool = True
    extra: Extra = extra_field()
