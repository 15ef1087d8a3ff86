"""``helpline dev``'s ticket watcher on the real broker: it prints each ticket's events from the
beginning of ticket.events, passes over what does not decode, and stops once enough tickets
were classified, assigned and acknowledged."""

from __future__ import annotations

import asyncio

import pytest

from runtime.dev import watch_tickets
from schemas.notification import AckSent
from schemas.route_events import Assigned
from schemas.stage import KafkaConnection
from schemas.topics import TICKET_EVENTS
from tests.support.kafka import produce, produce_raw
from tests.support.route_builders import T0, classified, created, event

pytestmark = pytest.mark.integration


def test_the_watcher_prints_each_tickets_events_and_stops_when_done(
    kafka_conn: KafkaConnection, capsys: pytest.CaptureFixture[str]
) -> None:
    done = [created("t1"), classified("t1", category="billing", team="money"),
            event("t1", Assigned(agent_id="a1", team="money", strategy="round-robin"), T0),
            event("t1", AckSent(notification_id="n1", channel="email"), T0)]

    async def go() -> None:
        await produce(kafka_conn, TICKET_EVENTS, [(b"t2", created("t2"))])
        await produce_raw(kafka_conn, TICKET_EVENTS, [(b"t1", b"not json")])
        await produce(kafka_conn, TICKET_EVENTS, [(b"t1", e) for e in done])
        kinds = await watch_tickets(kafka_conn, want=1, timeout_s=60)
        assert kinds["Nt1"] == {"created", "classified", "assigned", "ack-sent"}
        out = capsys.readouterr().out
        assert "[Nt1] assigned        to a1 (team money, round-robin)" in out
        assert "[Nt1] classified      category=billing" in out
        assert "[Nt1] ack-sent        auto-acknowledgement sent by email" in out

    asyncio.run(go())
