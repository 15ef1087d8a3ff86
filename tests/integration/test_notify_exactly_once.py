"""kill -9 of the notifier mid-batch, on the real broker with the real runner and a real SMTP
server: after a second worker took over, every ack was delivered, and counted at the sink by
Message-ID, each exactly once — except those the sent-log shows *in doubt* at the kill (relay
accepted, final record not yet written), which were sent again with the same Message-ID and
so collapse into one message at any receiver that dedupes by Message-ID."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from notify.ack_policy import ack_notification_id
from notify.compose import Composer
from notify.render import BUNDLED, load_templates
from notify.stage import token_maker
from schemas.message import Address
from schemas.notification import Notification, NotificationResult
from schemas.topics import NOTIFY_SENTLOG, TICKET_EVENTS
from tests.support.kafka import produce, values_to_end
from tests.support.notify_builders import KEY, created, message, settings, sla
from tests.support.notify_sink import SmtpSink

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
TICKETS = 40


def _worker(conn, port: int) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.notify_worker", conn.bootstrap_servers,
         conn.topic_prefix, str(port)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _expected_message_ids() -> dict[str, str]:
    composer = Composer(load_templates(BUNDLED), settings(), token_maker(KEY))
    out = {}
    for i in range(TICKETS):
        tid = f"t{i:06d}"
        n = Notification(notification_id=ack_notification_id(tid), kind="auto-ack",
                         channel="email", ticket_id=tid, ticket_number="x",
                         created_at=datetime.now(UTC), recipient=Address(address="a@b.c"))
        out[composer.message_id(n)] = tid
    return out


def _wait(predicate, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_kill_9_mid_batch_delivers_every_ack_exactly_once(kafka_conn) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    records = []
    for i in range(TICKETS):
        tid = f"t{i:06d}"
        for e in (created(tid, requester=f"c{i}@example.com", at=now),
                  message(tid, author=f"c{i}@example.com", at=now, mid=f"<in{i}@example.com>"),
                  sla(tid, None, at=now)):
            records.append((tid.encode(), e))
    asyncio.run(produce(kafka_conn, TICKET_EVENTS, records))
    expected = _expected_message_ids()

    with SmtpSink() as sink:
        sink.set_mode("slow", delay_s=0.05)  # so that the kill lands mid-batch
        first = _worker(kafka_conn, sink.port)
        try:
            assert _wait(lambda: len(sink.received) >= TICKETS // 4, 120), (
                first.stderr.read().decode() if first.poll() is not None else "no mail")
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        at_kill = sink.handler.counts()
        assert 0 < sum(at_kill.values()) < TICKETS  # really mid-batch

        sentlog: list[NotificationResult] = asyncio.run(values_to_end(kafka_conn, NOTIFY_SENTLOG))
        last: dict[str, NotificationResult] = {}
        for r in sentlog:
            last[r.notification_id] = r
        in_doubt = {r.message_id for r in last.values() if r.phase == "intent"}

        sink.set_mode("ok")
        second = _worker(kafka_conn, sink.port)
        try:
            done = _wait(lambda: set(sink.handler.counts()) >= set(expected), 120)
            assert done, (len(sink.handler.counts()), second.poll(),
                          second.stderr.read().decode()[-3000:] if second.poll() else "")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(_acked(kafka_conn)) < TICKETS:
                time.sleep(0.5)
        finally:
            second.send_signal(signal.SIGTERM)
            try:
                second.wait(20)
            except subprocess.TimeoutExpired:
                second.kill()
                second.wait(5)

    counts = sink.handler.counts()
    assert set(counts) == set(expected)  # every ack, nothing else
    twice = {mid for mid, c in counts.items() if c > 1}
    assert all(counts[mid] == 2 for mid in twice)
    assert twice <= in_doubt  # only the in-doubt ones, resent with the same Message-ID
    # intents are written for as many sends as run at once (send_concurrency=2), so a kill
    # leaves at most that many in doubt (it was every unsent ack of the batch: 6 of 40 here);
    # a duplicate needs the kill inside one SMTP transaction's window
    assert len(in_doubt) <= 2
    assert len(twice) <= 2  # at most one per SMTP connection in flight (pool_size=2)

    events = [e for e in asyncio.run(values_to_end(kafka_conn, TICKET_EVENTS))
              if e.kind == "ack-sent"]
    ids = Counter(e.event_id for e in events)
    assert max(ids.values()) == 1, "an ack-sent event is in the log twice"  # issue #17 item 5
    assert {e.ticket_id for e in events} == set(expected.values())
    resent = [e for e in events if e.payload.resent]
    # a resend is the exception, marked on its event: only what the kill left in doubt
    assert {e.payload.message_id for e in resent} <= in_doubt
    per_ticket = Counter(e.ticket_id for e in events if not e.payload.resent)
    assert max(per_ticket.values()) == 1
    print(f"acks {len(expected)}, in doubt at the kill {len(in_doubt)}, resent {len(resent)}, "
          f"received twice {len(twice)}, ack-sent events {len(events)}")


def _acked(conn) -> dict[str, str]:  # type: ignore[no-untyped-def]
    events = asyncio.run(values_to_end(conn, TICKET_EVENTS))
    return {e.event_id: e.ticket_id for e in events if e.kind == "ack-sent"}
