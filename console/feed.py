"""Keeping a :class:`~console.store.ConsoleStore` current from the broker (imperative shell):
``ticket.state``, ``ticket.events``, ``agents``, ``customers`` and ``messages`` (where each
message's raw mail lies, for attachment downloads) read from their beginning
without a consumer group (nothing is committed), first to their end, then live."""

from __future__ import annotations

from console.store import ConsoleStore
from schemas.stage import TopicIO, TopicRecord
from schemas.topics import AGENTS, CUSTOMERS, MESSAGES, TICKET_EVENTS, TICKET_STATE
from tickets.feed import TopicFollower


class ConsoleFeed(TopicFollower):
    read = (TICKET_STATE, TICKET_EVENTS, AGENTS, CUSTOMERS, MESSAGES)

    def __init__(self, topics: TopicIO, store: ConsoleStore) -> None:
        super().__init__(topics)
        self.store = store

    def apply(self, records: list[TopicRecord]) -> None:
        for r in records:
            name = r.topic.name
            if r.error is not None:
                self.skipped += 1
                continue
            if name == TICKET_EVENTS.name:
                if r.value is not None:
                    self.store.apply_event(r.value)
                continue
            if name == MESSAGES.name:
                if r.value is not None:
                    self.store.apply_message(r.value)
                continue
            if r.key is None:
                continue
            try:
                key = r.key.decode()
            except UnicodeDecodeError:
                self.skipped += 1
                continue
            if name == TICKET_STATE.name:
                self.store.apply_state(key, r.value)
            elif name == AGENTS.name:
                self.store.apply_agent(key, r.value)
            elif name == CUSTOMERS.name:
                self.store.apply_customer(key, r.value)
