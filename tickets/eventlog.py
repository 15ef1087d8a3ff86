"""Building events for the log: deterministic id from (ticket, cause, kind), time and actor."""

from __future__ import annotations

from datetime import datetime

from schemas.events import SYSTEM, Actor, EventPayload, TicketEvent
from tickets import numbers


def make_event(
    ticket_id: str, number: str, cause: str, at: datetime, payload: EventPayload,
    actor: Actor = SYSTEM,
) -> TicketEvent:
    return TicketEvent(
        event_id=numbers.event_id(ticket_id, cause, payload.TAG), ticket_id=ticket_id,
        ticket_number=number, at=at, actor=actor, payload=payload, causation_id=cause,
    )
