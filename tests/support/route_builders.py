"""Builders for route tests: ticket events, agents and a fake clock (UTC instants)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.classify_events import Classified
from schemas.directory import Agent, WorkingHours
from schemas.events import Actor, EventPayload, TicketEvent
from schemas.message import Address
from schemas.ticket_events import Created, MessageAdded, StatusChanged

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
CUSTOMER = Actor(kind="customer", id="cust")
SYSTEM = Actor(kind="system", id="tickets")
_seq = itertools.count()


def at(minutes: float = 0, start: datetime = T0) -> datetime:
    return start + timedelta(minutes=minutes)


def event(
    ticket: str, payload: EventPayload, when: datetime, actor: Actor = SYSTEM,
    event_id: str | None = None,
) -> TicketEvent:
    return TicketEvent(
        event_id=event_id or f"{ticket}-{payload.TAG}-{next(_seq)}",
        ticket_id=ticket, ticket_number=f"N{ticket}", at=when, actor=actor, payload=payload,
    )


def created(
    ticket: str, when: datetime = T0, channel: str = "email", priority: str = "normal",
    customer: str = "c1", language: str | None = None,
) -> TicketEvent:
    return event(ticket, Created(
        number=f"N{ticket}", subject="help", channel=channel,  # type: ignore[arg-type]
        mailbox="support@example.com", customer_id=customer,
        requester=Address(address=f"{customer}@example.org"), language=language,
        priority=priority,  # type: ignore[arg-type]
    ), when)


def classified(ticket: str, when: datetime = T0, **fields: Any) -> TicketEvent:
    return event(ticket, Classified(**fields), when, Actor(kind="rule", id="rules"))


def inbound(ticket: str, when: datetime) -> TicketEvent:
    return event(ticket, MessageAdded(
        message_id=f"m{next(_seq)}", direction="inbound", channel="email",
        author=Address(address="c1@example.org"), received_at=when,
    ), when, CUSTOMER)


def reply(ticket: str, when: datetime, agent: str = "a1") -> TicketEvent:
    return event(ticket, MessageAdded(
        message_id=f"m{next(_seq)}", direction="outbound", channel="email",
        author=Address(address=f"{agent}@support.example.com"), received_at=when, agent_id=agent,
    ), when, Actor(kind="agent", id=agent))


def status(
    ticket: str, old: str, new: str, when: datetime, agent: str | None = None
) -> TicketEvent:
    actor = Actor(kind="agent", id=agent) if agent else SYSTEM
    return event(ticket, StatusChanged(from_status=old, to_status=new), when, actor)  # type: ignore[arg-type]


def agent(
    agent_id: str, teams: tuple[str, ...] = ("support",), presence: str = "online",
    capacity: int | None = 2, **fields: Any,
) -> Agent:
    caps = {"*": capacity} if capacity is not None else {}
    fields.setdefault("email", f"{agent_id}@support.example.com")
    return Agent(agent_id=agent_id, teams=teams, presence=presence,  # type: ignore[arg-type]
                 capacity=caps, **fields)


def shift(tz: str = "UTC", hours: tuple[str, str] = ("09:00", "17:00")) -> WorkingHours:
    return WorkingHours(timezone=tz, days={d: hours for d in ("mon", "tue", "wed", "thu", "fri")})


def kinds(emitted: list[Any]) -> list[str]:
    return [e.kind if isinstance(e, TicketEvent) else f"notify:{e.kind}" for e in emitted]
