"""Feeding a :class:`~tickets.view.TicketView` from the broker (imperative shell).

Reads ``ticket.state``, ``ticket.events`` and ``tickets.bin`` from the beginning without a
consumer group (a view never commits anything), first up to the end offsets seen at start
(``catch_up``), then live (``follow``), through the runtime's :class:`~schemas.stage.TopicIO`
port.
"""

from __future__ import annotations

import asyncio

from schemas.bin import BinnedMessage
from schemas.stage import TopicIO, TopicReader, TopicRecord
from schemas.topics import TICKET_EVENTS, TICKET_STATE, TICKETS_BIN, TopicSpec
from tickets.view import TicketView

FOLLOW_POLL_S = 0.5  # a poll for new records once caught up


class TopicFollower:
    """Reads ``read`` from the beginning without a consumer group (nothing is committed):
    :meth:`start` up to the end offsets seen then, :meth:`follow` live after that. What a record
    means is the subclass's :meth:`apply`; ``skipped`` counts the undecodable ones it met."""

    read: tuple[TopicSpec, ...] = ()

    def __init__(self, topics: TopicIO) -> None:
        self.topics = topics
        self.skipped = 0  # undecodable records (they stay in the log)
        self._reader: TopicReader | None = None

    async def start(self, timeout_s: float) -> None:
        """Open the topics (waiting for them up to ``timeout_s``) and read them to the end
        offsets seen now; raises TimeoutError when that takes longer than ``timeout_s``."""
        self._reader = await self.topics.open_reader(self.read, timeout_s)
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
        raise NotImplementedError


class TicketFeed(TopicFollower):
    read = (TICKET_STATE, TICKET_EVENTS, TICKETS_BIN)

    def __init__(self, topics: TopicIO, view: TicketView) -> None:
        super().__init__(topics)
        self.view = view

    def apply(self, records: list[TopicRecord]) -> None:
        for r in records:
            if r.topic.name == TICKET_STATE.name:
                if r.key is None:
                    continue
                if r.error is not None:
                    self.skipped += 1
                    continue
                try:
                    key = r.key.decode()
                except UnicodeDecodeError:
                    self.skipped += 1
                    continue
                self.view.apply_state(key, r.value)
            elif r.error is not None:
                self.skipped += 1
            elif isinstance(r.value, BinnedMessage):
                self.view.apply_binned(r.value)
            elif r.value is not None:
                self.view.apply_event(r.value)


async def load_view(topics: TopicIO, timeout_s: float, max_events: int) -> TicketView:
    """A view read up to the current end of both topics (for one-shot CLI queries)."""
    view = TicketView(max_events)
    feed = TicketFeed(topics, view)
    try:
        await feed.start(timeout_s)
    finally:
        await feed.stop()
    return view
