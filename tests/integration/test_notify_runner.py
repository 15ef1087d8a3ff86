"""The notify stage under the real runner on the real broker, in one process: an email ack
decided by the timer (no SLA came), a chat ack into chat.outbound, an alert from the outbox —
each with its records on the right topics, and the sent-log restored by a second runner."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from notify.sentlog import KafkaJournal
from notify.settings import SmtpSettings
from notify.smtp import SmtpPool
from notify.stage import NotifyStage, build
from runtime.runner import StageRunner
from runtime.settings import RunnerSettings
from schemas.topics import CHAT_OUTBOUND, NOTIFY_OUTBOX, NOTIFY_RESULTS, TICKET_EVENTS
from tests.support.kafka import produce, values_to_end
from tests.support.notify_builders import KEY, alert, new_ticket, settings
from tests.support.notify_sink import SmtpSink

pytestmark = pytest.mark.integration


def _stage(conn, port: int) -> NotifyStage:  # type: ignore[no-untyped-def]
    cfg = settings(smtp=SmtpSettings(port=port), sla_wait_s=0.5, tick_interval_s=0.2)
    return build(cfg, transport=SmtpPool(cfg.smtp), webhooks=None,
                 journal=KafkaJournal(conn, linger_ms=0, timeout_s=30), signing_key=KEY)


async def _run_until(conn, stage: NotifyStage, done, timeout_s: float = 60) -> None:  # type: ignore[no-untyped-def]
    stop = asyncio.Event()
    runner = StageRunner(stage, conn, RunnerSettings(batch_timeout_ms=20))
    task = asyncio.create_task(runner.run(stop))
    deadline = time.monotonic() + timeout_s
    try:
        while not await done() and time.monotonic() < deadline:
            assert not task.done(), task.exception()
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await stage.drain()


def test_acks_chat_and_alerts_through_the_runner(kafka_conn) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    events = [*new_ticket("t000001", at=now),  # no SLA will come: the timer acks
              *new_ticket("t000002", at=now, channel="chat", requester="v@example.com",
                          conversation_id="conv-2", mid="<c2@x>")]

    async def scenario(port: int, sink: SmtpSink) -> None:
        await _feed()

        async def done() -> bool:
            results = await values_to_end(kafka_conn, NOTIFY_RESULTS, timeout_s=5)
            return len({r.notification_id for r in results if r.outcome == "sent"}) >= 3

        await _run_until(kafka_conn, _stage(kafka_conn, port), done)
        # the same input again (an upstream replay): a second runner restores the sent-log
        # and sends nothing more
        await _feed()
        await _run_until(kafka_conn, _stage(kafka_conn, port), _after(3.0))

    async def _feed() -> None:
        await produce(kafka_conn, TICKET_EVENTS, [(e.ticket_id.encode(), e) for e in events])
        await produce(kafka_conn, NOTIFY_OUTBOX, [(b"t000001", alert("a1", at=now))])

    with SmtpSink() as sink:
        asyncio.run(scenario(sink.port, sink))
        rcpts = sorted(r.rcpt_tos[0] for r in sink.received)
    assert rcpts == ["alice@example.com", "sup@example.com"]
    chat = asyncio.run(values_to_end(kafka_conn, CHAT_OUTBOUND))
    # the replay re-emits the chat reply identically (same id, same text): the chat service
    # shows it once
    assert {(c.notification_id, c.conversation_id, c.kind, c.text) for c in chat} == {
        (chat[0].notification_id, "conv-2", "auto-ack", chat[0].text)}
    events = asyncio.run(values_to_end(kafka_conn, TICKET_EVENTS))
    acks = [e for e in events if e.kind == "ack-sent"]
    assert sorted({e.ticket_id for e in acks}) == ["t000001", "t000002"]


def _after(seconds: float):  # type: ignore[no-untyped-def]
    start = time.monotonic()

    async def done() -> bool:
        return time.monotonic() - start >= seconds

    return done
