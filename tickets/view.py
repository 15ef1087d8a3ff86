"""A read-only, in-memory view of tickets for queries (CLI and HTTP API). Pure.

Fed from two topics: the compacted ``ticket.state`` table (current state, last write wins by
version) and the ``ticket.events`` log (history and conversation). It never writes anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from schemas.bin import BinnedMessage
from schemas.codec import to_primitive
from schemas.events import TicketEvent
from schemas.ticket import Ticket
from schemas.ticket_events import MessageAdded, Status


class TicketView:
    def __init__(self, max_events_per_ticket: int = 5000) -> None:
        self.max_events = max_events_per_ticket
        self._tickets: dict[str, Ticket] = {}
        self._by_number: dict[str, str] = {}
        self._events: dict[str, dict[str, TicketEvent]] = {}
        self.binned: dict[str, BinnedMessage] = {}  # the "not a ticket" bin, by message id

    def apply_binned(self, binned: BinnedMessage) -> None:
        self.binned[binned.message_id] = binned  # compacted topic: the last record holds

    def bin(self, include_restored: bool = False) -> list[BinnedMessage]:
        found = [b for b in self.binned.values() if include_restored or not b.restored]
        return sorted(found, key=lambda b: (b.at, b.message_id), reverse=True)

    def apply_state(self, key: str, ticket: Ticket | None) -> None:
        if ticket is None:
            self._tickets.pop(key, None)
            return
        held = self._tickets.get(ticket.ticket_id)
        if held is None or ticket.version >= held.version:
            self._tickets[ticket.ticket_id] = ticket
            self._by_number[ticket.number.upper()] = ticket.ticket_id

    def apply_event(self, event: TicketEvent) -> None:
        log = self._events.setdefault(event.ticket_id, {})
        if event.event_id not in log and len(log) < self.max_events:
            log[event.event_id] = event

    def __len__(self) -> int:
        return len(self._tickets)

    def find(self, ref: str) -> Ticket | None:
        tid = self._by_number.get(ref.strip().upper(), ref.strip())
        return self._tickets.get(tid)

    def tickets(
        self, status: Iterable[Status] = (), customer_id: str | None = None,
        assignee: str | None = None, limit: int = 100, offset: int = 0,
    ) -> list[Ticket]:
        wanted = set(status)
        found = [
            t for t in self._tickets.values()
            if (not wanted or t.status in wanted)
            and (customer_id is None or t.customer_id == customer_id)
            and (assignee is None or t.assignee == assignee)
        ]
        found.sort(key=lambda t: (t.updated_at, t.ticket_id), reverse=True)
        return found[offset:offset + limit]

    def events(self, ticket_id: str) -> list[TicketEvent]:
        """The ticket's events in log order (per-ticket order is the partition's order)."""
        return list(self._events.get(ticket_id, {}).values())

    def conversation(self, ticket_id: str) -> list[MessageAdded]:
        return [e.payload for e in self.events(ticket_id) if isinstance(e.payload, MessageAdded)]


def summary(t: Ticket) -> dict[str, Any]:
    """The short form of a ticket for lists."""
    return {
        "ticket_id": t.ticket_id, "number": t.number, "status": t.status,
        "priority": t.priority, "subject": t.subject, "channel": t.channel,
        "requester": t.requester.address or t.requester.name, "assignee": t.assignee,
        "team": t.team, "category": t.category, "tier": t.tier,
        "messages": t.exchanges, "updated_at": t.updated_at.isoformat(),
    }


def detail(t: Ticket) -> dict[str, Any]:
    out: dict[str, Any] = to_primitive(t)
    out.pop("event_ids", None)  # bookkeeping of the fold, not for readers
    return out


def event_json(e: TicketEvent) -> dict[str, Any]:
    out: dict[str, Any] = to_primitive(e)
    return out


def conversation_json(messages: Iterable[MessageAdded]) -> list[dict[str, Any]]:
    return [
        {
            "message_id": m.message_id, "direction": m.direction, "channel": m.channel,
            "author": m.author.address or m.author.name, "at": m.received_at.isoformat(),
            "subject": m.subject, "text": m.text,
            "attachments": [a.filename for a in m.attachments],
        }
        for m in messages
    ]
