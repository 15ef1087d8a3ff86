"""A tickets worker frozen mid-stream (SIGSTOP: a long pause, a VM migration, a partition from
the group) is replaced by its standby; when it wakes up (SIGCONT) it still holds records it
fetched before the pause and a batch in flight. Its writes are fenced: nothing it writes after
the takeover reaches a reader, it stops with the fencing error (or, if the group told it first,
stands by), and the log stays one writer's at a time with every message on one ticket once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter

import pytest

from schemas.stage import KafkaConnection
from schemas.ticket import Ticket
from schemas.topics import MESSAGES, TICKET_STATE
from tests.integration.test_tickets_standby import (
    events_now,
    start_active_and_standby,
    thread,
)
from tests.support.kafka import produce, read_to_end
from tests.support.processes import state_of, stop, wait_until

pytestmark = pytest.mark.integration


def test_a_frozen_worker_that_wakes_up_after_the_takeover_writes_nothing(
    kafka_conn: KafkaConnection,
) -> None:
    senders = [f"user{i}@example.org" for i in range(6)]
    threads = {s: thread(f"t{i}", s, replies=9) for i, s in enumerate(senders)}
    first = [m for msgs in threads.values() for m in msgs[:2]]
    rest = [m for msgs in threads.values() for m in msgs[2:]]

    a, b, port_a, port_b = start_active_and_standby(kafka_conn, first)
    try:
        asyncio.run(produce(kafka_conn, MESSAGES, [(m.partition_key, m) for m in rest]))
        # a works through them two at a time...
        os.kill(a.pid, signal.SIGSTOP)  # ...and freezes with some fetched, some in flight
        wait_until(lambda: state_of(port_b) == "running", "worker b never took over")
        expected = len(first) + len(rest) + len(threads)  # message-added each, created each
        wait_until(lambda: len({e.value.event_id for e in events_now(kafka_conn)})
                   >= expected, "worker b did not process the rest", timeout_s=60)
        os.kill(a.pid, signal.SIGCONT)  # a wakes up with its old term's work in hand
        wait_until(lambda: a.poll() is not None or state_of(port_a) == "standby",
                   "worker a neither stopped nor stood by", timeout_s=60)
        time.sleep(1.0)  # anything a still managed to write would be there now
        events = events_now(kafka_conn)
        states = asyncio.run(read_to_end(kafka_conn, TICKET_STATE))
    finally:
        if a.poll() is None:
            os.kill(a.pid, signal.SIGCONT)
        stop(a, kill=True)
        stop(b, kill=False)

    if a.returncode not in (None, -signal.SIGKILL):  # it stopped by itself: fenced
        assert a.stderr is not None
        assert a.returncode == 1, a.returncode
        assert b"another replica became the active writer" in a.stderr.read()

    distinct = {e.value.event_id: e.value for e in events}
    assert len(events) == len(distinct)  # exactly once in the log (what a wrote was aborted)
    added = [e for e in distinct.values() if e.kind == "message-added"]
    assert Counter(e.payload.message_id for e in added) == Counter(
        m.message_id for m in first + rest)  # every message once
    assert Counter(e.kind for e in distinct.values())["created"] == len(threads)
    last: dict[bytes, Ticket] = {s.key: s.value for s in states}
    assert len(last) == len(threads)
    numbers = [t.number for t in last.values()]
    assert len(set(numbers)) == len(numbers)
    # one writer at a time: on every partition a's committed writes, then b's, never a's
    # again after b's (without fencing, a writes what it fetched before the pause after b)
    writers: dict[int, list[bytes]] = {}
    for e in sorted(events, key=lambda e: (e.partition, e.offset)):
        writers.setdefault(e.partition, []).append(dict(e.headers).get("helpline-instance", b""))
    assert any(b"tickets/b" in w for w in writers.values())
    for w in writers.values():
        assert w == sorted(w), w
