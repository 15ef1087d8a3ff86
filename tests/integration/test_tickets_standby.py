"""Two tickets workers, as an SRE scaling the stage to two replicas runs them: one is active
(every partition), the other a warm standby that writes nothing. The active is killed (SIGKILL)
mid-stream; the standby takes over within the group's session timeout, threads replies onto
the tickets the first worker opened (its state was kept current from ``ticket.state``) and
numbers new tickets after them. Every message ends on exactly one ticket, once."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections import Counter

import pytest

from schemas.message import InboundMessage
from schemas.stage import KafkaConnection
from schemas.ticket import Ticket
from schemas.topics import MESSAGES, TICKET_EVENTS, TICKET_STATE
from tests.support import processes
from tests.support.kafka import produce, read_to_end
from tests.support.notify_sink import free_port
from tests.support.processes import state_of, stop, wait_until
from tests.support.tickets_builders import email, mid

pytestmark = pytest.mark.integration

SESSION_TIMEOUT_MS = 6000  # the broker's lowest allowed: takeover after a kill -9 waits this


def thread(name: str, sender: str, replies: int, start_minute: int = 0) -> list[InboundMessage]:
    msgs = [email(name, sender, subject=f"{name} broken", minutes=start_minute)]
    chain = [mid(name)]
    for i in range(1, replies + 1):
        msgs.append(email(f"{name}-r{i}", sender, subject=f"Re: {name} broken",
                          minutes=start_minute + i, in_reply_to=chain[-1:],
                          references=list(chain)))
        chain.append(mid(f"{name}-r{i}"))
    return msgs


def start_worker(conn: KafkaConnection, instance: str, port: int) -> subprocess.Popen[bytes]:
    return processes.start_worker(conn, "tickets", instance, {
        "HELPLINE_RUNNER__BATCH_MAX_RECORDS": "2",  # small batches: the kill lands mid-stream
        "HELPLINE_RUNNER__SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
        "HELPLINE_OBSERVABILITY__HTTP_PORT": str(port),
        "HELPLINE_OBSERVABILITY__LOG_LEVEL": "WARNING",
    })


def start_active_and_standby(
    conn: KafkaConnection, first: list[InboundMessage]
) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], int, int]:
    """Worker a running with ``first`` processed, then worker b standing by: (a, b, their
    health ports). Both stopped again if that does not come about."""
    port_a, port_b = free_port(), free_port()
    a = start_worker(conn, "a", port_a)
    b: subprocess.Popen[bytes] | None = None
    try:
        wait_until(lambda: state_of(port_a) == "running", "worker a never ran")
        asyncio.run(produce(conn, MESSAGES, [(m.partition_key, m) for m in first]))
        wait_until(lambda: len({e.value.event_id for e in events_now(conn)}) >= 18,
                   "worker a did not process the first messages")
        b = start_worker(conn, "b", port_b)
        wait_until(lambda: state_of(port_b) == "standby", "worker b did not become a standby")
    except BaseException:
        stop(a, kill=True)
        if b is not None:
            stop(b, kill=True)
        raise
    return a, b, port_a, port_b


def events_now(conn: KafkaConnection) -> list:
    return asyncio.run(read_to_end(conn, TICKET_EVENTS))


def test_standby_takes_over_a_killed_active_worker(kafka_conn: KafkaConnection) -> None:
    senders = [f"user{i}@example.org" for i in range(6)]  # several keys: several partitions
    threads = {s: thread(f"t{i}", s, replies=4) for i, s in enumerate(senders)}
    first = [m for msgs in threads.values() for m in msgs[:2]]  # root + one reply each
    second = [m for msgs in threads.values() for m in msgs[2:]]  # replies after the kill
    late = [email(f"late{i}", f"new{i}@example.org", subject="New problem", minutes=30)
            for i in range(3)]

    def feed(batch: list[InboundMessage]) -> None:
        asyncio.run(produce(kafka_conn, MESSAGES, [(m.partition_key, m) for m in batch]))

    a, b, port_a, port_b = start_active_and_standby(kafka_conn, first)
    try:
        assert state_of(port_a) == "running"  # sticky: joining standbys do not move the work
        written = len(events_now(kafka_conn))
        feed(second[:6])  # processed by a while b stands by
        wait_until(lambda: len(events_now(kafka_conn)) >= written + 6, "a stopped working")

        stop(a, kill=True)  # no goodbye to the group: b waits out the session timeout
        feed(second[6:] + late)
        wait_until(lambda: state_of(port_b) == "running", "worker b never took over",
                   timeout_s=60)
        total = len(first) + len(second) + len(late)
        expected_events = total + len(threads) + len(late)  # message-added each, created each
        wait_until(lambda: len({e.value.event_id for e in events_now(kafka_conn)})
                   >= expected_events, "worker b did not process the rest", timeout_s=60)
        time.sleep(1.0)  # nothing more should come
        events = events_now(kafka_conn)
        states = asyncio.run(read_to_end(kafka_conn, TICKET_STATE))
    finally:
        stop(a, kill=True)
        stop(b, kill=False)

    distinct = {e.value.event_id: e.value for e in events}
    kinds = Counter(e.kind for e in distinct.values())
    assert kinds["created"] == len(threads) + len(late), kinds
    added = [e for e in distinct.values() if e.kind == "message-added"]
    assert Counter(e.payload.message_id for e in added) == Counter(
        m.message_id for m in first + second + late)  # every message once
    by_root = {msgs[0].message_id: msgs for msgs in threads.values()}
    ticket_of = {e.payload.message_id: e.ticket_id for e in added}
    for root, msgs in by_root.items():  # replies handled by b are on a's tickets
        assert {ticket_of[m.message_id] for m in msgs} == {ticket_of[root]}
    last: dict[bytes, Ticket] = {s.key: s.value for s in states}
    numbers = [t.number for t in last.values()]
    assert len(last) == len(threads) + len(late) and len(set(numbers)) == len(numbers)
    for ticket in last.values():  # state holds each message once
        assert len(ticket.message_ids) == len(set(ticket.message_ids))
    # exactly once in the log: a's batches and their input offsets were committed together,
    # the batch it was killed in was aborted, and b went on from a's last commit
    assert len(events) == len(distinct)
    # the standby wrote nothing while a was alive: on every partition of the log, a's writes
    # come first, then b's, never interleaved
    writers: dict[int, list[bytes]] = {}
    for e in sorted(events, key=lambda e: (e.partition, e.offset)):
        writers.setdefault(e.partition, []).append(dict(e.headers).get("helpline-instance", b""))
    assert sum(w.count(b"tickets/a") for w in writers.values()) >= 18 + 6
    assert any(b"tickets/b" in w for w in writers.values())
    for w in writers.values():
        assert w == sorted(w), w  # b"tickets/a" < b"tickets/b": a's run, then b's
