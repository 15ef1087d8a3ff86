"""Keeping a :class:`~console.store.ConsoleStore` current from the broker (imperative shell):
``ticket.state``, ``ticket.events``, ``agents``, ``customers`` and ``messages`` (where each
message's raw mail lies, for attachment downloads) read from their beginning
without a consumer group (nothing is committed), first to their end, then live."""

from __future__ import annotations

import asyncio

from console.store import ConsoleStore
from schemas.stage import TopicIO, TopicReader, TopicRecord
from schemas.topics import AGENTS, CUSTOMERS, MESSAGES, TICKET_EVENTS, TICKET_STATE

FOLLOW_POLL_S = 0.5  # a poll for new records once caught up
TOPICS = (TICKET_STATE, TICKET_EVENTS, AGENTS, CUSTOMERS, MESSAGES)


class ConsoleFeed:
    def __init__(self, topics: TopicIO, store: ConsoleStore) -> None:
        self.topics = topics
        self.store = store
        self.skipped = 0  # undecodable records (they stay in the log)
        self._reader: TopicReader | None = None

    async def start(self, timeout_s: float) -> None:
        self._reader = await self.topics.open_reader(TOPICS, timeout_s)
        async for records in self._reader.catch_up():
            self.apply(records)

    async def follow(self, stop: asyncio.Event) -> None:
        assert self._reader is not None
        while not stop.is_set():
            self.apply(await self._reader.poll(FOLLOW_POLL_S))

    async def stop(self) -> None:
        if self._reader is not None:
            await self._reader.close()
            self._reader = None

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
