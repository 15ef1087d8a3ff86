"""Builders of ticket events as the tickets stage writes them, for classify tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.events import Actor, Created, MessageAdded, TicketEvent
from schemas.message import Address, Attachment, Channel
from schemas.stage import In
from schemas.topics import TICKET_EVENTS

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Paris
CUSTOMER = Actor(kind="customer", id="c1")


def opened(ticket: str, subject: str, text: str, *, channel: Channel = "email",
           sender: str = "marie@client.fr", customer_id: str = "c1",
           at: datetime = T0, attachments: tuple[str, ...] = ()) -> list[TicketEvent]:
    """``created`` + the first inbound ``message-added``, sharing the message as their cause."""
    cause = f"m-{ticket}-1"
    created = TicketEvent(
        event_id=f"e-{ticket}-created", ticket_id=ticket, ticket_number=f"HL-{ticket}", at=at,
        actor=CUSTOMER, causation_id=cause,
        payload=Created(number=f"HL-{ticket}", subject=subject, channel=channel,
                        mailbox="support@helpline.example", customer_id=customer_id,
                        requester=Address(address=sender)),
    )
    return [created, message(ticket, 1, text, subject=subject, channel=channel, sender=sender,
                             customer_id=customer_id, at=at, attachments=attachments)]


def message(ticket: str, n: int, text: str, *, subject: str = "", channel: Channel = "email",
            sender: str = "marie@client.fr", customer_id: str = "c1", at: datetime = T0,
            direction: str = "inbound", attachments: tuple[str, ...] = (),
            auto_reply: bool = False) -> TicketEvent:
    from schemas.message import MessageFlags

    cause = f"m-{ticket}-{n}"
    return TicketEvent(
        event_id=f"e-{ticket}-msg-{n}", ticket_id=ticket, ticket_number=f"HL-{ticket}",
        at=at + timedelta(seconds=n), actor=CUSTOMER, causation_id=cause,
        payload=MessageAdded(
            message_id=cause, direction=direction,  # type: ignore[arg-type]
            channel=channel, author=Address(address=sender), received_at=at,
            subject=subject, text=text, customer_id=customer_id,
            attachments=tuple(Attachment(filename=a, content_type="application/pdf", size=10,
                                         sha256="0" * 64) for a in attachments),
            flags=MessageFlags(auto_reply=auto_reply),
        ),
    )


def records(events: list[TicketEvent]) -> list[In]:
    return [In(TICKET_EVENTS, e.ticket_id.encode(), e, offset=i) for i, e in enumerate(events)]
