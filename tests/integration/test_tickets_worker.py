"""The tickets worker against a real broker: a conversation of several emails, replies,
duplicate deliveries and an agent reply, with the worker process killed (SIGKILL) mid-way,
ends as exactly one ticket holding every message once."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections import Counter

import pytest

from schemas.message import InboundMessage
from schemas.stage import KafkaConnection
from schemas.ticket import Ticket
from schemas.topics import MESSAGES, NOTIFY_OUTBOX, TICKET_COMMANDS, TICKET_EVENTS, TICKET_STATE
from tests.support import processes
from tests.support.kafka import produce, read_to_end
from tests.support.processes import stop
from tests.support.tickets_builders import action, email, mid

pytestmark = pytest.mark.integration

PEOPLE = ("alice@example.com", "bob@example.com")  # different keys: different partitions


def conversation(n: int) -> list[InboundMessage]:
    """A root mail and n-1 replies, alternating authors who reply to all, full References."""
    msgs = [email("root", PEOPLE[0], cc=[PEOPLE[1]], subject="VPN down")]
    chain = [mid("root")]
    for i in range(1, n):
        sender, other = PEOPLE[i % 2], PEOPLE[(i + 1) % 2]
        msgs.append(email(f"r{i}", sender, cc=[other], subject="Re: VPN down", minutes=i,
                          in_reply_to=chain[-1:], references=list(chain)))
        chain.append(mid(f"r{i}"))
    return msgs


def start_worker(conn: KafkaConnection) -> subprocess.Popen[bytes]:
    return processes.start_worker(conn, "tickets", "it", {
        "HELPLINE_RUNNER__BATCH_MAX_RECORDS": "1",  # one record per batch: a kill lands mid-way
        "HELPLINE_OBSERVABILITY__LOG_LEVEL": "WARNING",
        "HELPLINE_TICKETS__OWN_ADDRESSES": '["support@acme.test"]',
    })


async def wait_for_events(conn: KafkaConnection, at_least: int, timeout_s: float) -> list:
    deadline = time.monotonic() + timeout_s
    while True:
        events = await read_to_end(conn, TICKET_EVENTS)
        if len(events) >= at_least or time.monotonic() > deadline:
            return events
        await asyncio.sleep(0.3)


def test_conversation_survives_a_killed_worker_as_one_ticket(kafka_conn: KafkaConnection) -> None:
    msgs = conversation(30)
    first, second = msgs[:24], msgs[24:]

    async def feed(batch: list[InboundMessage]) -> None:
        # every message twice (two mailboxes / redelivery): it must be added once
        records = [(m.partition_key, m) for m in batch for _ in range(2)]
        await produce(kafka_conn, MESSAGES, records)

    asyncio.run(feed(first))
    worker = start_worker(kafka_conn)
    try:
        # kill -9 as soon as the worker has written part of the log
        early = asyncio.run(wait_for_events(kafka_conn, 2, 60))
        assert early, worker.stderr.read().decode()[-2000:] if worker.poll() is not None else ""
        stop(worker, kill=True)
        asyncio.run(feed(second))
        asyncio.run(produce(kafka_conn, TICKET_COMMANDS, [
            (b"HL-2026-000001", action("agent-cmd-1", "HL-2026-000001", "reply", text="On it"))
        ]))
        worker = start_worker(kafka_conn)
        # created + 30 inbound + outbound + status-changed(new->open) = 33 distinct events
        asyncio.run(wait_for_events(kafka_conn, 33, 120))
        time.sleep(2.0)  # let the worker settle: nothing more should come
        events = asyncio.run(read_to_end(kafka_conn, TICKET_EVENTS))
        states = asyncio.run(read_to_end(kafka_conn, TICKET_STATE))
        outbox = asyncio.run(read_to_end(kafka_conn, NOTIFY_OUTBOX))
    finally:
        stop(worker, kill=False)

    distinct = {e.value.event_id: e.value for e in events}
    tickets = {e.ticket_id for e in distinct.values()}
    assert len(tickets) == 1, Counter(e.kind for e in distinct.values())
    added = [e.payload for e in distinct.values() if e.kind == "message-added"]
    inbound = Counter(p.message_id for p in added if p.direction == "inbound")
    assert sorted(inbound) == sorted(m.message_id for m in msgs)
    assert set(inbound.values()) == {1}
    assert [p.direction for p in added].count("outbound") == 1
    assert Counter(e.kind for e in distinct.values())["created"] == 1
    # one event id, one content: a re-emitted event is byte-identical to the first
    by_id: dict[str, set[bytes]] = {}
    for e in events:
        by_id.setdefault(e.value.event_id, set()).add(e.raw)
    assert all(len(v) == 1 for v in by_id.values())

    last: dict[bytes, Ticket] = {s.key: s.value for s in states}
    (ticket,) = last.values()
    assert ticket.number == "HL-2026-000001" and ticket.inbound_count == 30
    outbound = [p.message_id for p in added if p.direction == "outbound"]
    assert sorted(ticket.message_ids) == sorted([*(m.message_id for m in msgs), *outbound])
    assert set(ticket.participants) == set(PEOPLE)
    assert {n.value.notification_id for n in outbox} and len(
        {n.value.notification_id for n in outbox}) == 1
