"""Builders for tickets tests: inbound messages, agent actions, a stage fed plain records."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.bin import BinnedMessage
from schemas.commands import AgentAction
from schemas.events import TicketEvent
from schemas.message import Address, Bounce, InboundMessage, MessageFlags
from schemas.stage import In, Out
from schemas.topics import (
    MESSAGES,
    TICKET_COMMANDS,
    TICKET_EVENTS,
    TICKET_STATE,
    TICKETS_BIN,
)
from tickets.settings import TicketsSettings
from tickets.stage import TicketsStage
from tickets.view import TicketView

KEY = b"k" * 32
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def mid(name: str) -> str:
    """A Message-ID for a short name."""
    return f"<{name}@mail.example>"


def email(
    name: str, sender: str = "alice@example.com", subject: str = "Printer on fire",
    *, in_reply_to: Sequence[str] = (), references: Sequence[str] = (),
    at: datetime | None = None, minutes: int = 0, to: Sequence[str] = ("support@acme.test",),
    cc: Sequence[str] = (), bounce: Bounce | None = None, auto_reply: bool = False,
    text: str = "hello",
) -> InboundMessage:
    """An inbound email whose Message-ID is ``<name@mail.example>``."""
    return InboundMessage(
        message_id="m" + hashlib.sha256(name.encode()).hexdigest()[:20],
        channel="email", mailbox="support", received_at=(at or T0) + timedelta(minutes=minutes),
        sender=Address(name=sender.split("@")[0].title(), address=sender),
        to=tuple(Address(address=a) for a in to), cc=tuple(Address(address=a) for a in cc),
        subject=subject, internet_message_id=mid(name), in_reply_to=tuple(in_reply_to),
        references=tuple(references), text=text,
        flags=MessageFlags(bounce=bounce, auto_reply=auto_reply),
    )


def chat(
    name: str, conversation: str, visitor: str = "v1", *, verified: str | None = None,
    minutes: int = 0, sender_email: str = "",
) -> InboundMessage:
    return InboundMessage(
        message_id="c" + hashlib.sha256(name.encode()).hexdigest()[:20], channel="chat",
        mailbox="site1", received_at=T0 + timedelta(minutes=minutes),
        sender=Address(name="Visitor", address=sender_email), text=name,
        conversation_id=conversation, visitor_id=visitor, verified_identifier=verified,
    )


def action(
    command_id: str, ticket: str, action: str, *, minutes: int = 5, **kw: Any
) -> AgentAction:
    return AgentAction(
        command_id=command_id, ticket_id=ticket, action=action,  # type: ignore[arg-type]
        agent_id=kw.pop("agent_id", "agent-1"), at=T0 + timedelta(minutes=minutes), **kw,
    )


def make_stage(stride: int = 4, **settings: Any) -> TicketsStage:
    return TicketsStage(TicketsSettings(**settings), KEY, stride)


def records(values: Iterable[Any], partition: int = 0) -> list[In]:
    out = []
    for i, v in enumerate(values):
        topic = (
            TICKETS_BIN if isinstance(v, BinnedMessage)
            else MESSAGES if isinstance(v, InboundMessage)
            else TICKET_COMMANDS if isinstance(v, AgentAction) else TICKET_EVENTS
        )
        out.append(In(topic=topic, key=None, value=v, partition=partition, offset=i))
    return out


def feed(stage: TicketsStage, values: Iterable[Any], partition: int = 0) -> list[Out]:
    """Process values one record per batch (as a runner with tiny batches would)."""
    out: list[Out] = []
    for rec in records(values, partition):
        out.extend(stage.process([rec], T0))
    return out


def events_of(outs: Iterable[Out]) -> list[TicketEvent]:
    return [o.value for o in outs if o.topic.name == TICKET_EVENTS.name]


def states_of(outs: Iterable[Out]) -> dict[str, Any]:
    return {o.key.decode(): o.value for o in outs if o.topic.name == TICKET_STATE.name}


def view_of(outs: Sequence[Out]) -> TicketView:
    """The query view as the API builds it from what the stage wrote: state, then events."""
    view = TicketView()
    for key, ticket in states_of(outs).items():
        view.apply_state(key, ticket)
    for e in events_of(outs):
        view.apply_event(e)
    return view
