"""Builders of ticket events as the tickets stage writes them, for classify tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from classify.classifier import Classifier
from classify.language import LanguageDetection
from classify.settings import ClassifySettings
from classify.stage import ClassifyStage
from runtime.runner import StageRunner
from runtime.settings import RunnerSettings
from schemas.classify_events import Classified
from schemas.directory import CustomerRecord
from schemas.events import Actor, Created, MessageAdded, TicketEvent
from schemas.message import Address, Attachment, Channel
from schemas.stage import In, KafkaConnection
from schemas.topics import CUSTOMERS, TICKET_EVENTS
from tests.support.kafka import Consumed, produce, read_topic

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Paris
CUSTOMER = Actor(kind="customer", id="c1")


def opened(ticket: str, subject: str, text: str, *, channel: Channel = "email",
           sender: str = "marie@client.fr", customer_id: str = "c1",
           at: datetime = T0, attachments: tuple[str, ...] = ()) -> list[TicketEvent]:
    """``created`` + the first inbound ``message-added``, sharing the message as their cause."""
    cause = f"m-{ticket}-1"
    created = TicketEvent(
        event_id=f"e-{ticket}-created", ticket_id=ticket, ticket_number=f"HL-{ticket}", at=at,
        actor=CUSTOMER, causation_id=cause,
        payload=Created(number=f"HL-{ticket}", subject=subject, channel=channel,
                        mailbox="support@helpline.example", customer_id=customer_id,
                        requester=Address(address=sender)),
    )
    return [created, message(ticket, 1, text, subject=subject, channel=channel, sender=sender,
                             customer_id=customer_id, at=at, attachments=attachments)]


def message(ticket: str, n: int, text: str, *, subject: str = "", channel: Channel = "email",
            sender: str = "marie@client.fr", customer_id: str = "c1", at: datetime = T0,
            direction: str = "inbound", attachments: tuple[str, ...] = (),
            auto_reply: bool = False) -> TicketEvent:
    from schemas.message import MessageFlags

    cause = f"m-{ticket}-{n}"
    return TicketEvent(
        event_id=f"e-{ticket}-msg-{n}", ticket_id=ticket, ticket_number=f"HL-{ticket}",
        at=at + timedelta(seconds=n), actor=CUSTOMER, causation_id=cause,
        payload=MessageAdded(
            message_id=cause, direction=direction,  # type: ignore[arg-type]
            channel=channel, author=Address(address=sender), received_at=at,
            subject=subject, text=text, customer_id=customer_id,
            attachments=tuple(Attachment(filename=a, content_type="application/pdf", size=10,
                                         sha256="0" * 64) for a in attachments),
            flags=MessageFlags(auto_reply=auto_reply),
        ),
    )


def records(events: list[TicketEvent]) -> list[In]:
    return [In(TICKET_EVENTS, e.ticket_id.encode(), e, offset=i) for i, e in enumerate(events)]


def classified(records: list[Consumed]) -> dict[str, Classified]:
    """The ``classified`` payload of each ticket among records read from ticket.events."""
    return {r.value.ticket_id: r.value.payload for r in records
            if isinstance(r.value.payload, Classified)}


async def until(done: Callable[[], bool], task: asyncio.Task[None], limit_s: float) -> None:
    """Wait for ``done`` (at most ``limit_s``), raising what ``task`` died of if it did."""
    deadline = asyncio.get_running_loop().time() + limit_s
    while not done() and asyncio.get_running_loop().time() < deadline:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)


@asynccontextmanager
async def classify_running(conn: KafkaConnection) -> AsyncIterator[
        tuple[ClassifyStage, StageRunner, asyncio.Task[None]]]:
    """A classify stage (rules only, from the rules topic) running on ``conn``; stopped after."""
    stage = ClassifyStage(Classifier(LanguageDetection()), ClassifySettings())
    runner = StageRunner(stage, conn, RunnerSettings(batch_timeout_ms=20))
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        yield stage, runner, task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def classify_first_ticket(conn: KafkaConnection, runner: StageRunner,
                                task: asyncio.Task[None]) -> Classified:
    """A CEO customer's ticket about an overheating phone, through the running stage: its
    ``classified`` payload (the example rules make it hardware / high / Senior management)."""
    await produce(conn, CUSTOMERS, [(b"c1", CustomerRecord(customer_id="c1", title="CEO"))])
    first = opened("t1", "Le téléphone chauffe", "Bonjour, LE TELEPHONE CHAUFFE encore.")
    await produce(conn, TICKET_EVENTS, [(e.ticket_id.encode(), e) for e in first])
    await until(lambda: runner.status.records_in >= 2, task, 60)
    c = classified(await read_topic(conn, TICKET_EVENTS, expect=3))["t1"]
    assert (c.team, c.priority, c.category) == ("Senior management", "high", "hardware")
    assert [m.rule_id for m in c.matched_rules] == ["phone-overheating", "ceo"]
    return c


async def classify_second_ticket(conn: KafkaConnection, runner: StageRunner,
                                 task: asyncio.Task[None]) -> Classified:
    """A plain question after the first ticket: its ``classified`` payload."""
    second = opened("t2", "Question", "Where is my invoice?")
    await produce(conn, TICKET_EVENTS, [(e.ticket_id.encode(), e) for e in second])
    await until(lambda: runner.status.records_in >= 5, task, 60)
    return classified(await read_topic(conn, TICKET_EVENTS, expect=6))["t2"]
