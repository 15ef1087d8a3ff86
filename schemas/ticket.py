"""Ticket state: the fold of a ticket's events, as kept in the compacted state table."""

from __future__ import annotations

from datetime import datetime

from schemas.base import Extra, extra_field, record
from schemas.message import Address, Channel
from schemas.route_events import Tier
from schemas.ticket_events import Priority, Status


@record
class Ticket:
    schema_version: int = 1
    ticket_id: str
    number: str
    status: Status = "new"
    priority: Priority = "normal"
    subject: str = ""
    channel: Channel
    mailbox: str
    customer_id: str
    requester: Address
    participants: tuple[str, ...] = ()  # lower-cased addresses allowed to thread by number
    language: str | None = None
    category: str | None = None
    type: str | None = None
    tags: tuple[str, ...] = ()
    department: str | None = None
    team: str | None = None
    assignee: str | None = None
    tier: Tier = "L1"
    sla_policy: str | None = None
    first_response_due: datetime | None = None
    next_response_due: datetime | None = None
    resolution_due: datetime | None = None
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None = None
    solved_at: datetime | None = None
    closed_at: datetime | None = None
    message_ids: tuple[str, ...] = ()
    internet_message_ids: tuple[str, ...] = ()
    # Message-IDs the ticket's messages replied to / referenced: lets a message that arrives
    # after its own reply still find the thread.
    thread_refs: tuple[str, ...] = ()
    inbound_count: int = 0
    outbound_count: int = 0
    conversation_id: str | None = None
    master_id: str | None = None
    children: tuple[str, ...] = ()
    merged_into: str | None = None
    follow_up_of: str | None = None
    acked: bool = False
    sentiment: str | None = None
    follow_ups: tuple[str, ...] = ()
    merged_from: tuple[str, ...] = ()
    delivery_failures: int = 0
    reopened_count: int = 0
    sla_warned: tuple[str, ...] = ()  # metrics warned about (sla-warning)
    sla_breached: tuple[str, ...] = ()  # metrics breached (sla-breached)
    event_ids: tuple[str, ...] = ()  # every event folded, so a redelivered event is a no-op
    version: int = 0  # number of events folded
    last_event_id: str | None = None
    extra: Extra = extra_field()

    @property
    def exchanges(self) -> int:
        return self.inbound_count + self.outbound_count
