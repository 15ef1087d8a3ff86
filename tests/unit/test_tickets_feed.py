"""``TicketFeed`` over the TopicIO port, with an in-memory reader: what the stage wrote is what
the view shows, and what does not decode is counted, never applied."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime

from schemas.stage import NoTopicIO, Out, TopicReader, TopicRecord
from schemas.topics import TICKET_EVENTS, TICKET_STATE, TICKETS_BIN, TopicSpec
from tests.support.tickets_builders import email, feed, make_stage, mid, view_of
from tickets.feed import TicketFeed, load_view
from tickets.view import TicketView


class ListReader:
    """Hands over ``backlog`` in one catch-up batch, then ``live`` one record a poll."""

    def __init__(self, backlog: list[TopicRecord], live: list[TopicRecord]) -> None:
        self.backlog = backlog
        self.live = live
        self.closed = False
        self.drained = asyncio.Event()  # every live record handed over
        self.missing: tuple[TopicSpec, ...] = ()

    def written_before_open(self, record: TopicRecord) -> bool:
        return record in self.backlog

    async def catch_up(self) -> AsyncIterator[list[TopicRecord]]:
        yield self.backlog

    async def poll(self, timeout_s: float) -> list[TopicRecord]:
        await asyncio.sleep(0)  # a real poll waits for the broker: let others run
        if not self.live:
            self.drained.set()
            return []
        return [self.live.pop(0)]

    async def close(self) -> None:
        self.closed = True


class ListTopics(NoTopicIO):
    def __init__(self, reader: ListReader) -> None:
        self.reader = reader
        self.opened: list[TopicSpec] = []

    async def open_reader(self, specs: Sequence[TopicSpec], timeout_s: float, *,
                          since: Mapping[TopicSpec, datetime] | None = None) -> TopicReader:
        self.opened = list(specs)
        return self.reader


def _records(outs: Sequence[Out]) -> list[TopicRecord]:
    return [TopicRecord(o.topic, o.key, o.value, b"{}", 0, i)
            for i, o in enumerate(outs) if o.topic.name in (TICKET_STATE.name, TICKET_EVENTS.name)]


def _bad(spec: TopicSpec, key: bytes | None) -> TopicRecord:
    return TopicRecord(spec, key, None, b"not json", 0, 99, (), "not JSON")


def test_the_view_shows_what_the_stage_wrote_and_counts_what_does_not_decode() -> None:
    outs = feed(make_stage(), [email("a1", text="It is on fire"),
                               email("a2", references=[mid("a1")], minutes=30)])
    backlog = [_bad(TICKET_STATE, b"x"), *_records(outs), _bad(TICKET_EVENTS, b"y"),
               _bad(TICKET_STATE, None)]  # a keyless state record is no ticket at all
    topics = ListTopics(ListReader(backlog, []))
    ticket_feed = TicketFeed(topics, TicketView())

    async def go() -> None:
        await ticket_feed.start(5.0)
        await ticket_feed.stop()

    asyncio.run(go())
    view, expected = ticket_feed.view, view_of(outs)
    (ticket,) = view.tickets()
    assert [t.ticket_id for t in expected.tickets()] == [ticket.ticket_id]
    assert view.events(ticket.ticket_id) == expected.events(ticket.ticket_id)
    assert len(view.events(ticket.ticket_id)) >= 2
    assert ticket_feed.skipped == 2
    assert topics.opened == [TICKET_STATE, TICKET_EVENTS, TICKETS_BIN]
    assert topics.reader.closed


def test_load_view_reads_to_the_end_and_closes_the_reader() -> None:
    outs = feed(make_stage(), [email("a1")])
    topics = ListTopics(ListReader(_records(outs), []))
    view = asyncio.run(load_view(topics, 5.0, 100))
    assert len(view) == 1 and topics.reader.closed


def test_following_applies_what_arrives_after_the_catch_up() -> None:
    stage = make_stage()
    first = _records(feed(stage, [email("a1")]))
    later = _records(feed(stage, [email("b1", "bob@example.org", subject="Other")]))
    reader = ListReader(first, later)
    ticket_feed = TicketFeed(ListTopics(reader), TicketView())

    async def go() -> tuple[int, int]:
        await ticket_feed.start(5.0)
        before = len(ticket_feed.view)
        stop = asyncio.Event()
        task = asyncio.create_task(ticket_feed.follow(stop))
        await asyncio.wait_for(reader.drained.wait(), 5)
        stop.set()
        await task
        await ticket_feed.stop()
        return before, len(ticket_feed.view)

    assert asyncio.run(go()) == (1, 2)
    assert ticket_feed.skipped == 0 and reader.closed
