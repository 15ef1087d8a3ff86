"""What the console knows: tickets (a :class:`~tickets.view.TicketView`), the agent directory
and the customer directory, kept current from the broker by :mod:`console.feed`. Each change
is announced to the live streams (:class:`Changes`) as ``(kind, ticket id or agent id)``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from schemas.directory import Agent, CustomerRecord
from schemas.events import TicketEvent
from schemas.message import InboundMessage
from schemas.ticket import Ticket
from tickets.view import TicketView

# A live stream that falls this many changes behind is dropped (the page reconnects and
# reloads); the feed never waits for a slow browser.
CHANGE_BUFFER = 1000

Change = tuple[str, str]


class Changes:
    """Fan-out of changes to the open live streams."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Change | None]] = set()

    def publish(self, change: Change) -> None:
        for q in list(self._queues):
            try:
                q.put_nowait(change)
            except asyncio.QueueFull:  # too slow: empty it and tell it to start over
                self._queues.discard(q)
                while not q.empty():
                    q.get_nowait()
                q.put_nowait(None)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Change | None]]:
        q: asyncio.Queue[Change | None] = asyncio.Queue(CHANGE_BUFFER)
        self._queues.add(q)
        try:
            yield q
        finally:
            self._queues.discard(q)

    def __len__(self) -> int:
        return len(self._queues)


class ConsoleStore:
    def __init__(self, max_events_per_ticket: int = 5000) -> None:
        self.view = TicketView(max_events_per_ticket)
        self.agents: dict[str, Agent] = {}
        self.customers: dict[str, CustomerRecord] = {}
        self.changes = Changes()
        # every ticket with events, in the order first seen: reports fold over these (a
        # ticket's events may be read before its state, or its state compacted away)
        self.ticket_ids: dict[str, None] = {}
        # message id -> where its raw mail lies (raw.email/<partition>/<offset>), from the
        # messages topic: attachments are read back from there, never kept in events
        self.raw_refs: dict[str, str] = {}
        self.events_applied = 0  # a change counter: what is computed from events may be kept

    def apply_state(self, key: str, ticket: Ticket | None) -> None:
        self.view.apply_state(key, ticket)
        self.changes.publish(("ticket", ticket.ticket_id if ticket else key))

    def apply_event(self, event: TicketEvent) -> None:
        self.view.apply_event(event)
        self.ticket_ids.setdefault(event.ticket_id)
        self.events_applied += 1
        self.changes.publish(("event", event.ticket_id))

    def apply_agent(self, key: str, agent: Agent | None) -> None:
        if agent is None or agent.deleted:
            self.agents.pop(key, None)
        else:
            self.agents[agent.agent_id] = agent
        self.changes.publish(("agent", key))

    def apply_customer(self, key: str, customer: CustomerRecord | None) -> None:
        if customer is None or customer.deleted:
            self.customers.pop(key, None)
        else:
            self.customers[customer.customer_id] = customer

    def apply_message(self, message: InboundMessage) -> None:
        if message.raw_ref:
            self.raw_refs[message.message_id] = message.raw_ref

    def agent(self, agent_id: str) -> Agent | None:
        return self.agents.get(agent_id)

    def all_events(self) -> Iterator[TicketEvent]:
        """Every event held, ticket by ticket, each ticket's in log order."""
        for ticket_id in list(self.ticket_ids):
            yield from self.view.events(ticket_id)
