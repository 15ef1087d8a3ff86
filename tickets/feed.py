"""Feeding a :class:`~tickets.view.TicketView` from the broker (imperative shell).

Reads ``ticket.state`` and ``ticket.events`` from the beginning without a consumer group (a
view never commits anything), first up to the end offsets seen at start (``catch_up``), then
live (``follow``).
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.codec import DecodeError, decoder
from schemas.events import TicketEvent
from schemas.stage import KafkaConnection
from schemas.ticket import Ticket
from schemas.topics import TICKET_EVENTS, TICKET_STATE
from tickets.view import TicketView


class TicketFeed:
    def __init__(self, conn: KafkaConnection, view: TicketView) -> None:
        self.conn = conn
        self.view = view
        self._state_topic = conn.topic(TICKET_STATE)
        self._events_topic = conn.topic(TICKET_EVENTS)
        self._ticket = decoder(Ticket)
        self._event = decoder(TicketEvent)
        self.skipped = 0  # undecodable records (they stay in the log)
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self, timeout_s: float) -> None:
        consumer = AIOKafkaConsumer(**self.conn.options(), enable_auto_commit=False,
                                    isolation_level="read_committed",
                                    auto_offset_reset="earliest")
        await consumer.start()
        self._consumer = consumer
        tps: list[TopicPartition] = []
        deadline = time.monotonic() + timeout_s
        for name in (self._state_topic, self._events_topic):
            parts = consumer.partitions_for_topic(name)
            while not parts and time.monotonic() < deadline:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(name)
                if not parts:
                    await asyncio.sleep(0.2)
            tps.extend(TopicPartition(name, p) for p in sorted(parts or ()))
        # Both ends asked before assign(): afterwards an offsets request waits behind the
        # fetcher's long poll (~0.5 s per query). Gone offsets reset to the earliest.
        begins = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, begins[tp])
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending and time.monotonic() < deadline:
            await self._poll(200)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        if pending:
            raise TimeoutError(f"ticket topics not read to their end within {timeout_s}s")

    async def follow(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._poll(500)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def _poll(self, timeout_ms: int) -> None:
        assert self._consumer is not None
        batch = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=5000)
        for tp, msgs in batch.items():
            state = tp.topic == self._state_topic
            for m in msgs:
                try:
                    if state:
                        if m.key is not None:
                            value = self._ticket(m.value) if m.value is not None else None
                            self.view.apply_state(m.key.decode(), value)
                    elif m.value is not None:
                        self.view.apply_event(self._event(m.value))
                except (DecodeError, UnicodeDecodeError):
                    self.skipped += 1


async def load_view(conn: KafkaConnection, timeout_s: float, max_events: int) -> TicketView:
    """A view read up to the current end of both topics (for one-shot CLI queries)."""
    view = TicketView(max_events)
    feed = TicketFeed(conn, view)
    try:
        await feed.start(timeout_s)
    finally:
        await feed.stop()
    return view
